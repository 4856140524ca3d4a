"""Org metadata streams (users, org, roles, profiles, modules, fields) read at most once per
`metadata_refresh_hours`.

Zoho documents no way to ask whether these lists changed, so the only check is to read them,
and an hourly schedule would read them 24 times a day though they seldom change. A stream is
read again once its last read is older than the setting. That read's time is kept in the
stream's state (LAST_FULL_READ_KEY, UTC, when the read began) once the read went to its end: a
read cut off leaves the time before it, so the next run reads again.

A stream that is not due writes no message (no SCHEMA, RECORD or ACTIVATE_VERSION) and makes
no call; its state stays as its last read left it, and the tap's STATE messages carry it on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_zohocrm.schema.values import instant
from tap_zohocrm.sync.run_report import READ_TO_END
from tap_zohocrm.sync.state_checks import LAST_FULL_READ_KEY

if TYPE_CHECKING:
    import logging

    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.sync.run_report import StreamReport

NOT_DUE = "not due"  # the run report's status of a metadata stream this run did not read
SETTING = "metadata_refresh_hours"


class MetadataRefresh:
    """When a metadata stream is read (mixed into SettingsStream, before ZohoStream)."""

    name: str
    config: Any
    logger: logging.Logger
    run: ZohoRun
    state_manager: Any
    stream_state: dict[str, Any]
    _report: StreamReport

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        def _write_state_message(self) -> None: ...

    def next_read(self, now: datetime) -> datetime | None:
        """When this stream is read again; None when it is due at `now`: never read (no key),
        its last read an interval ago or more, the setting 0, or a last read later than `now`
        (a clock set back, a state edited by hand: not a time to wait on)."""
        hours = float(self.config[SETTING])
        with self.run.state_lock:
            last = instant(self.stream_state.get(LAST_FULL_READ_KEY))
        if hours <= 0 or last is None:
            return None
        due = last + timedelta(hours=hours)
        return due if last <= now < due else None

    @override
    def sync(self, context: Context | None = None) -> None:
        began = datetime.now(UTC).replace(microsecond=0)
        next_read = self.next_read(began)
        if next_read is not None:
            self._pass_over(next_read)
            return
        super().sync(context)  # type: ignore[misc]  # ZohoStream.sync, after this mixin
        # ZohoStream.sync also returns when it stopped cleanly mid-read (a credit budget): the
        # time is kept for a read that went to its end only.
        if self._report.status == READ_TO_END:
            self._keep_read_time(began)

    def _pass_over(self, next_read: datetime) -> None:
        """Not due: no message, no call; the run report and the log say so."""
        report = self.run.report
        report.start(self.name, None)
        with self.run.state_lock:
            last = self.stream_state.get(LAST_FULL_READ_KEY)
        self._report.reason = (f"last read at {last}, read again from {next_read.isoformat()} "
                               f"on ({SETTING}: {self.config[SETTING]})")
        report.finish(self.name, NOT_DUE)
        self.logger.info("Stream %s not read this run: %s; 0 reads it every run", self.name,
                         self._report.reason)

    def _keep_read_time(self, began: datetime) -> None:
        """Every record is out: keep when this read began, in a STATE now."""
        with self.run.state_lock:
            self.stream_state[LAST_FULL_READ_KEY] = began.isoformat()
            self.state_manager.is_flushed = False
        self._write_state_message()
