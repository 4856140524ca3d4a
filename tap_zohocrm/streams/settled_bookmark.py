"""Where a module's sync starts: its bookmark's second, read again unless it was over.

Zoho's Modified_Time has whole seconds and If-Modified-Since returns the records modified at or
after it. A record saved in the bookmark's second after the last sync read that second carries
the bookmark's time, so a sync starts at the bookmark's second and reads it again (the repeats
are emitted again: the target upserts them).

Once a sync has read its module to the end at least SETTLED_AFTER past the bookmark's second
(Zoho's clock: the Date of its last answer, kept in the stream's state), that second held
nothing more to read: the next sync starts one second later. An idle scheduled run then gets an
empty answer: it emits nothing again and makes no field-group or rich-text calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tap_zohocrm.responses import answered_at
from tap_zohocrm.schema.values import instant
from tap_zohocrm.sync.state_checks import BOOKMARK_READ_AT

if TYPE_CHECKING:
    import requests

    from tap_zohocrm.streams.computed_refresh import FullRead
    from tap_zohocrm.sync.run import ZohoRun

# A save shows in Get Records well within this; past it a second is over for good.
SETTLED_AFTER = timedelta(minutes=1)


class SettledBookmark:
    """Mixin of the module stream: the If-Modified-Since its sync starts from."""

    config: Mapping[str, Any]
    replication_key: str | None
    run: ZohoRun
    # Taken from the state once per sync: this sync's own full read writes it again, and a
    # sync cut short leaves none.
    _read_at: tuple[datetime | None] | None = None
    _read_to_end_at: datetime | None = None  # Zoho's Date of the last page of a full read

    if TYPE_CHECKING:
        @property
        def stream_state(self) -> dict: ...
        @property
        def refreshing(self) -> bool: ...
        @property
        def reads_whole(self) -> bool: ...
        @property
        def full_read(self) -> FullRead | None: ...
        exported_since: str | None

    def starting_since(self, *, incremental: bool = False) -> str | None:
        """If-Modified-Since of the first query: the bookmark (one second on if its second was
        over when the last sync read it), or start_date, the later one. A refresh of computed
        values reads from start_date, as a first sync does (unless `incremental`: the delete
        markers of a refresh go on from the bookmark). A stream read whole has no bookmark (one
        in the state is from an incremental read before). After this run's Bulk Read to
        Parquet, REST goes on from the export's start.

        Computed from the state directly (not the SDK's starting value, which is written only
        when this stream's sync begins) because the read may start ahead of that, and again
        after a Bulk Read export has moved the bookmark.
        """
        if not self.replication_key:
            return None
        state = self.stream_state
        if self._read_at is None:
            with self.run.state_lock:
                self._read_at = (instant(state.pop(BOOKMARK_READ_AT, None)),)
        read_at = self._read_at[0]
        candidates = []
        bookmark: str | None
        if self.reads_whole:
            bookmark = self.exported_since
        elif incremental:  # where the last run ended, even if an export has moved it since
            bookmark = (self.full_read.bookmark if self.refreshing and self.full_read
                        else state.get("replication_key_value"))
        elif self.exported_since:  # this run's export to Parquet: REST goes on from its start
            bookmark = self.exported_since
        else:
            bookmark = None if self.refreshing else state.get("replication_key_value")
        if bookmark and (start := instant(bookmark)):  # checked with the input state
            if read_at is not None and read_at - start.replace(microsecond=0) >= SETTLED_AFTER:
                start = start.replace(microsecond=0) + timedelta(seconds=1)
            candidates.append(start)
        if self.config.get("start_date") and (start_date := instant(self.config["start_date"])):
            candidates.append(start_date)
        if not candidates:
            return None
        return max(candidates).replace(microsecond=0).isoformat()

    def _read_to_end(self, response: requests.Response) -> None:
        """The page chain ended with this answer: nothing more to read up to its Date."""
        self._read_to_end_at = answered_at(response)

    def _keep_read_time(self) -> None:
        """Every record read is emitted: keep when the read ended, for the next sync."""
        if self._read_to_end_at is not None and self.replication_key and not self.reads_whole:
            with self.run.state_lock:
                self.stream_state[BOOKMARK_READ_AT] = self._read_to_end_at.isoformat()

