"""Streams: one per Zoho module, read page by page in Modified_Time order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from singer_sdk.streams.rest import HTTPRequest, PageContext

from tap_zohocrm.bulk_read.jobs import BulkRead, PageDone
from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import RecordsPage, RecordsPaginator, response_json
from tap_zohocrm.schema.fields import (
    RICH_TEXT_CUT_FROM_VERSION,
    RICH_TEXT_LIST_CUT,
    RICH_TEXT_MEDIA_TYPE,
    requestable_fields,
)
from tap_zohocrm.schema.values import to_utc
from tap_zohocrm.streams.deleted import (
    DELETABLE_GENERATED_TYPES,
    DELETED_AT,
    delete_markers,
    install_marker_log_filter,
)
from tap_zohocrm.sync.read_ahead import PageFeed
from tap_zohocrm.sync.state_checks import BULK_EXPORT_KEY

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun

REPLICATION_KEY = "Modified_Time"
MAX_FIELDS_PER_CALL = 50  # Zoho's `fields` limit from v3 on
RICH_TEXT_IDS_PER_CALL = 200  # Get Rich Text Fields (v8): ids a call
MAX_IDS_PER_CALL = 100


def batched(items: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    """itertools.batched for Python 3.11."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def _utc_or_none(value: Any) -> str | None:
    try:
        return to_utc(value) if value is not None else None
    except ValueError:
        return None


class BulkRows(list):  # type: ignore[type-arg]
    """A batch of Bulk Read export rows. They come in id order, not Modified_Time order, so
    they never move the bookmark: a STATE written mid-export (after a BATCH file, or when the
    run fails) would otherwise resume REST past rows the export had not reached yet."""


class BulkDone:
    """Queued after the last export rows: the bookmark becomes where REST goes on, and the
    saved export position (BULK_EXPORT_KEY) is dropped."""

    def __init__(self, since: str | None) -> None:
        self.since = since


def stream_name(module_api_name: str) -> str:
    """Stream name of a module: its API name in lower case (`Price_Books` -> `price_books`)."""
    return module_api_name.lower()


class MetadataReader(ZohoStream):
    """Reads settings/* endpoints for discovery; never synced itself."""

    name = "zoho_metadata"
    path = "/settings"
    schema: dict[str, Any] = {"type": "object", "properties": {}}  # type: ignore[assignment]

    _subject = "metadata"

    @property
    def module_api_name(self) -> str:
        return self._subject

    def get_list(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict]:
        self._subject = (params or {}).get("module") or path
        response = self.request_json(path, params)
        body = [] if response.status_code in (204, 304) else response.json().get(key)
        if not isinstance(body, list):
            msg = f"Unexpected answer from {path}: no '{key}' list"
            raise ValueError(msg)
        return body


class ModuleStream(ZohoStream):
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
        self.reads_attachments = module_api_name in (tap.config.get("attachment_modules") or [])
        self.emit_deletes = bool(tap.config.get("emit_deletes")) and (
            generated_type in DELETABLE_GENERATED_TYPES and module_api_name != "Notes"
        )
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
        self._chunks: list[list[str]] = []
        self._rich_text_fields: list[str] = []
        self._gone_fields: set[str] = set()  # removed in Zoho since discovery
        self._bulk_rows = False  # the records being emitted are Bulk Read export rows

    @property
    def module_api_name(self) -> str:
        return self.api_name

    # Notes are readable by administrators only: a non-admin skips the stream with a warning.
    @property
    def skippable_codes(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset({"NOT_SUPPORTED"}) if self.api_name == "Notes" else frozenset()

    @property
    def reads_ahead(self) -> bool:
        """Whether the read-ahead may start this stream's pages early: a selected module, but
        not one whose Bulk Read goes straight to Parquet (it reads nothing over REST until its
        export is written)."""
        return self.selected and not self.backfills_to_parquet()

    @property
    def syncs_side_by_side(self) -> bool:  # type: ignore[override]
        """A module stream with no selected child may sync in its own thread."""
        return not any(child.selected or child.has_selected_descendents
                       for child in self.child_streams)

    @property
    def is_sorted(self) -> bool:
        return self.replication_key is not None

    @property
    def is_v2(self) -> bool:
        return self.run.is_v2

    # -- requests --------------------------------------------------------------------------

    def field_chunks(self) -> list[list[str]]:
        """Selected fields in groups of at most 50, Modified_Time in the first group.

        An empty list means "no fields parameter" (all fields, v2 only).
        """
        selected = [
            f for f in requestable_fields(self.schema) if self.mask.get(("properties", f), True)
        ]
        if self.is_v2 and len(selected) == len(requestable_fields(self.schema)):
            return []
        if self.replication_key and self.replication_key in selected:
            selected.remove(self.replication_key)
            selected.insert(0, self.replication_key)
        if not selected:
            selected = [self.replication_key or "Created_Time"]
        return [list(chunk) for chunk in batched(selected, MAX_FIELDS_PER_CALL)]

    def rich_text_fields(self) -> list[str]:
        """Selected rich-text fields whose list-call values may be cut (API v7 and later)."""
        if self.run.api_version_number < RICH_TEXT_CUT_FROM_VERSION:
            return []
        rich = [
            name for name, prop in self.schema["properties"].items()
            if prop.get("contentMediaType") == RICH_TEXT_MEDIA_TYPE
            and self.mask.get(("properties", name), True)
        ]
        if rich and not self.config["full_rich_text"]:
            self.logger.warning(
                "%s: rich-text values longer than 500 characters are cut by Zoho's list calls "
                "and kept cut (full_rich_text is false)", self.api_name,
            )
            return []
        return rich

    def _filter_params(self) -> dict[str, Any]:
        # Zoho hides converted leads and records pending approval unless asked.
        params: dict[str, Any] = {"approved": "both"}
        if self.api_name == "Leads":
            params["converted"] = "both"
        return params

    def get_new_paginator(self) -> RecordsPaginator:
        return RecordsPaginator(
            self._start,
            per_page=int(self.config["per_page"]),
            use_page_tokens=not self.is_v2,
            restart_key=self.replication_key,
        )

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        token: RecordsPage = page.next_page_token or self._start
        chunks = self._chunks
        params: dict[str, Any] = {
            "per_page": int(self.config["per_page"]),
            "sort_by": self.replication_key or "id",
            "sort_order": "asc",
            **self._filter_params(),
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

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        feed = self.run.feed_for(self)
        try:
            for page in feed:
                records = page.result()
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
        finally:
            feed.close()

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
        resumes it instead of starting over (Zoho keeps a page_token for a day)."""
        self._export_progress(lambda state: state.update({BULK_EXPORT_KEY: position}), out=out)

    def _end_export(self, since: str | None, context: Context | None, *, out: bool) -> None:
        """The export is read: REST goes on from its start (the bookmark)."""
        if since:
            self._increment_stream_state({REPLICATION_KEY: since}, context=context)
        self._export_progress(lambda state: state.pop(BULK_EXPORT_KEY, None), out=out)

    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        if self._bulk_rows:
            return  # see BulkRows
        super()._increment_stream_state(latest_record, context=context)

    @property
    def counts_records(self) -> bool:
        """Whether the sync asks Zoho for the record count (progress lines with an ETA)."""
        return float(self.config["progress_interval_seconds"]) > 0

    def expected_records(self) -> int:
        """Records the sync will read: Zoho's count action with the sync's own filter (once)."""
        if self._expected is not None:
            return self._expected
        headers = {"If-Modified-Since": since} if (since := self.starting_since()) else {}
        response = self.request_json(f"{self.path}/actions/count", self._filter_params(),
                                     headers=headers)
        empty = response.status_code in (204, 304)
        self._expected = 0 if empty else int(response_json(response).get("count") or 0)
        return self._expected

    def expected_total(self) -> int | None:
        return self.expected_records() if self.counts_records else None

    def starting_since(self) -> str | None:
        """If-Modified-Since of the first query: the bookmark, or start_date, the later one.

        Computed from the state directly (not the SDK's starting value, which is written only
        when this stream's sync begins) because the read may start ahead of that.
        """
        if not self.replication_key:
            return None
        candidates = []
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            candidates.append(datetime.fromisoformat(str(bookmark).replace("Z", "+00:00")))
        if self.config.get("start_date"):
            start = datetime.fromisoformat(str(self.config["start_date"]).replace("Z", "+00:00"))
            candidates.append(start if start.tzinfo else start.replace(tzinfo=UTC))
        if not candidates:
            return None
        return max(candidates).replace(microsecond=0).isoformat()

    def produce_pages(self, feed: PageFeed) -> None:
        """Producer thread: walk the page chain, queue each page's completion in order."""
        self._chunks = self.field_chunks()
        self._rich_text_fields = self.rich_text_fields()
        since = self.starting_since()
        start = RecordsPage(modified_since=since)
        self._last_modified = None
        self._ids_at_last_modified = set()
        pool = self.run.read_ahead.pool
        if self.uses_bulk_read():
            since = self._bulk_backfill(feed) or since
            start = RecordsPage(modified_since=since)
        while True:
            try:
                for records in self._primary_pages(start):
                    cost = self._completion_credits(records)
                    with self._fields_lock:
                        self._promised_credits += cost
                    feed.put(pool.submit(self._complete_page, records, cost))
                break
            except ZohoAPIError as exc:
                if not self._drop_gone_field(exc):
                    raise
                # Go on from the last Modified_Time read; the repeats there are dropped.
                start = RecordsPage(modified_since=self._last_modified or since,
                                    query=start.query + 1)
        if self.emit_deletes:
            done: Future = Future()
            done.set_result(delete_markers(self, self.api_name, since))
            feed.put(done)

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> Iterator[dict[str, Any]]:
        # Attachments only for the modules asked for, and not for delete markers.
        if self.reads_attachments and not record.get(DELETED_AT):
            yield {"module": self.api_name, "record_id": record["id"]}

    def uses_bulk_read(self) -> bool:
        """Backfill through Bulk Read: no bookmark yet and more records than the threshold,
        or an export a failed run left unfinished (finished whatever the count is now)."""
        threshold = self.config.get("bulk_read_threshold")
        if threshold is None or not self.replication_key or self.api_name == "Notes":
            return False
        if self.stream_state.get("replication_key_value"):
            return False
        if self.generated_type not in (*DELETABLE_GENERATED_TYPES, "subform"):
            return False
        return bool(self.stream_state.get(BULK_EXPORT_KEY)) or (
            self.expected_records() > int(threshold))

    def backfills_to_parquet(self) -> bool:
        """Whether this sync's Bulk Read goes straight to Parquet files (bulk_parquet)."""
        batch_config = self.get_batch_config(self.config)
        return bool(batch_config and batch_config.encoding.format == "parquet"
                    and self.uses_bulk_read())

    def _bulk_read(self) -> BulkRead:
        selected = [f for chunk in self.field_chunks() for f in chunk]
        every = requestable_fields(self.schema)
        resume = self.stream_state.get(BULK_EXPORT_KEY)
        bulk = BulkRead(self, None if len(selected) == len(every) else selected, resume)
        if bulk.resumed:
            self.logger.info("%s: going on with the Bulk Read export cut off by an earlier run, "
                             "from page %s", self.api_name, resume["page"])
        return bulk

    def _bulk_backfill(self, feed: PageFeed) -> str | None:
        """Export the module with Bulk Read; returns where REST goes on (the job's start)."""
        bulk = self._bulk_read()
        for batch in bulk.batches():
            done: Future = Future()
            done.set_result(batch if isinstance(batch, PageDone) else BulkRows(batch))
            feed.put(done)
        self.logger.info("%s: backfilled through %d Bulk Read job(s); going on over REST from %s",
                         self.api_name, bulk.jobs, bulk.started_at)
        since = _utc_or_none(bulk.started_at)
        finished: Future = Future()
        finished.set_result(BulkDone(since))
        feed.put(finished)
        return since

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """With Parquet output, a Bulk Read backfill is written by Arrow, then REST goes on."""
        if batch_config.encoding.format == "parquet" and self.uses_bulk_read():
            bulk = self._bulk_read()
            for manifest in bulk.parquet_batches(batch_config):
                if isinstance(manifest, PageDone):  # the page's files are all out
                    self._save_export_position(manifest.position, out=True)
                else:
                    yield batch_config.encoding, manifest
            since = _utc_or_none(bulk.started_at)
            self.logger.info(
                "%s: backfilled through %d Bulk Read job(s) into Parquet; going on over REST "
                "from %s", self.api_name, bulk.jobs, since)
            self._end_export(since, context, out=True)
            self._expected = None
        yield from super().get_batches(batch_config, context)

    def _primary_pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]:
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
                return
            records = list(self._drop_restart_duplicates(raw))
            if records:
                yield records
            paginator.advance(response)

    def _completion_credits(self, records: list[dict[str, Any]]) -> int:
        """Calls needed to add the other field groups to a page of records."""
        return (len(self._chunks) - 1) * -(-len(records) // MAX_IDS_PER_CALL) if self._chunks else 0

    def _complete_page(self, records: list[dict[str, Any]], promised: int) -> list[dict]:
        """Pool task: add the other field groups and full rich text to one page."""
        try:
            if len(self._chunks) > 1:
                self._merge_other_chunks(records)
            if self._rich_text_fields:
                self._complete_rich_text(records)
        finally:
            with self._fields_lock:
                self._promised_credits -= promised
        return records

    def _drop_gone_field(self, exc: ZohoAPIError) -> bool:
        """Stop requesting a field Zoho no longer knows (removed after discovery)."""
        api_name = exc.details.get("api_name") if exc.code == "INVALID_DATA" else None
        with self._fields_lock:
            requested = [f for chunk in self._chunks for f in chunk]
            if api_name in self._gone_fields and api_name not in requested:
                return True  # another call of the same sync found it gone first
            if not api_name or api_name not in requested or api_name == self.replication_key:
                return False
            self._gone_fields.add(api_name)
            remaining = [f for f in requested if f != api_name]
            self._chunks = [list(c) for c in batched(remaining, MAX_FIELDS_PER_CALL)]
            self._rich_text_fields = [f for f in self._rich_text_fields if f != api_name]
        self.logger.warning(
            "%s: field %s no longer exists in Zoho (removed after discovery); it is null from "
            "now on. Run discovery again to drop it from the catalog.", self.api_name, api_name,
        )
        return True

    def _merge_other_chunks(self, records: list[dict[str, Any]]) -> None:
        """Fetch the other field groups for this page's ids and merge them in.

        The page itself is read with one fixed field group, because changing `fields` within a
        page_token chain breaks the chain (TOKEN_BOUND_DATA_MISMATCH).
        """
        by_id = {record["id"]: record for record in records}
        for chunk in self._chunks[1:]:
            found: set[str] = set()
            for ids in batched(by_id, MAX_IDS_PER_CALL):
                for extra in self._fetch_by_ids(ids, chunk):
                    target = by_id.get(extra.get("id"))
                    if target is None:
                        continue
                    found.add(extra["id"])
                    for field in chunk:
                        if field in extra:
                            target[field] = extra[field]
            missing = len(by_id) - len(found)
            if missing:
                # Deleted between the two calls; the record is emitted with what was read.
                self.logger.warning(
                    "%s: %d records vanished between field-group calls (deleted meanwhile?)",
                    self.api_name, missing,
                )

    def _fetch_by_ids(self, ids: tuple[str, ...], fields: list[str]) -> list[dict[str, Any]]:
        while fields:
            params = {"ids": ",".join(ids), "fields": ",".join(fields), **self._filter_params()}
            try:
                return list(ZohoStream.parse_response(self, self.request_json(self.path, params)))
            except ZohoAPIError as exc:
                if not self._drop_gone_field(exc):
                    raise
                fields = [f for f in fields if f != exc.details.get("api_name")]
        return []

    def _complete_rich_text(self, records: list[dict[str, Any]]) -> None:
        """Re-read rich text that a list call cut at 500 characters.

        From v8, Get Rich Text Fields returns it for up to 200 records a call: one call per
        page. v7 has it for one record at a time, so each cut record is re-read by its own
        call; those calls run side by side in the read_ahead's second pool (this runs in a
        task of the first one, which must not wait on its own pool).
        """
        cut = [
            record for record in records
            if any(isinstance(record.get(f), str) and len(record[f]) >= RICH_TEXT_LIST_CUT
                   for f in self._rich_text_fields)
        ]
        if not cut:
            return
        by_id = {str(record["id"]): record for record in cut}

        def complete(path: str, params: dict[str, Any]) -> None:
            fields = params["fields"].split(",")
            while fields:
                try:
                    response = self.request_json(path, {**params, "fields": ",".join(fields)})
                except ZohoAPIError as exc:
                    refused = self._refused_rich_text_field(exc, fields)
                    if refused is None:
                        raise
                    fields.remove(refused)
                    continue
                for full in ZohoStream.parse_response(self, response):
                    record = by_id.get(str(full.get("id")))
                    if record is not None:
                        record.update((f, full[f]) for f in fields if f in full)
                return

        calls: list[tuple[str, dict[str, Any]]] = []
        for fields in batched(self._rich_text_fields, MAX_FIELDS_PER_CALL):
            if self.run.api_version_number >= 8:
                calls += [(f"{self.path}/actions/fetch_full_data",
                           {"ids": ",".join(ids), "fields": ",".join(fields)})
                          for ids in batched(by_id, RICH_TEXT_IDS_PER_CALL)]
            else:
                calls += [(f"{self.path}/{rid}", {"fields": ",".join(fields)}) for rid in by_id]
        pool = self.run.read_ahead.side_pool
        for done in [pool.submit(complete, path, params) for path, params in calls]:
            done.result()

    def _refused_rich_text_field(self, exc: ZohoAPIError, fields: list[str]) -> str | None:
        """A field of this Get Rich Text Fields call that Zoho refuses (INVALID_DATA: removed,
        or no longer rich text, since discovery); it is not re-read again, its values stay as
        the list calls give them. A field removed for good is then dropped by the next list
        call (_drop_gone_field)."""
        api_name = exc.details.get("api_name") if exc.code == "INVALID_DATA" else None
        if api_name not in fields:
            return None
        with self._fields_lock:
            known = api_name in self._rich_text_fields
            if known:
                self._rich_text_fields = [f for f in self._rich_text_fields if f != api_name]
        if known:
            self.logger.warning(
                "%s: Zoho no longer gives the full rich text of %s (%s); its values stay as "
                "list calls give them (cut at %d characters)", self.api_name, api_name,
                exc.code, RICH_TEXT_LIST_CUT)
        return api_name

    def _drop_restart_duplicates(self, records: list[dict[str, Any]]) -> Iterator[dict]:
        """Skip records already read at the Modified_Time a restarted query begins at."""
        key = self.replication_key
        for record in records:
            modified = _utc_or_none(record.get(key)) if key else None
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

