"""Values Zoho changes without moving Modified_Time: formula and rollup summary fields (recomputed
on save, by Zoho's scheduled refresh of date formulas, when child records change) and the names
inside lookup and owner objects (a renamed account or user). An incremental read never sees
those changes, so a module stream that holds such values is read in full again once its last
full read is older than `computed_refresh_days`.

The refresh reads whole records, as a first sync does (every selected field group merged). The
bookmark never moves back, and the time of the last full read is kept in the stream's state
(LAST_FULL_READ_KEY); a state without it (from before the key) makes the refresh due at once.

The same full read finds the records deleted in Zoho that no deleted listing shows (Notes, whose
deletions `/deleted` does not list; records deleted for good before a listing, or older than
what Zoho keeps): once `deleted_id_check_hours` have passed since the last such check
(IDS_CHECKED_AT), a module with a bookmark is read in full, every record of the read carries
a new table version, and ACTIVATE_VERSION follows the last one. The loader flags (or removes)
the rows of older versions: what Zoho no longer has. Only a read that reached the end of the
module in this run activates its version (not one that resumed an export a failed run left,
nor one cut short by a paging limit), and not with BATCH output, whose files carry no version.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_zohocrm.schema.fields import is_computed, is_lookup
from tap_zohocrm.schema.values import instant
from tap_zohocrm.streams.module_rules import REPLICATION_KEY
from tap_zohocrm.streams.recycle_bin import FUTURE_SKEW
from tap_zohocrm.sync.state_checks import BULK_EXPORT_KEY, IDS_CHECKED_AT, LAST_FULL_READ_KEY

if TYPE_CHECKING:
    from singer_sdk.helpers._catalog import SelectionMask
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run_report import StreamReport


@dataclass(frozen=True)
class FullRead:
    """This run reads the module in full: its first sync, or a refresh of computed values."""

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


class ComputedRefresh:
    """The computed-values refresh of a module stream (mixed into ModuleStream, first)."""

    api_name: str
    config: Any
    schema: dict[str, Any]
    mask: SelectionMask
    replication_key: str | None
    stream_state: dict[str, Any]
    logger: logging.Logger
    _report: StreamReport
    _stream_version: int | None
    _read_to_end_at: datetime | None

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        _writes_batches: bool
        reads_whole: bool

        def _write_activate_version_message(self, full_table_version: int) -> None: ...

        def _export_progress(self, change: Any, *, out: bool) -> None: ...

    def computed_fields(self) -> list[str]:
        """Selected properties whose values Zoho changes without moving Modified_Time."""
        return [name for name, prop in self.schema["properties"].items()
                if name[0] not in "$_" and self.mask.get(("properties", name), True)
                and (is_computed(prop) or is_lookup(prop))]

    @cached_property
    def full_read(self) -> FullRead | None:
        """Whether this run reads the module in full, decided once, before any page is read
        (the state changes as the read goes on)."""
        if not self.replication_key or self.reads_whole:
            return None  # no bookmark: read in full every run anyway
        state = self.stream_state
        now = datetime.now(UTC).replace(microsecond=0)
        bookmark = state.get("replication_key_value")
        last = state.get(LAST_FULL_READ_KEY)
        export = state.get(BULK_EXPORT_KEY)
        if export:  # a Bulk Read export that an earlier run left unfinished: it began then
            started = instant(export["started_at"]) or now  # checked with the input state
            return FullRead(started.astimezone(UTC).isoformat(),
                            refresh=bool(bookmark), bookmark=bookmark, last=last)
        if not bookmark:
            return FullRead(now.isoformat(), refresh=False)
        ids_check = self.checks_ids and _older_than(
            state.get(IDS_CHECKED_AT), now, timedelta(hours=float(
                self.config["deleted_id_check_hours"])))
        days = float(self.config["computed_refresh_days"])
        computed_due = days > 0 and bool(self.computed_fields()) and _older_than(
            last, now, timedelta(days=days))
        if not (ids_check or computed_due):
            return None
        return FullRead(now.isoformat(), refresh=True, bookmark=bookmark, last=last,
                        versioned=self.checks_ids, ids_check=ids_check)

    @property
    def checks_ids(self) -> bool:
        """Whether this stream's full reads end in ACTIVATE_VERSION: deleted_id_check_hours
        on, and RECORD output (a BATCH file's rows carry no version)."""
        return float(self.config["deleted_id_check_hours"]) > 0 and not self._writes_batches

    def start_version(self) -> None:
        """Before the first record: this run's records carry a new table version when its
        full read ends in ACTIVATE_VERSION.

        A first sync keeps its start as its full read at once: a run that stops part way (a
        signal, the day's credits) leaves a bookmark, and the next run goes on from it. That
        finishes the same full read, so it must not count as one that never happened and
        start over (a module too large for one run would never finish)."""
        full = self.full_read
        if full is not None and full.versioned:
            self._stream_version = int(time.time())
        if full is not None and not full.refresh and not self.stream_state.get(
                BULK_EXPORT_KEY):
            # A first sync gives the loader every record: a deleted-records check as well.
            keys = {LAST_FULL_READ_KEY: full.at, IDS_CHECKED_AT: full.at}
            self._export_progress(lambda state: state.update(keys), out=False)

    def _activate_version(self) -> bool:
        """Every record read is out: ACTIVATE_VERSION when the read reached the module's end in
        this run. Returns whether the check was done (a read stopped by Zoho's paging limit
        would stop there again: it waits for the next interval too)."""
        full = self.full_read
        if full is None or not full.versioned or self._stream_version is None:
            return False
        if self._read_to_end_at is None:
            self.logger.warning(
                "%s: the full read stopped before the end of the module: no ACTIVATE_VERSION, "
                "so records deleted in Zoho that no listing shows stay in the warehouse",
                self.api_name)
            return True
        self._write_activate_version_message(self._stream_version)
        return True

    @property
    def refreshing(self) -> bool:
        """Whether this run re-reads the module in full for its computed values."""
        return self.full_read is not None and self.full_read.refresh

    def _announce_refresh(self) -> None:
        full = self.full_read
        if full is None or not full.refresh:
            return
        self._report.refresh = True
        if full.ids_check:
            self.logger.info(
                "%s: reading every record again, then ACTIVATE_VERSION: the loader flags the "
                "rows Zoho no longer has (deleted_id_check_hours: %s)", self.api_name,
                self.config["deleted_id_check_hours"])
            return
        self.logger.info(
            "%s: reading every record again: formula, rollup summary and lookup values change "
            "in Zoho without Modified_Time (last read in full: %s; computed_refresh_days: %s)",
            self.api_name, full.last or "unknown, the state predates the key",
            self.config["computed_refresh_days"])

    def _record_full_read(self) -> None:
        """The module's records are all out: keep when this read began."""
        full = self.full_read
        if full is None:
            return
        keys = {LAST_FULL_READ_KEY: full.at}
        # A first sync gave the loader every record; a versioned read flagged the others.
        if self._activate_version() or not full.refresh:
            keys[IDS_CHECKED_AT] = full.at
        self._export_progress(lambda state: state.update(keys), out=not self._writes_batches)

    def read_before(self, record: dict[str, Any]) -> bool:
        """Whether a refresh's record is one an earlier run read (not past the bookmark)."""
        full = self.full_read
        if full is None or full.bookmark_instant is None:
            return False
        modified = instant(record.get(REPLICATION_KEY))
        return modified is None or modified <= full.bookmark_instant

    @override
    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        # A refresh reads records from the oldest on: the bookmark stays where it was until
        # the read passes it, so a run cut off mid-refresh loses nothing it had.
        if self.read_before(latest_record):
            return
        super()._increment_stream_state(latest_record, context=context)  # type: ignore[misc]


def _older_than(when: str | None, now: datetime, age: timedelta) -> bool:
    """Whether `when` (a state's time) is at least `age` before `now`; no time, or one later
    than any clock skew explains (a state edited by hand): yes."""
    last = instant(when)
    return last is None or now - last >= age or last - now > FUTURE_SKEW
