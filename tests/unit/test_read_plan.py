"""The plan of a module's sync (reads.plan), decided from its state, settings, count and clock,
without a simulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tap_zohocrm.reads.plan import (
    MARKER_CLOCK_MARGIN,
    SETTLED_AFTER,
    PlanInputs,
    ReadPlan,
    full_read,
    listed_since,
    make_plan,
    older_than,
    start_since,
)
from tap_zohocrm.sync.state_checks import (
    BULK_EXPORT_KEY,
    DELETIONS_LISTED_AT,
    IDS_CHECKED_AT,
    LAST_FULL_READ_KEY,
)

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
BOOKMARK = "2026-12-06T10:00:00+00:00"
INPUTS = PlanInputs(
    has_bookmark_key=True, whole=False, versioned=True, has_computed=True, bulk_possible=True,
    bulk_threshold=1000, export_is_whole=False, ids_check_hours=24.0, refresh_days=7.0,
    start_date=None, first_sync_markers=False)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


def plan(state: dict, inputs: PlanInputs = INPUTS, *, count: int = 10,
         read_at: datetime | None = None) -> tuple[ReadPlan, list[str | None]]:
    asked: list[str | None] = []

    def counted(since: str | None) -> int:
        asked.append(since)
        return count

    return make_plan(state, inputs, read_at=read_at, now=NOW, count=counted), asked


def test_a_first_sync_reads_in_full_from_the_start_and_asks_the_count_for_bulk_read() -> None:
    first, asked = plan({}, count=5000)
    assert first.full is not None and not first.full.refresh
    assert first.full.at == NOW.isoformat()
    assert first.since is None and first.bulk and asked == [None]


def test_a_small_first_sync_stays_on_rest() -> None:
    assert not plan({}, count=1000)[0].bulk  # not more than the threshold


def test_an_incremental_sync_starts_at_its_bookmark_and_asks_no_count() -> None:
    state = {"replication_key_value": BOOKMARK, LAST_FULL_READ_KEY: ago(days=1),
             IDS_CHECKED_AT: ago(hours=1)}
    incremental, asked = plan(state, count=10**6)
    assert incremental.full is None and not incremental.refresh and not incremental.bulk
    assert incremental.since == BOOKMARK and asked == []


@pytest.mark.parametrize(("last_full", "ids_checked", "refresh", "ids_check"), [
    ({"days": 8}, {"hours": 1}, True, False),  # computed values due
    ({"days": 1}, {"hours": 25}, True, True),  # the deleted-records check due
    ({"days": 8}, {"hours": 25}, True, True),
    ({"days": 1}, {"hours": 1}, False, False),
])
def test_a_refresh_is_due_by_its_interval(last_full: dict, ids_checked: dict, refresh: bool,
                                          ids_check: bool) -> None:
    state = {"replication_key_value": BOOKMARK, LAST_FULL_READ_KEY: ago(**last_full),
             IDS_CHECKED_AT: ago(**ids_checked)}
    due, _ = plan(state)
    assert due.refresh is refresh
    assert bool(due.full and due.full.ids_check) is ids_check
    if refresh:  # from the start, keeping the bookmark it never moves back past
        assert due.since is None and due.full is not None and due.full.bookmark == BOOKMARK


def test_a_refresh_keeps_records_read_before_from_moving_the_bookmark() -> None:
    state = {"replication_key_value": BOOKMARK, LAST_FULL_READ_KEY: ago(days=8)}
    refresh = plan(state)[0]
    assert refresh.read_before(BOOKMARK) and refresh.read_before(None)
    assert refresh.read_before("2026-12-06T11:00:00+01:00")  # the same instant
    assert not refresh.read_before("2026-12-06T10:00:01Z")


def test_a_module_without_computed_fields_or_check_is_not_refreshed() -> None:
    inputs = replace(INPUTS, has_computed=False, versioned=False)
    state = {"replication_key_value": BOOKMARK, LAST_FULL_READ_KEY: ago(days=80)}
    assert plan(state, inputs)[0].full is None


def test_a_module_read_whole_has_no_bookmark_and_no_full_read_step() -> None:
    whole, _ = plan({"replication_key_value": BOOKMARK}, replace(INPUTS, whole=True), count=5)
    assert whole.whole and whole.full is None and whole.since is None and not whole.bulk


def test_an_unfinished_export_is_resumed_whatever_the_count() -> None:
    export = {"started_at": "2026-12-07T09:00:00+00:00", "page": 2}
    resumed, asked = plan({BULK_EXPORT_KEY: export}, count=1)
    assert resumed.bulk and resumed.resumes_export and asked == []
    assert resumed.full is not None and resumed.full.at == export["started_at"]


def test_a_refresh_goes_through_bulk_read_only_when_an_export_is_whole() -> None:
    state = {"replication_key_value": BOOKMARK, LAST_FULL_READ_KEY: ago(days=8)}
    assert not plan(state, count=10**6)[0].bulk
    assert plan(state, replace(INPUTS, export_is_whole=True), count=10**6)[0].bulk


def test_delete_markers_of_a_first_sync_start_at_its_start_and_later_ones_at_the_listing() -> None:
    inputs = replace(INPUTS, first_sync_markers=True)
    assert plan({}, inputs)[0].markers_since == (NOW - MARKER_CLOCK_MARGIN).isoformat()
    listed = "2026-12-07T08:00:00+00:00"
    later = plan({"replication_key_value": BOOKMARK, DELETIONS_LISTED_AT: listed,
                  LAST_FULL_READ_KEY: ago(days=1), IDS_CHECKED_AT: ago(hours=1)}, inputs)[0]
    assert later.markers_since == listed_since(listed) == "2026-12-07T07:55:00+00:00"
    assert later.listed_at == listed


def test_a_settled_second_is_not_read_again() -> None:
    start = datetime.fromisoformat(BOOKMARK)
    assert start_since(BOOKMARK, None, None) == BOOKMARK
    assert start_since(BOOKMARK, start + SETTLED_AFTER - timedelta(seconds=1), None) == BOOKMARK
    assert start_since(BOOKMARK, start + SETTLED_AFTER, None) == "2026-12-06T10:00:01+00:00"


def test_start_date_wins_when_later() -> None:
    assert start_since(BOOKMARK, None, "2026-12-06T11:00:00Z") == "2026-12-06T11:00:00+00:00"
    assert start_since(None, None, "2026-01-01T00:00:00Z") == "2026-01-01T00:00:00+00:00"
    assert start_since(None, None, None) is None


@pytest.mark.parametrize(("when", "older"), [
    (None, True), ("2026-12-06T11:00:00+00:00", True), ("2026-12-07T11:30:00+00:00", False),
    ("2026-12-07T14:00:00+00:00", True),  # later than any clock skew explains
])
def test_older_than(when: str | None, older: bool) -> None:
    assert older_than(when, NOW, timedelta(hours=1)) is older


def test_full_read_needs_a_replication_key() -> None:
    assert full_read({}, replace(INPUTS, has_bookmark_key=False), NOW) is None
