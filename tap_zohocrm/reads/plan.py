"""The plan of one sync of a module, decided once before its first page from the state, the
settings, Zoho's record count and the clock: where the read starts, whether it re-reads the
module in full (a refresh of computed values, the deleted-records check), whether it is read
whole, whether it goes through Bulk Read, and where delete markers start.

Where a sync starts: Zoho's Modified_Time has whole seconds and If-Modified-Since returns the
records modified at or after it, so a record saved in the bookmark's second after the last sync
read that second carries the bookmark's time: a sync starts at the bookmark's second and reads
it again (the target upserts the repeats). Once a sync has read its module to the end at least
SETTLED_AFTER past the bookmark's second (Zoho's clock, BOOKMARK_READ_AT), that second held
nothing more: the next sync starts one second later, and an idle run gets an empty answer.

A full read: values Zoho changes without moving Modified_Time (formula and rollup summary fields,
the names inside lookup and owner objects) are read again once the last full read is older than
`computed_refresh_days`. The same full read finds the records deleted in Zoho that no deleted
listing shows: once `deleted_id_check_hours` have passed since the last check (IDS_CHECKED_AT),
every record of the read carries a new table version and ACTIVATE_VERSION follows the last one
(not with BATCH output, whose files carry no version). A refresh never moves the bookmark back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from tap_zohocrm.schema.values import instant
from tap_zohocrm.sync.state_checks import (
    BULK_EXPORT_KEY,
    DELETIONS_LISTED_AT,
    IDS_CHECKED_AT,
    LAST_FULL_READ_KEY,
)

# A save shows in Get Records well within this; past it a second is over for good.
SETTLED_AFTER = timedelta(minutes=1)
# Delete markers of a first sync start this much before its start (a clock behind Zoho's).
MARKER_CLOCK_MARGIN = timedelta(minutes=5)
# A deleted listing goes on from this much before the last one was answered.
LISTING_CLOCK_MARGIN = timedelta(minutes=5)
# Zoho's clock (a listing's time) ahead of the tap's by more than this: not a time to trust.
FUTURE_SKEW = timedelta(hours=1)


# The ways a module's records are read.
REST, COQL, BULK, AUTO = "rest", "coql", "bulk", "auto"
# Credits each path that can serve needs to read a number of records modified since a time.
PathCosts = Callable[[int, str | None], dict[str, int]]


@dataclass(frozen=True)
class FullRead:
    """This sync reads the module in full: its first sync, or a refresh of computed values."""

    at: str  # UTC, when the read began (kept as LAST_FULL_READ_KEY once it is done)
    refresh: bool
    bookmark: str | None = None  # the bookmark a refresh starts from (it never moves back)
    last: str | None = None  # the previous full read, if the state knows it
    # Ends in ACTIVATE_VERSION: the loader flags the rows this read did not emit.
    versioned: bool = False
    ids_check: bool = False  # due for the deleted-records check (deleted_id_check_hours)

    @cached_property
    def bookmark_instant(self) -> datetime | None:
        return instant(self.bookmark)


@dataclass(frozen=True)
class PlanInputs:
    """What the plan is made of, besides the state and the clock."""

    has_bookmark_key: bool  # the module has Modified_Time
    whole: bool  # FULL_TABLE: read whole every run, no bookmark
    versioned: bool  # full reads end in ACTIVATE_VERSION (deleted_id_check_hours on, RECORDs)
    has_computed: bool  # selected fields whose values change without Modified_Time
    bulk_possible: bool  # the module can be exported (Bulk Read)
    # Records above which a backfill goes through Bulk Read (None: where it costs less and
    # the export carries every selected property whole).
    bulk_threshold: int | None
    export_is_whole: bool  # an export carries every selected property as REST does
    ids_check_hours: float
    refresh_days: float
    start_date: str | None
    first_sync_markers: bool  # the module's deletions are listed (emit_deletes)
    coql_possible: bool = False  # COQL can read the module whole (API version, kind)
    forced_path: str = AUTO  # read_path: auto, or the path the user asks for



@dataclass(frozen=True)
class ReadPlan:
    """How this sync reads the module."""

    since: str | None  # If-Modified-Since of the REST read (None: from the start)
    full: FullRead | None
    whole: bool
    path: str  # REST, COQL or BULK (a Bulk Read backfill first; a refusal falls back to REST)
    resumes_export: bool  # the backfill goes on with an export an earlier run left
    markers_since: str | None  # delete markers from then on
    listed_at: str | None  # the last deleted listing's time, from the state
    read_at: datetime | None  # when the last sync read to the end (Zoho's clock)
    start_date: str | None
    priced: bool = False  # the paths were priced (a Record Count asked)

    @property
    def bulk(self) -> bool:
        return self.path == BULK

    @property
    def refresh(self) -> bool:
        """Whether this sync re-reads an already synced module in full."""
        return self.full is not None and self.full.refresh

    def rest_since(self, exported: str | None) -> str | None:
        """If-Modified-Since of the REST read after this sync's Bulk Read export to Parquet."""
        return start_since(exported, self.read_at, self.start_date) if exported else self.since

    def read_before(self, modified: str | None) -> bool:
        """Whether a refresh's record (its Modified_Time) is one an earlier run read. Asked of
        every record: parsed only during a refresh."""
        full = self.full
        if full is None or full.bookmark_instant is None:
            return False
        at = instant(modified)
        return at is None or at <= full.bookmark_instant


def make_plan(state: Mapping[str, Any], inputs: PlanInputs, *, read_at: datetime | None,
              now: datetime, count: Callable[[str | None], int],
              costs: PathCosts | None = None) -> ReadPlan:
    """The plan of a sync from its stream's state (BOOKMARK_READ_AT already taken out of it, as
    `read_at`); `count` asks Zoho's Record Count of the records modified since a time, only
    when a choice needs it; `costs` prices the paths for a number of records."""
    now = now.astimezone(UTC).replace(microsecond=0)
    bookmark = state.get("replication_key_value") if not inputs.whole else None
    full = full_read(state, inputs, now)
    refresh = full is not None and full.refresh
    since = None
    if inputs.has_bookmark_key:
        since = start_since(None if refresh else bookmark, read_at, inputs.start_date)
    listed_at = state.get(DELETIONS_LISTED_AT)
    markers_since = None
    if inputs.first_sync_markers:
        # A first sync emits no markers for records deleted before it began: it never emitted
        # them. Later syncs go on from the last listing, or from the bookmark.
        markers_since = ((now - MARKER_CLOCK_MARGIN).isoformat() if not bookmark
                         else listed_since(listed_at) or start_since(
                             full.bookmark if refresh and full else bookmark, read_at,
                             inputs.start_date))
    resumes = bool(not inputs.whole and state.get(BULK_EXPORT_KEY))
    forced = inputs.forced_path
    full_read_now = not bookmark or inputs.whole or refresh
    backfill = not bookmark or inputs.whole or (refresh and inputs.export_is_whole)
    # Credits of each path for this read, asked once (a Record Count); an incremental read,
    # and a module read whole every run, stay on REST: a count each run would cost more than
    # it saves (see docs/how-it-reads-zoho.md).
    priced = (costs(count(since), since) if forced == AUTO and full_read_now and costs is not None
              and inputs.has_bookmark_key and not inputs.whole else {})
    priced = {way: credits for way, credits in priced.items()
              if (way != COQL or inputs.coql_possible) and (way != BULK or inputs.bulk_possible)}
    bulk = inputs.has_bookmark_key and inputs.bulk_possible and forced != COQL and (
        resumes or (backfill and wants_bulk(inputs, priced, lambda: count(since))))
    coql = not bulk and inputs.coql_possible and inputs.has_bookmark_key and (
        forced == COQL or priced.get(COQL, 1 << 62) < priced.get(REST, 1 << 62))
    path = BULK if bulk else COQL if coql else REST
    return ReadPlan(since=since, full=full, whole=inputs.whole, path=path, resumes_export=resumes,
                    markers_since=markers_since, listed_at=listed_at, read_at=read_at,
                    start_date=inputs.start_date, priced=bool(priced))


def wants_bulk(inputs: PlanInputs, priced: Mapping[str, int],
               count: Callable[[], int]) -> bool:
    """Whether a backfill goes through Bulk Read: asked for, past the user's threshold, or
    (no threshold) the cheapest path when the export carries every selected property."""
    if inputs.forced_path == BULK:
        return True
    if inputs.bulk_threshold is not None:
        return count() > inputs.bulk_threshold
    cheapest = min((c for path, c in priced.items() if path != BULK), default=1 << 62)
    return inputs.export_is_whole and priced.get(BULK, 1 << 62) < cheapest


def full_read(state: Mapping[str, Any], inputs: PlanInputs, now: datetime) -> FullRead | None:
    """Whether this sync reads the module in full (None: an incremental read, or one read whole
    every run anyway)."""
    if not inputs.has_bookmark_key or inputs.whole:
        return None
    bookmark = state.get("replication_key_value")
    last = state.get(LAST_FULL_READ_KEY)
    export = state.get(BULK_EXPORT_KEY)
    if export:  # a Bulk Read export an earlier run left unfinished: it began then
        started = instant(export["started_at"]) or now  # checked with the input state
        return FullRead(started.astimezone(UTC).isoformat(), refresh=bool(bookmark),
                        bookmark=bookmark, last=last)
    if not bookmark:
        return FullRead(now.isoformat(), refresh=False)
    ids_check = inputs.versioned and older_than(
        state.get(IDS_CHECKED_AT), now, timedelta(hours=inputs.ids_check_hours))
    computed_due = inputs.refresh_days > 0 and inputs.has_computed and older_than(
        last, now, timedelta(days=inputs.refresh_days))
    if not (ids_check or computed_due):
        return None
    return FullRead(now.isoformat(), refresh=True, bookmark=bookmark, last=last,
                    versioned=inputs.versioned, ids_check=ids_check)


def start_since(bookmark: str | None, read_at: datetime | None,
                start_date: str | None) -> str | None:
    """If-Modified-Since from a bookmark: its second, or the next one once that second was over
    when the last sync read it; start_date if later."""
    candidates = []
    if bookmark and (start := instant(bookmark)):  # checked with the input state
        if read_at is not None and read_at - start.replace(microsecond=0) >= SETTLED_AFTER:
            start = start.replace(microsecond=0) + timedelta(seconds=1)
        candidates.append(start)
    if start_date and (first := instant(start_date)):
        candidates.append(first)
    if not candidates:
        return None
    return max(candidates).replace(microsecond=0).isoformat()


def older_than(when: str | None, now: datetime, age: timedelta) -> bool:
    """Whether `when` (a state's time) is at least `age` before `now`; no time, or one later
    than any clock skew explains (a state edited by hand): yes."""
    last = instant(when)
    return last is None or now - last >= age or last - now > FUTURE_SKEW


def listed_since(listed_at: str | None) -> str | None:
    """Where a listing goes on from after the last one, which began at `listed_at`: deletions
    saved around that instant are listed again."""
    last = instant(listed_at)
    return (last - LISTING_CLOCK_MARGIN).isoformat() if last else None
