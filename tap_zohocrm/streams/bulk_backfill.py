"""A module's Bulk Read backfill, seen from its stream: when to use it, feeding its rows to the
sync, and the export's position in the stream's state (so a cut-off run resumes it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from functools import cached_property
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from typing_extensions import override

from tap_zohocrm.bulk_read.jobs import BulkRead, BulkReadRefused, PageDone
from tap_zohocrm.schema.fields import is_upload
from tap_zohocrm.schema.property_kinds import property_kind
from tap_zohocrm.schema.values import utc_or_none
from tap_zohocrm.streams.module_rules import REPLICATION_KEY, bulk_readable
from tap_zohocrm.sync.state_checks import BULK_EXPORT_KEY

if TYPE_CHECKING:
    from singer_sdk.helpers._catalog import SelectionMask
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.read_ahead import PageFeed
    from tap_zohocrm.sync.run import ZohoRun


class BulkRows(list):  # type: ignore[type-arg]
    """A batch of Bulk Read export rows. They come in id order, not Modified_Time order, so
    they never move the bookmark: a STATE written mid-export (after a BATCH file, or when the
    run fails) would otherwise resume REST past rows the export had not reached yet."""


class BulkDone:
    """Queued after the last export rows: the bookmark becomes where REST goes on, and the
    saved export position (BULK_EXPORT_KEY) is dropped."""

    def __init__(self, since: str | None) -> None:
        self.since = since


class BulkBackfill:
    """The Bulk Read part of a module stream (mixed into ModuleStream, before ZohoStream)."""

    api_name: str
    generated_type: str | None
    replication_key: str | None
    config: Any
    logger: logging.Logger
    run: ZohoRun
    stream_state: dict[str, Any]
    state_manager: Any
    _bulk_rows: bool
    _expected: int | None
    reads_whole: bool  # FULL_TABLE: no bookmark, and an export is never resumed
    # Where REST goes on after this run's export to Parquet (a stream read whole keeps no
    # bookmark, a refresh ignores its own); None before or without one.
    exported_since: str | None = None

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        schema: dict[str, Any]
        mask: SelectionMask
        refreshing: bool

        _bulk_refused: bool

        def field_groups(self) -> list[list[str]]: ...
        def expected_records(self) -> int: ...
        def _new_bulk_read(self, resume: dict[str, Any] | None) -> BulkRead: ...
        def _hidden_records(self, bulk: BulkRead) -> Iterator[list[dict[str, Any]]]: ...
        def _refuse_bulk_read(self, exc: BulkReadRefused) -> None: ...
        def _complete_page(self, records: list[dict[str, Any]], promised: int) -> list[dict]: ...
        def post_process(self, row: dict, context: Context | None = None) -> dict | None: ...
        def _parquet_files(self, batch_config: BatchConfig, records: Iterator[dict[str, Any]]
                           ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]: ...
        def get_batch_config(self, config: Any) -> BatchConfig | None: ...
        def _write_state_message(self) -> None: ...
        def forget_bookmark(self) -> None: ...

    @cached_property
    def _writes_batches(self) -> bool:
        return self.get_batch_config(self.config) is not None

    def _export_progress(self, change: Callable[[dict[str, Any]], None], *, out: bool) -> None:
        """Change the stream's state for the export's progress.

        `out`: every row it covers is out (RECORD messages written, BATCH files closed), so a
        STATE goes now. Otherwise the change waits in the state for the STATE the SDK writes
        after the next BATCH message, whose file holds the last of those rows; the state is
        not marked unwritten, so a failure before then does not write it either.
        """
        with self.run.state_lock:
            change(self.stream_state)
            if out:
                self.state_manager.is_flushed = False
        if out:
            self._write_state_message()

    def _save_export_position(self, position: dict[str, Any], *, out: bool) -> None:
        """After a Bulk Read page: where the export goes on from, so a run cut off later
        resumes it instead of starting over (Zoho keeps a page_token for a day). Not for a
        stream read whole: its next run starts the export over."""
        if self.reads_whole:
            return
        self._export_progress(lambda state: state.update({BULK_EXPORT_KEY: position}), out=out)

    def _end_export(self, since: str | None, context: Context | None, *, out: bool) -> None:
        """The export is read: REST goes on from its start (the bookmark)."""
        if since:
            self._increment_stream_state({REPLICATION_KEY: since}, context=context)
        self._export_progress(lambda state: state.pop(BULK_EXPORT_KEY, None), out=out)

    @override
    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        if self._bulk_rows:
            return  # see BulkRows
        super()._increment_stream_state(latest_record, context=context)

    def uses_bulk_read(self) -> bool:
        """Backfill through Bulk Read: no bookmark yet and more records than the threshold,
        or an export a failed run left unfinished (finished whatever the count is now). A
        refresh of computed values goes through Bulk Read only where the export carries every
        selected property as REST does (export_is_whole). A stream read whole (FULL_TABLE) is
        backfilled every run it has more records than that."""
        threshold = self.config.get("bulk_read_threshold")
        if (threshold is None or not self.replication_key or self.exported_since
                or self._bulk_refused):
            return False
        if not bulk_readable(self.api_name, self.generated_type):
            return False
        if not self.reads_whole and self.stream_state.get(BULK_EXPORT_KEY):
            return True  # resumed (an export of a stream read whole starts over)
        if self.stream_state.get("replication_key_value") and not self.reads_whole and not (
                self.refreshing and self.export_is_whole()):
            return False
        return self.expected_records() > int(threshold)

    def export_is_whole(self) -> bool:
        """Whether an export, with file and image uploads filled over REST, carries every
        selected property whole. It holds a lookup's id only (no name), tag names only and no
        `$` keys: a row without them would null those columns of a record the warehouse has
        whole."""
        for name, prop in self.schema["properties"].items():
            if name == "id" or name.startswith("_") or not self.mask.get(
                    ("properties", name), True) or is_upload(prop):
                continue  # uploads: filled over REST (bulk_read.export_gaps)
            kind = property_kind(prop)
            if name.startswith("$") or kind is None or kind == "object" or (
                    kind == "array" and property_kind(prop.get("items") or {}) != "string"):
                return False
        return True

    def backfills_to_parquet(self) -> bool:
        """Whether this sync's Bulk Read goes straight to Parquet files (bulk_parquet)."""
        batch_config = self.get_batch_config(self.config)
        return bool(batch_config and batch_config.encoding.format == "parquet"
                    and self.uses_bulk_read())

    def _bulk_read(self) -> BulkRead:
        resume = None if self.reads_whole else self.stream_state.get(BULK_EXPORT_KEY)
        bulk = self._new_bulk_read(resume)
        if bulk.resumed:
            self.logger.info("%s: going on with the Bulk Read export cut off by an earlier run, "
                             "from page %s", self.api_name, resume["page"])
        return bulk

    def _bulk_backfill(self, feed: PageFeed) -> str | None:
        """Export the module with Bulk Read; returns where REST goes on (the job's start)."""
        bulk = self._bulk_read()
        try:
            for batch in bulk.batches():
                done: Future = Future()
                done.set_result(batch if isinstance(batch, PageDone) else BulkRows(batch))
                feed.put(done)
        except BulkReadRefused as exc:
            self._refuse_bulk_read(exc)
            return None
        # Whole records the export left out: emitted like its rows (they move no bookmark).
        for records in self._hidden_records(bulk):
            feed.put(self.run.read_ahead.pool.submit(
                lambda records=records: BulkRows(self._complete_page(records, 0))))
        self.logger.info("%s: backfilled through %d Bulk Read job(s); going on over REST from %s",
                         self.api_name, bulk.jobs, bulk.started_at)
        since = utc_or_none(bulk.started_at)
        finished: Future = Future()
        finished.set_result(BulkDone(since))
        feed.put(finished)
        return since

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """With Parquet output, a Bulk Read backfill is written by Arrow, then REST goes on."""
        self.forget_bookmark()
        if batch_config.encoding.format == "parquet" and self.uses_bulk_read():
            try:
                yield from self._parquet_backfill(batch_config, context)
            except BulkReadRefused as exc:
                self._refuse_bulk_read(exc)
        yield from super().get_batches(batch_config, context)

    def _parquet_backfill(self, batch_config: BatchConfig, context: Context | None
                          ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """The export into Parquet files, then the records it left out (whole, over REST)."""
        bulk = self._bulk_read()
        for manifest in bulk.parquet_batches(batch_config):
            if isinstance(manifest, PageDone):  # the page's files are all out
                self._save_export_position(manifest.position, out=True)
            else:
                yield batch_config.encoding, manifest
        hidden = (typed for page in self._hidden_records(bulk)
                  for record in self._complete_page(page, 0)
                  if (typed := self.post_process(record, context)) is not None)
        yield from self._parquet_files(batch_config, hidden)
        since = utc_or_none(bulk.started_at)
        self.logger.info(
            "%s: backfilled through %d Bulk Read job(s) into Parquet; going on over REST "
            "from %s", self.api_name, bulk.jobs, since)
        self._end_export(since, context, out=True)
        self._expected = None
        self.exported_since = since
