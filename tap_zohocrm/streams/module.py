"""Streams: one per Zoho module, read page by page in Modified_Time order."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_zohocrm.bulk_read.jobs import PageDone
from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import RecordsPage, RecordsPaginator
from tap_zohocrm.responses import is_refusal
from tap_zohocrm.schema.values import utc_or_none
from tap_zohocrm.streams.bulk_backfill import BulkBackfill, BulkDone, BulkRows
from tap_zohocrm.streams.bulk_gaps import BulkGaps
from tap_zohocrm.streams.computed_refresh import ComputedRefresh
from tap_zohocrm.streams.deleted import (
    DELETED_AT,
    DeleteMarkers,
    delete_markers,
    install_marker_log_filter,
)
from tap_zohocrm.streams.field_groups import FieldGroups
from tap_zohocrm.streams.module_rules import (
    NOTES,
    REPLICATION_KEY,
    filter_params,
    lists_deletions,
    named_in_modules,
    skippable_codes,
    stream_name,
)
from tap_zohocrm.streams.notes import NotesPaging
from tap_zohocrm.streams.record_count import RecordCount
from tap_zohocrm.streams.recycle_bin import listed_since
from tap_zohocrm.streams.rich_text import RichText
from tap_zohocrm.streams.settled_bookmark import SettledBookmark
from tap_zohocrm.streams.whole_read import WholeRead
from tap_zohocrm.sync.state_checks import DELETIONS_LISTED_AT

MARKER_CLOCK_MARGIN = timedelta(minutes=5)

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.read_ahead import PageFeed
    from tap_zohocrm.sync.run import ZohoRun


class ModuleStream(ComputedRefresh, WholeRead, BulkGaps, BulkBackfill, FieldGroups, RichText,
                   NotesPaging, SettledBookmark, RecordCount, ZohoStream):
    """Records of one Zoho module (Leads, Deals, a custom module, ...)."""

    primary_keys = ("id",)
    # A STATE every 1,000 records: a killed run redoes little (records are sorted, so each
    # STATE is a safe resume point).
    STATE_MSG_FREQUENCY = 1000
    # Out-of-order records (clock skew in Zoho) only move the bookmark back, which is safe.
    check_sorted = False

    def __init__(
        self, tap: Tap, run: ZohoRun, module_api_name: str, schema: dict[str, Any],
        generated_type: str | None = None,
    ) -> None:
        super().__init__(tap, run, name=stream_name(module_api_name), schema=schema)
        self.api_name = module_api_name
        self.generated_type = generated_type
        if self.whole_every_run:  # the catalog says so (forced-replication-method)
            self.forced_replication_method = REPLICATION_FULL_TABLE
        self.reads_attachments = module_api_name in (tap.config.get("attachment_modules") or [])
        self.emit_deletes = bool(tap.config.get("emit_deletes")) and lists_deletions(
            module_api_name, generated_type)
        if self.emit_deletes:
            install_marker_log_filter()
        self.path = f"/{module_api_name}"
        if REPLICATION_KEY in schema.get("properties", {}):
            self.replication_key = REPLICATION_KEY
        self._start = RecordsPage()
        self._last_modified: str | None = None  # UTC, latest Modified_Time emitted
        self._ids_at_last_modified: set[str] = set()
        self._fields_lock = threading.Lock()
        self._promised_credits = 0  # credits the queued pages still need to complete
        self._expected: int | None = None
        self._counts: dict[str | None, int | None] = {}
        self._field_groups: list[list[str]] = []
        self._rich_text_fields: list[str] = []
        self._gone_fields: set[str] = set()  # removed in Zoho since discovery
        self._bulk_rows = False  # the records being emitted are Bulk Read export rows

    @property
    def module_api_name(self) -> str:
        return self.api_name

    @property
    def skippable_codes(self) -> frozenset[str]:  # type: ignore[override]
        return skippable_codes(self.api_name)

    @override
    def skips(self, exc: ZohoAPIError) -> bool:
        # A module the user did not name, refused by Zoho: the run goes on without it.
        return super().skips(exc) or (is_refusal(exc.status, exc.code)
                                      and not named_in_modules(self.api_name, self.config))

    @property
    def reads_ahead(self) -> bool:
        """Whether the read-ahead may start this stream's pages early: a selected module, but
        not one whose Bulk Read goes straight to Parquet (it reads nothing over REST until its
        export is written)."""
        return self.selected and not self.backfills_to_parquet()

    @property
    def syncs_side_by_side(self) -> bool:  # type: ignore[override]
        """A module stream may sync in its own thread unless it syncs a child: one
        attachments stream serves every parent, so its parents sync one after another."""
        return not (self.reads_attachments and any(
            child.selected or child.has_selected_descendents for child in self.child_streams))

    @property
    @override
    def is_sorted(self) -> bool:
        return self.replication_key is not None

    # -- requests --------------------------------------------------------------------------

    @override
    def get_new_paginator(self) -> RecordsPaginator:
        return RecordsPaginator(
            self._start,
            per_page=int(self.config["per_page"]),
            use_page_tokens=self.run.version.page_tokens,
            restart_key=self.replication_key,
        )

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        token: RecordsPage = page.next_page_token or self._start
        chunks = self._field_groups
        params: dict[str, Any] = {
            "per_page": int(self.config["per_page"]),
            "sort_by": self.replication_key or "id",
            "sort_order": "asc",
            **(self._category or filter_params(self.api_name)),
        }
        if chunks:
            params["fields"] = ",".join(chunks[0])
        if token.page_token:
            params["page_token"] = token.page_token
        else:
            params["page"] = token.page
        headers = dict(self.http_headers)
        if token.modified_since:
            headers["If-Modified-Since"] = token.modified_since
        return HTTPRequest(url=self.get_url(page.stream_context), params=params, headers=headers)

    # -- records ---------------------------------------------------------------------------
    #
    # A page chain runs in a producer thread (prefetch.PageFeed) a few pages ahead; each page's
    # other field groups and rich-text re-reads run in the tap's pool; the main thread yields
    # the completed pages in order, so the SDK sees the same sequence as a sequential read.

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self.forget_bookmark()
        self._announce_refresh()
        self.start_version()
        feed = self.run.feed_for(self)
        try:
            for page in feed:
                records = self.run.stop.result(page)  # a stop ends the wait (RunStopped)
                # Export progress: its rows are out already as RECORD messages, but with BATCH
                # output they may sit in a file still being written (see _export_progress).
                if isinstance(records, PageDone):
                    self._save_export_position(records.position, out=not self._writes_batches)
                    continue
                if isinstance(records, BulkDone):
                    self._end_export(records.since, context, out=not self._writes_batches)
                    continue
                # The SDK advances the state after each record it takes, before the next.
                self._bulk_rows = isinstance(records, BulkRows)
                try:
                    yield from records
                finally:
                    self._bulk_rows = False
                if isinstance(records, DeleteMarkers) and (at := records.listed_at):
                    self._export_progress(lambda state: state.update({DELETIONS_LISTED_AT: at}),
                                          out=not self._writes_batches)
            self._keep_read_time()
            self._record_full_read()
        finally:
            feed.close()

    def produce_pages(self, feed: PageFeed) -> None:
        """Producer thread: walk the page chain, queue each page's completion in order."""
        self._field_groups = self.field_groups()
        self._rich_text_fields = self.rich_text_fields()
        since = self.starting_since()
        # A first sync (no bookmark) emits no markers for records deleted before it began:
        # it never emitted them (a marker alone would make a row of just id and deleted time).
        # The margin covers a clock behind Zoho's; deletions listed anyway are in the
        # deleted_records stream. Later syncs go on from the last listing.
        first_sync = not self.stream_state.get("replication_key_value")
        listed_at = self.stream_state.get(DELETIONS_LISTED_AT)
        markers_since = (
            (datetime.now(UTC) - MARKER_CLOCK_MARGIN).replace(microsecond=0).isoformat()
            if first_sync else listed_since(listed_at) or self.starting_since(incremental=True))
        start = RecordsPage(modified_since=since)
        self._last_modified = None
        self._ids_at_last_modified = set()
        pool = self.run.read_ahead.pool
        if self.uses_bulk_read():
            since = self._bulk_backfill(feed) or since
            start = RecordsPage(modified_since=since)
        per_page = int(self.config["per_page"])
        pending: list[dict[str, Any]] = []

        def complete(records: list[dict[str, Any]]) -> None:
            cost = self._completion_credits(records)
            with self._fields_lock:
                self._promised_credits += cost
            feed.put(pool.submit(self._complete_page, records, cost))

        while True:
            try:
                # Anchored pages carry a few repeats, so fewer new records than a page: they
                # are completed in full pages again, so the `ids=` and rich-text calls per
                # record stay as they were.
                for records in self._primary_pages(start):
                    pending.extend(records)
                    while len(pending) >= per_page:
                        complete(pending[:per_page])
                        del pending[:per_page]
                break
            except ZohoAPIError as exc:
                if not self._drop_gone_field(exc):
                    raise
                # Go on from the last Modified_Time read; the repeats there are dropped.
                start = RecordsPage(modified_since=self._last_modified or since,
                                    query=start.query + 1)
        if pending:
            complete(pending)
        if self.emit_deletes:
            done: Future = Future()
            done.set_result(delete_markers(self.api, self.api_name, markers_since, listed_at))
            feed.put(done)

    @override
    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> Iterator[dict[str, Any]]:
        # Attachments only for the modules asked for, and not for delete markers. A refresh
        # reads them only for records changed since the bookmark: adding an attachment moves
        # its record's Modified_Time, so the others' attachments were read before.
        if (self.reads_attachments and not record.get(DELETED_AT)
                and not self.read_before(record)):
            yield {"module": self.api_name, "record_id": record["id"]}

    def _primary_pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]:
        if self.api_name == NOTES:
            return self._notes_pages(start)
        return self._anchored_pages(start)

    def _anchored_pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]:
        """Pages of the first field group, following the paginator (the SDK's loop, by page).

        Unlike the SDK's loop, a page whose records were all repeats of a restart boundary does
        not end the read: only an empty answer does.
        """
        self._start = start
        paginator = self.get_new_paginator()
        request = self.request_decorator(self._request)
        while not paginator.finished:
            # Read ahead only what the credit budget can also complete (other field groups).
            self.run.limits.check_headroom(1 + self._promised_credits)
            prepared = self._prepare_request(context=None, page=paginator)
            response = request(prepared, None)
            raw = list(ZohoStream.parse_response(self, response))
            if not raw and not paginator.continue_if_empty(response):
                self._read_to_end(response)
                return
            if self.api_name == NOTES:
                self._check_since_honoured(raw)
            records = list(self._drop_restart_duplicates(raw))
            if records:
                yield records
            paginator.advance(response)
            self._count_if_more_pages(paginator)
            if paginator.finished:
                self._read_to_end(response)

    def _drop_restart_duplicates(self, records: list[dict[str, Any]]) -> Iterator[dict]:
        """Skip records already read at the Modified_Time a restarted query begins at."""
        key = self.replication_key
        for record in records:
            modified = utc_or_none(record.get(key)) if key else None
            if modified is None:
                yield record
                continue
            if self._last_modified is None or modified > self._last_modified:
                self._last_modified = modified
                self._ids_at_last_modified = {record["id"]}
            elif modified == self._last_modified:
                if record["id"] in self._ids_at_last_modified:
                    continue
                self._ids_at_last_modified.add(record["id"])
            yield record

