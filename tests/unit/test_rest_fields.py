"""Get Records pages beside a COQL read (reads.rest_fields): rows matched by id and
Modified_Time take the REST-only values; anything else is left for an `ids=` read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.reads.rest_fields import RestFields


class Pages:
    """A page chain as reads.rest_pages.RestPages gives it."""

    def __init__(self, pages: list[list[dict[str, Any]]], fail: Exception | None = None) -> None:
        self.pages_given = pages
        self.fail = fail
        self.since: str | None = None

    def pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]:
        self.since = start.modified_since
        yield from self.pages_given
        if self.fail is not None:
            raise self.fail


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}+00:00"


def rest(record_id: str, second: int, photo: str) -> dict[str, Any]:
    return {"id": record_id, "Modified_Time": at(second), "Photo": photo,
            "$approved": True}


def row(record_id: str, second: int) -> dict[str, Any]:
    return {"id": record_id, "Modified_Time": at(second), "Last_Name": record_id}


def beside(pages: Pages) -> RestFields:
    return RestFields(pages, since=at(0), fields=["Photo"],  # type: ignore[arg-type]
                      copy=["Photo", "$approved"], drop_gone=lambda exc: False)


def test_rows_take_the_rest_values_of_the_same_version() -> None:
    pages = Pages([[rest("1", 1, "a"), rest("2", 2, "b")], [rest("3", 3, "c")]])
    fields = beside(pages)
    rows = [row("1", 1), row("2", 2), row("3", 3)]
    try:
        assert fields.match(rows) == {"1", "2", "3"}
    finally:
        fields.close()
    assert [r["Photo"] for r in rows] == ["a", "b", "c"]
    assert all(r["$approved"] is True and r["Last_Name"] == r["id"] for r in rows)
    assert pages.since == at(0)


def test_a_record_edited_between_the_two_reads_is_left_for_ids() -> None:
    # REST read record 2 after an edit (second 5); COQL had it at second 2.
    fields = beside(Pages([[rest("1", 1, "a"), rest("3", 3, "c"), rest("2", 5, "new")]]))
    rows = [row("1", 1), row("2", 2), row("3", 3)]
    try:
        assert fields.match(rows) == {"1", "3"}
        later = [row("2", 5)]  # COQL meets the edited record again, later
        assert fields.match(later) == {"2"}
    finally:
        fields.close()
    assert "Photo" not in rows[1]
    assert later[0]["Photo"] == "new"


def test_rows_tied_on_a_second_across_coql_pages_are_matched() -> None:
    # Get Records orders a second's records its own way; COQL by id.
    fields = beside(Pages([[rest("1", 1, "a"), rest("7", 4, "g"), rest("5", 4, "e")],
                           [rest("6", 4, "f"), rest("9", 6, "i")]]))
    first, second = [row("1", 1), row("5", 4)], [row("6", 4), row("7", 4), row("9", 6)]
    try:
        assert fields.match(first) == {"1", "5"}
        assert fields.match(second) == {"6", "7", "9"}
    finally:
        fields.close()
    assert [r["Photo"] for r in second] == ["f", "g", "i"]


def test_an_older_version_is_never_used_once_coql_is_past_it() -> None:
    # Record 4 was listed by REST at second 2, then edited; COQL's row at second 8 must not
    # take the second-2 values, and REST's pages end before the new version.
    fields = beside(Pages([[rest("4", 2, "old"), rest("1", 3, "a")]]))
    try:
        assert fields.match([row("1", 3)]) == {"1"}
        assert fields.match([row("4", 8)]) == set()
    finally:
        fields.close()


def test_rows_past_the_end_of_the_rest_pages_are_left_for_ids() -> None:
    fields = beside(Pages([[rest("1", 1, "a")]]))
    rows = [row("1", 1), row("2", 2)]
    try:
        assert fields.match(rows) == {"1"}
        assert fields.match([]) == set()
    finally:
        fields.close()


def test_a_failed_page_keeps_the_rows_matched_before_it() -> None:
    fields = beside(Pages([[rest("1", 1, "a")], [rest("2", 2, "b")]],
                          fail=RuntimeError("page 3 failed")))
    try:
        assert fields.match([row("1", 1)]) == {"1"} and fields.failed is None
        # Rows the pages read before failing are still filled; the caller raises after them.
        assert fields.match([row("2", 2), row("3", 3)]) == {"2"}
        assert isinstance(fields.failed, RuntimeError)
        assert str(fields.failed) == "page 3 failed"
    finally:
        fields.close()


def test_close_stops_a_read_ahead_that_is_waiting() -> None:
    endless = Pages([[rest(str(i), 1, "x")] for i in range(100)])
    fields = beside(endless)
    fields.close()
    assert not fields._thread.is_alive()
