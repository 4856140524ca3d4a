"""Get Records pages beside a COQL read (reads.rest_fields): rows matched by id and
Modified_Time take the REST-only values; anything else is left for an `ids=` read."""

from __future__ import annotations

import threading
from typing import Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.reads.rest_fields import RestFields
from tap_zohocrm.schema.values import instant


class Pages:
    """Get Records as reads.rest_pages.RestPages asks it: positional pages of the records
    modified at or after If-Modified-Since, in Modified_Time order."""

    per_page = 2

    def __init__(self, records: list[dict[str, Any]], fail_at: int | None = None,
                 gone: str | None = None) -> None:
        self.records = records
        self.fail_at = fail_at  # the call that fails (1 = the first)
        self.gone = gone  # a field Zoho no longer knows
        self.asked: list[tuple[str | None, int]] = []
        self.fields: list[str] = ["Photo"]
        self.lock = threading.Lock()

    def page(self, page: RecordsPage) -> tuple[list[dict[str, Any]], bool]:
        with self.lock:
            self.asked.append((page.modified_since, page.page))
            if self.fail_at is not None and len(self.asked) >= self.fail_at:
                raise RuntimeError("page failed")
        if self.gone in self.fields:
            raise ZohoAPIError("invalid data", "INVALID_DATA", {"api_name": self.gone}, 400)
        since = instant(page.modified_since)
        listed = sorted((r for r in self.records if since is None or
                         instant(r["Modified_Time"]) >= since), key=lambda r: r["Modified_Time"])
        start = (page.page - 1) * self.per_page
        return listed[start:start + self.per_page], len(listed) > start + self.per_page


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}+00:00"


def rest(record_id: str, second: int, photo: str) -> dict[str, Any]:
    return {"id": record_id, "Modified_Time": at(second), "Photo": photo, "$approved": True}


def row(record_id: str, second: int) -> dict[str, Any]:
    return {"id": record_id, "Modified_Time": at(second), "Last_Name": record_id}


def beside(pages: Pages) -> RestFields:
    def drop_gone(exc: ZohoAPIError) -> bool:
        return exc.details.get("api_name") == pages.gone

    return RestFields(pages, since=at(0), fields=pages.fields,  # type: ignore[arg-type]
                      copy=["Photo", "$approved"], drop_gone=drop_gone)


def test_rows_take_the_rest_values_of_the_same_version() -> None:
    pages = Pages([rest("1", 1, "a"), rest("2", 2, "b"), rest("3", 3, "c")])
    fields = beside(pages)
    rows = [row("1", 1), row("2", 2), row("3", 3)]
    try:
        assert fields.match(rows) == {"1", "2", "3"}
    finally:
        fields.close()
    assert [r["Photo"] for r in rows] == ["a", "b", "c"]
    assert all(r["$approved"] is True and r["Last_Name"] == r["id"] for r in rows)
    # One window from the first row's second: the pages its rows need, asked at once.
    assert pages.asked == [(at(1), 1), (at(1), 2)]


def test_a_record_edited_between_the_two_reads_is_left_for_ids() -> None:
    # REST lists record 2 after an edit (second 5); COQL had it at second 2.
    fields = beside(Pages([rest("1", 1, "a"), rest("3", 3, "c"), rest("2", 5, "new")]))
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
    pages = Pages([rest("1", 1, "a"), rest("7", 4, "g"), rest("5", 4, "e"), rest("6", 4, "f"),
                   rest("9", 6, "i")])
    fields = beside(pages)
    first, second = [row("1", 1), row("5", 4)], [row("6", 4), row("7", 4), row("9", 6)]
    try:
        assert fields.match(first) == {"1", "5"}
        assert fields.match(second) == {"6", "7", "9"}
    finally:
        fields.close()
    assert [r["Photo"] for r in second] == ["f", "g", "i"]


def test_windows_go_on_until_past_the_last_row() -> None:
    # Records COQL does not give (hidden ones) make the rows' window too short: a second
    # window goes on from the last second read.
    records = [rest(str(n), n, f"p{n}") for n in range(1, 9)]
    pages = Pages(records)
    fields = beside(pages)
    rows = [row("1", 1), row("8", 8)]
    try:
        assert fields.match(rows) == {"1", "8"}
    finally:
        fields.close()
    assert pages.asked[:2] == [(at(1), 1), (at(1), 2)]
    assert len({since for since, _ in pages.asked}) > 1


def test_a_second_fuller_than_a_window_does_not_stop_the_read() -> None:
    # 1,000 pages of 2 records reach 2,000: one second holds more, the window gets no
    # further; the read goes on from the next second (that second's rows: ids=).
    crowded = [rest(f"c{n}", 3, "x") for n in range(2100)]
    pages = Pages([*crowded, rest("9", 9, "late")])
    fields = beside(pages)
    try:
        matched = fields.match([row("c2099", 3), row("9", 9)])
    finally:
        fields.close()
    assert "9" in matched


def test_rows_past_the_end_of_the_rest_pages_are_left_for_ids() -> None:
    fields = beside(Pages([rest("1", 1, "a")]))
    rows = [row("1", 1), row("2", 2)]
    try:
        assert fields.match(rows) == {"1"}
        assert fields.match([]) == set()
    finally:
        fields.close()


def test_a_failed_page_keeps_the_rows_matched_before_it() -> None:
    pages = Pages([rest(str(n), n, "p") for n in range(1, 7)], fail_at=3)
    fields = beside(pages)
    try:
        assert fields.match([row("1", 1), row("2", 2)]) == {"1", "2"}  # calls 1 and 2
        assert fields.failed is None
        # Records 3 and 4 were read with the first window; the next one fails.
        assert fields.match([row("4", 4), row("5", 5), row("6", 6)]) == {"4"}
        assert isinstance(fields.failed, RuntimeError)
    finally:
        fields.close()


def test_a_field_removed_in_zoho_is_dropped_and_the_read_goes_on() -> None:
    pages = Pages([rest("1", 1, "a")], gone="Photo")
    fields = beside(pages)
    try:
        assert fields.match([row("1", 1)]) == {"1"}
    finally:
        fields.close()
    assert fields.failed is None and pages.fields == []
