"""Streams: one per Zoho module, read page by page in Modified_Time order.

The stream keeps the SDK's hooks, the sync's plan (reads.plan) and the one rule of when a record
moves the bookmark. The ways of reading are objects it builds for each sync (reads/): REST pages
anchored on (Modified_Time, id), the Notes variant, page completion (field groups, full rich
text), a Bulk Read backfill and the records it leaves out, record counts.

A page chain runs in a producer thread (sync.read_ahead.PageFeed) a few pages ahead; each page's
completion runs in the read-ahead's pool; the main thread takes the feed's items in order
(sync.feed_items), so the SDK sees the same sequence as a sequential read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from typing_extensions import override

from tap_zohocrm.bulk_read.export_gaps import LeftOutFields
from tap_zohocrm.bulk_read.jobs import BulkRead, BulkReadRefused
from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.reads.bulk_backfill import (
    BulkBackfill,
    bulk_cost,
    export_fields,
    export_is_whole,
    left_out_fields,
)
from tap_zohocrm.reads.bulk_gaps import HiddenRecords
from tap_zohocrm.reads.completion import PageCompletion
from tap_zohocrm.reads.coql_pages import CoqlPages, CoqlRefused, coql_cost
from tap_zohocrm.reads.coql_read import CoqlRead
from tap_zohocrm.reads.field_groups import (
    FieldGroups,
    field_groups,
    page_reads,
    selected_fields,
)
from tap_zohocrm.reads.full_read import FullReadSteps
from tap_zohocrm.reads.group_pages import GroupPages, after_fills
from tap_zohocrm.reads.module_rules import (
    NOTES,
    REPLICATION_KEY,
    bulk_readable,
    coql_readable,
    filter_params,
    hidden_record_filters,
    lists_deletions,
    named_in_modules,
    read_in_full,
    read_path,
    skippable_codes,
    stream_name,
)
from tap_zohocrm.reads.notes_pages import NotesPages
from tap_zohocrm.reads.plan import BULK, COQL, REST, PlanInputs, ReadPlan, make_plan
from tap_zohocrm.reads.record_count import RecordCounts
from tap_zohocrm.reads.rest_pages import RestPages, rest_calls
from tap_zohocrm.reads.rich_text import RichText, rich_text_fields
from tap_zohocrm.reads.users_directory import UsersDirectory
from tap_zohocrm.responses import is_refusal
from tap_zohocrm.schema.fields import (
    is_computed,
    is_id_only_in_coql,
    is_lookup,
    is_owner,
    system_properties_opt_in,
)
from tap_zohocrm.schema.values import instant
from tap_zohocrm.streams.deleted import DELETED_AT, delete_markers, install_marker_log_filter
from tap_zohocrm.streams.module_cost import module_cost
from tap_zohocrm.sync.feed_items import (
    DeleteMarkers,
    ExportDone,
    ExportPosition,
    FeedItem,
    Records,
    ready,
)
from tap_zohocrm.sync.state_checks import (
    BOOKMARK_READ_AT,
    BULK_EXPORT_KEY,
    DELETIONS_LISTED_AT,
)

if TYPE_CHECKING:
    from singer_sdk import Tap, singerlib
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.cost_plan import CostRow
    from tap_zohocrm.sync.read_ahead import PageFeed
    from tap_zohocrm.sync.run import ZohoRun

# What an incremental read leaves in a stream's state (dropped when it is read whole).
BOOKMARK_KEYS = ("replication_key", "replication_key_value", "starting_replication_value",
                 BULK_EXPORT_KEY)


class ModuleReads:
    """Built once per stream, when its sync first needs to read."""

    def __init__(self, stream: ModuleStream) -> None:
        self.stream = stream
        run = stream.run
        self.filters = filter_params(stream.api_name)
        self.selected = selected_fields(stream.schema, stream.mask)
        self.left_out = left_out_fields(stream.schema, self.selected)  # no export carries them
        # What a COQL read takes from Get Records pages beside it: uploads, and the lookups
        # COQL gives by id alone (their names).
        self.beside_coql = [*self.left_out, *(f for f in self.selected if is_id_only_in_coql(
            stream.schema["properties"][f]))]
        self.meta_keys = [name for name in stream.schema["properties"] if name.startswith("$")
                          and stream.mask.get(("properties", name), True)]
        self.rich_text = RichText(
            stream.api, path=stream.path, per_page=run.version.rich_text_per_page,
            pool=run.read_ahead.side_pool, fields=rich_text_fields(
                stream.schema, stream.mask, run.version, logger=stream.logger,
                full_rich_text=bool(stream.config["full_rich_text"]), module=stream.api_name))
        self.groups = FieldGroups(
            stream.api, path=stream.path, replication_key=stream.replication_key,
            filters=self.filters, on_gone=self.rich_text.forget,
            groups=field_groups(stream.schema, stream.mask, stream.replication_key,
                                fields_optional=run.version.fields_optional))
        self.completion = PageCompletion(self.groups, self.rich_text)
        self.per_page = int(stream.config["per_page"])
        self.pool = run.read_ahead.pool
        self.visible = RecordCounts(stream.api, path=stream.path, filters={})

    def plan_inputs(self) -> PlanInputs:
        stream, config = self.stream, self.stream.config
        threshold = config.get("bulk_read_threshold")
        return PlanInputs(
            has_bookmark_key=stream.replication_key is not None, whole=stream.reads_whole,
            versioned=stream.checks_ids, has_computed=bool(self.computed_fields()),
            bulk_possible=bulk_readable(stream.api_name, stream.generated_type),
            bulk_threshold=None if threshold is None else int(threshold),
            export_is_whole=export_is_whole(stream.schema, stream.mask),
            ids_check_hours=float(config["deleted_id_check_hours"]),
            refresh_days=float(config["computed_refresh_days"]),
            start_date=config.get("start_date"), first_sync_markers=stream.emit_deletes,
            coql_possible=coql_readable(stream.api_name, stream.generated_type,
                                        stream.run.version),
            forced_path=read_path(config, stream.api_name))

    def path_costs(self, records: int, since: str | None) -> dict[str, int]:
        """Credits each path needs to read `records` records of this module modified since
        `since` (the records; attachments and listings cost the same on each). Where COQL
        looks cheaper, the records it may leave out (hidden) are counted too."""
        rest = rest_calls(records, self.per_page, page_reads(self.groups.groups))
        costs = {REST: rest, COQL: self.coql_cost(records, 0)[1],
                 BULK: bulk_cost(records, self.left_out)[1]}
        if costs[COQL] < rest:
            costs[COQL] = self.coql_cost(records, self.hidden_records(since))[1]
        return costs

    def hidden_records(self, since: str | None) -> int:
        """Records Zoho lists only when asked (converted, pending approval): the count with
        the sync's filters less the count without (asked once, when COQL is priced)."""
        if not hidden_record_filters(self.stream.api_name):
            return 0
        every = self.stream.counts.expected(since)
        return max(0, every - self.visible.expected(since)) if every else 0

    def coql_cost(self, records: int, hidden: int) -> tuple[int, int]:
        """Calls and credits of a COQL read of `records` records: the queries, the Get
        Records pages beside them (fields COQL cannot give, the `$` keys), the lists of
        `hidden` records and their field groups (a COQL page's share at a time)."""
        version = self.stream.run.version
        rest_only = len(self.left_out)
        groups = -(-(len(self.selected) - rest_only) // max(1, version.coql_columns - 2))
        calls, credits = coql_cost(records, version, max(1, groups))
        beside = rest_calls(records, self.per_page, 1) if records and (
            self.beside_coql or self.meta_keys) else 0
        lists = len(hidden_record_filters(self.stream.api_name))
        if hidden:
            # Their lists' other pages, then their other fields from pages beside (one more
            # than the count alone gives: windows start at a taken record's second).
            lists += -(-hidden // self.per_page) - 1 + (page_reads(self.groups.groups) - 1) * (
                -(-hidden // self.per_page) + 1)
        return calls + beside + lists, credits + beside + lists

    def feed(self, path: str, since: str | None,
             put: Callable[[Future[FeedItem]], None]) -> tuple[datetime | None, str]:
        """Queue the read from `since` by `path` (COQL falls back to REST when Zoho refuses
        it); returns Zoho's Date of the answer that ended it, and the path that read."""
        if path == COQL:
            try:
                return self.feed_coql(since, put), COQL
            except CoqlRefused as exc:
                self.stream.logger.warning(
                    "%s: Zoho refuses COQL for the module (%s); it is read over REST instead",
                    self.stream.api_name, exc.code or exc.status)
        return self.feed_rest(since, put), REST

    def feed_coql(self, since: str | None,
                  put: Callable[[Future[FeedItem]], None]) -> datetime | None:
        """Queue the COQL read from `since` (reads.coql_read); CoqlRefused when Zoho will not
        run COQL for the module (nothing queued then)."""
        stream = self.stream
        schema = stream.schema["properties"]
        owners = [f for f in self.selected if is_owner(schema[f])]
        lookups = [f for f in self.selected if is_lookup(schema[f]) and f not in owners]
        pages = CoqlPages(stream.api, module=stream.api_name, version=stream.run.version,
                          columns=[f for f in self.selected if f not in self.left_out],
                          on_more=stream.count_if_more)
        users = stream.run.shared("users_directory", lambda: UsersDirectory(stream.api))
        read = CoqlRead(
            pages, users=users, owner_fields=owners, lookup_fields=lookups,
            meta_keys=self.meta_keys,
            rest_fields=self.beside_coql,
            fetch=self.groups.fetch_by_ids, rich_text=self.rich_text, hidden=self.rest_pages,
            rest_pages=lambda fields: self.rest_pages(fields=fields),
            drop_gone=self.groups.drop_gone,
            complete_rest=self.completion.complete,
            hidden_filters=hidden_record_filters(stream.api_name),
            pool=self.pool, per_page=self.per_page,
            logger=stream.logger, hidden_groups=self.group_pages)
        return read.feed(since, put)

    def computed_fields(self) -> list[str]:
        """Selected properties whose values Zoho changes without moving Modified_Time."""
        stream = self.stream
        return [name for name, prop in stream.schema["properties"].items()
                if name[0] not in "$_" and stream.mask.get(("properties", name), True)
                and (is_computed(prop) or is_lookup(prop))]

    def rest_pages(self, filters: Mapping[str, Any] | None = None,
                   fields: list[str] | None = None) -> RestPages:
        """Get Records pages of the first field group (Notes: their own variant), or of
        `fields` (beside a COQL read, which counts the records itself)."""
        stream = self.stream
        kind = NotesPages if stream.api_name == NOTES else RestPages
        return kind(
            stream.api, path=stream.path, replication_key=stream.replication_key,
            per_page=int(stream.config["per_page"]),
            page_tokens=stream.run.version.page_tokens,
            filters={**self.filters, **(filters or {})},
            fields=(lambda: self.groups.first) if fields is None else (
                lambda: [*fields, REPLICATION_KEY]),
            before_call=lambda: stream.run.limits.check_headroom(1 + self.completion.promised),
            on_more=stream.count_if_more if fields is None else (lambda: None))

    def cost_row(self, plan: ReadPlan) -> CostRow:
        """The stream's `--plan` row: what its sync will read, by the path its plan chose."""
        stream = self.stream
        return module_cost(
            stream.name, stream.api_name, plan, expected=stream.expected_records(),
            bulk=stream.uses_bulk_read(), left_out=self.left_out,
            page_reads=page_reads(self.groups.groups), rich_text=bool(self.rich_text.fields),
            rich_text_per_page=stream.run.version.rich_text_per_page,
            counts_records=stream.counts_records, lists_deletions=stream.emit_deletes,
            attachments=stream.reads_attachments and any(
                c.selected for c in stream.child_streams),
            config=stream.config,
            coql=self.coql_cost(stream.expected_records(), self.hidden_records(
                plan.since)) if plan.path == COQL else None,
            counts=stream.counts.calls_made + self.visible.calls_made)

    def group_pages(self, filters: Mapping[str, Any],
                    since: str | None = None) -> GroupPages | None:
        """Pages beside a read with these filters, for the fields past its first group (None:
        the module has one group)."""
        if len(self.groups.groups) < 2:
            return None
        return GroupPages(lambda fields: self.rest_pages(filters, fields), self.groups.groups,
                          since=since, drop_gone=self.groups.drop_gone)

    def feed_rest(self, since: str | None,
                  put: Callable[[Future[FeedItem]], None]) -> datetime | None:
        """Queue the REST read from `since`: pages of the first field group, each completed
        in the pool; returns Zoho's Date of the answer that ended it (None: cut short)."""
        per_page, completion, pool = self.per_page, self.completion, self.pool
        pending: list[dict[str, Any]] = []
        pages = self.rest_pages()
        # The other field groups from pages beside the read (Notes: few fields, own pages).
        beside = self.group_pages({}, since) if type(pages) is RestPages else None

        def complete(records: list[dict[str, Any]]) -> None:
            cost = completion.promise(records, beside=beside is not None)
            fills = [beside.fill(records)] if beside is not None else []
            put(after_fills(fills, pool, lambda filled: Records(
                completion.complete(records, cost, filled))))

        start = RecordsPage(modified_since=since)
        try:
            while True:
                try:
                    # Anchored pages carry a few repeats, so fewer new records than a page:
                    # they are completed in full pages again, so the calls per record stay.
                    for records in pages.pages(start):
                        pending.extend(records)
                        while len(pending) >= per_page:
                            complete(pending[:per_page])
                            del pending[:per_page]
                    break
                except ZohoAPIError as exc:
                    if not self.groups.drop_gone(exc):
                        raise
                    # Go on from the last Modified_Time read; the repeats there are dropped.
                    start = RecordsPage(modified_since=pages.anchor.last_modified or since,
                                        query=start.query + 1)
            if pending:
                complete(pending)
        finally:
            if beside is not None:
                beside.close()
        return pages.read_to_end_at

    def bulk_backfill(self, resume: dict[str, Any] | None) -> BulkBackfill:
        """The Bulk Read backfill (a new export, or the one an earlier run left at `resume`)."""
        stream = self.stream
        fill = LeftOutFields(stream.schema, self.selected, self.left_out,
                             self.groups.fetch_by_ids, stream.logger, stream.api_name)
        bulk = BulkRead(stream.api, export_fields(stream.schema, self.selected), resume,
                        schema=stream.selected_schema, left_out=fill,
                        count=lambda: stream.counts.count(None),
                        post_process=stream.post_process, tap_name=stream.tap_name)
        if bulk.resumed:
            stream.logger.info("%s: going on with the Bulk Read export cut off by an earlier "
                               "run, from page %s", stream.api_name, (resume or {}).get("page"))
        hidden = HiddenRecords(self.rest_pages, hidden_record_filters(stream.api_name),
                               module=stream.api_name, logger=stream.logger)
        return BulkBackfill(bulk, hidden, self.completion.complete,
                            pool=stream.run.read_ahead.pool, module=stream.api_name,
                            logger=stream.logger)


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
        # A module whose deletions Zoho does not list (subform, linking): read whole.
        self.whole_every_run = read_in_full(generated_type)
        if self.whole_every_run:
            self.forced_replication_method = REPLICATION_FULL_TABLE
        self.reads_attachments = module_api_name in (tap.config.get("attachment_modules") or [])
        self.emit_deletes = bool(tap.config.get("emit_deletes")) and lists_deletions(
            module_api_name, generated_type)
        if self.emit_deletes:
            install_marker_log_filter()
        self.path = f"/{module_api_name}"
        if REPLICATION_KEY in schema.get("properties", {}):
            self.replication_key = REPLICATION_KEY
        self.counts = RecordCounts(self.api, path=self.path,
                                   filters=filter_params(module_api_name))
        self._plan: ReadPlan | None = None
        self._plan_lock = threading.Lock()
        self._moves_bookmark = True  # the records being emitted may move the bookmark
        self._read_to_end_at: datetime | None = None  # Zoho's Date ending a full read
        self._exported_since: str | None = None  # REST's start after an export to Parquet
        self._bulk_refused = False

    @property
    @override
    def module_api_name(self) -> str:
        return self.api_name

    @override
    def skips(self, exc: ZohoAPIError) -> bool:
        # Also a module the user did not name, refused by Zoho: the run goes on without it.
        return exc.code in skippable_codes(self.api_name) or (
            is_refusal(exc.status, exc.code) and not named_in_modules(self.api_name, self.config))

    @property
    @override
    def reads_ahead(self) -> bool:
        """Whether the read-ahead may start this stream's pages early: a selected module, but
        not one whose Bulk Read goes straight to Parquet (it reads nothing over REST until its
        export is written)."""
        return self.selected and not self.backfills_to_parquet()

    @property
    @override
    def syncs_side_by_side(self) -> bool:
        """A module stream may sync in its own thread unless it syncs a child: one
        attachments stream serves every parent, so its parents sync one after another."""
        return not (self.reads_attachments and any(
            child.selected or child.has_selected_descendents for child in self.child_streams))

    @property
    @override
    def is_sorted(self) -> bool:
        return self.replication_key is not None

    # -- FULL_TABLE: subform and linking modules, or a catalog that asks for it ---------------
    #
    # Zoho lists no deletions of subform rows or links, so those modules are read whole every
    # run, ACTIVATE_VERSION first (turned on for them without the SDK's setting): the loader
    # drops (or flags) the rows of older versions. They keep no bookmark and no export position.

    @property
    @override
    def replication_method(self) -> str:
        return REPLICATION_FULL_TABLE if self.whole_every_run else super().replication_method

    @property
    def reads_whole(self) -> bool:
        """Whether this run reads the module whole, with no bookmark (FULL_TABLE)."""
        return self.replication_method == REPLICATION_FULL_TABLE

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # Also any module a catalog makes FULL_TABLE, while the deleted-records check is on:
        # such a read never ends in the check's ACTIVATE_VERSION (it keeps no bookmark).
        return (self.whole_every_run or super().emit_activate_version_messages
                or (self.reads_whole and float(self.config["deleted_id_check_hours"]) > 0))

    @property
    @override
    def metadata(self) -> singerlib.MetadataMapping:
        metadata = super().metadata
        if coql_readable(self.api_name, self.generated_type, self.run.version):
            return system_properties_opt_in(metadata)
        return metadata  # Get Records alone reads it: the `$` keys cost nothing

    @override
    def apply_catalog(self, catalog: singerlib.Catalog) -> None:
        super().apply_catalog(catalog)
        forced = self.forced_replication_method
        if self.whole_every_run and forced and forced != REPLICATION_FULL_TABLE:
            self.logger.warning(
                "Stream %s: the catalog asks for %s replication; it is read whole every run "
                "(FULL_TABLE) because Zoho lists no deleted rows of %s modules.",
                self.name, forced, self.generated_type)
            self.forced_replication_method = REPLICATION_FULL_TABLE

    def forget_bookmark(self) -> None:
        """Drop what an incremental read left in the state (an older version of the tap, or a
        catalog that made the stream INCREMENTAL before): a read whole starts from nothing."""
        if not self.reads_whole:
            return
        with self.run.state_lock:
            gone = [key for key in BOOKMARK_KEYS if key in self.stream_state]
            for key in gone:
                del self.stream_state[key]
            if gone:
                self.state_manager.is_flushed = False
        if gone:
            self.logger.info("Stream %s is read whole (FULL_TABLE): dropped %s from its state",
                             self.name, ", ".join(gone))

    # -- the plan ----------------------------------------------------------------------------

    def read_plan(self) -> ReadPlan:
        """This sync's plan, made once, before any page is read (the state changes as the read
        goes on)."""
        with self._plan_lock:
            if self._plan is None:
                with self.run.state_lock:
                    read_at = instant(self.stream_state.pop(BOOKMARK_READ_AT, None))
                    state = dict(self.stream_state)
                self._plan = make_plan(state, self.reads.plan_inputs(), read_at=read_at,
                                       now=datetime.now(UTC), count=self.counts.expected,
                                       costs=self.reads.path_costs)
            return self._plan

    @property
    def checks_ids(self) -> bool:
        """Whether full reads end in ACTIVATE_VERSION: deleted_id_check_hours on, and RECORD
        output (a BATCH file's rows carry no version)."""
        return float(self.config["deleted_id_check_hours"]) > 0 and not self.writes_batches

    def _resume(self) -> dict[str, Any] | None:
        """The export position an earlier run left, if this sync goes on with it."""
        return self.stream_state.get(BULK_EXPORT_KEY) if self.read_plan().resumes_export else None

    def uses_bulk_read(self) -> bool:
        """Whether this sync backfills through Bulk Read (and has not yet, nor been refused)."""
        return (self.read_plan().bulk and not self._bulk_refused
                and self._exported_since is None)

    def backfills_to_parquet(self) -> bool:
        """Whether this sync's Bulk Read goes straight to Parquet files (bulk_read.csv_parquet)."""
        batch_config = self.get_batch_config(self.config)
        return bool(batch_config and batch_config.encoding.format == "parquet"
                    and self.uses_bulk_read())

    def expected_records(self) -> int:
        """Records the sync will read (Zoho's Record Count with the sync's own filter)."""
        return self.counts.expected(self.read_plan().rest_since(self._exported_since))

    @property
    def counts_records(self) -> bool:
        """Whether the sync asks Zoho for the record count (progress lines with an ETA)."""
        return float(self.config["progress_interval_seconds"]) > 0

    @override
    def expected_total(self) -> int | None:
        # Asked once the first page shows there is more to read (_count_if_more): a run that
        # reads one page or none (an idle scheduled run) spends no call on it.
        return self._report.expected

    @override
    def cost_row(self) -> CostRow:
        return self.reads.cost_row(self.read_plan())

    @cached_property
    def reads(self) -> ModuleReads:
        """This stream's read objects (ModuleReads)."""
        return ModuleReads(self)

    def count_if_more(self) -> None:
        if self.counts_records and self._report.expected is None:
            self._report.expected = self.expected_records()


    # -- the read paths of this sync -----------------------------------------------------------

    # -- the sync --------------------------------------------------------------------------

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        self.forget_bookmark()
        self._start_full_read()
        feed = self.run.feed_for(self)
        try:
            for page in feed:
                item = self.run.stop.result(page)  # a stop ends the wait (RunStopped)
                # With BATCH output, an export's rows may sit in a file still being written:
                # its progress waits for the STATE after that file (_progress).
                if isinstance(item, ExportPosition):
                    self._save_export_position(item.position, out=not self.writes_batches)
                elif isinstance(item, ExportDone):
                    self._end_export(item.since, context, out=not self.writes_batches)
                elif isinstance(item, DeleteMarkers):
                    yield from item.records
                    if at := item.listed_at:
                        self._progress({DELETIONS_LISTED_AT: at}, out=not self.writes_batches)
                else:
                    # The SDK moves the bookmark after each record it takes, before the next.
                    self._moves_bookmark = item.moves_bookmark
                    try:
                        yield from item.records
                    finally:
                        self._moves_bookmark = True
            self._keep_read_time()
            self._finish_full_read()
        finally:
            feed.close()

    def produce_pages(self, feed: PageFeed) -> None:
        """Producer thread: the plan's reads in order, each page's completion queued."""
        plan = self.read_plan()
        since = plan.rest_since(self._exported_since)
        if self.uses_bulk_read():
            try:
                since = self.reads.bulk_backfill(self._resume()).feed(feed.put) or since
            except BulkReadRefused as exc:
                self._refuse_bulk_read(exc)
        exported = self._exported_since or (plan.bulk and not self._bulk_refused)
        path = COQL if plan.path == COQL else REST
        self._read_to_end_at, used = self.reads.feed(path, since, feed.put)
        self._report.read_path = f"bulk, then {used}" if exported else used
        if self.emit_deletes:
            feed.put(ready(delete_markers(self.api, self.api_name, plan.markers_since,
                                          plan.listed_at)))

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

    def read_before(self, record: dict[str, Any]) -> bool:
        """Whether a refresh's record is one an earlier run read (not past the bookmark)."""
        # The plan is made before the first record: no lock on the per-record path.
        return (self._plan or self.read_plan()).read_before(record.get(REPLICATION_KEY))

    @override
    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        # Export rows (id order) never move the bookmark; a refresh reads records from the
        # oldest on, so the bookmark stays where it was until the read passes it: a run cut
        # off mid-export or mid-refresh loses nothing it had.
        if not self._moves_bookmark or self.read_before(latest_record):
            return
        super()._increment_stream_state(latest_record, context=context)

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """With Parquet output, a Bulk Read backfill is written by Arrow, then REST goes on."""
        self.forget_bookmark()
        if batch_config.encoding.format == "parquet" and self.uses_bulk_read():
            try:
                for item in self.reads.bulk_backfill(self._resume()).parquet(
                        batch_config, lambda rows: self.batch_files.parquet(batch_config, rows),
                        lambda record: self.post_process(record, context)):
                    if isinstance(item, ExportPosition):  # the page's files are all out
                        self._save_export_position(item.position, out=True)
                    elif isinstance(item, ExportDone):
                        self._end_export(item.since, context, out=True)
                        self._exported_since = item.since
                    else:
                        yield item
            except BulkReadRefused as exc:
                self._refuse_bulk_read(exc)
        yield from super().get_batches(batch_config, context)

    # -- state: the export's progress, the full read's keys ----------------------------------

    def _progress(self, change: dict[str, Any] | Callable[[dict[str, Any]], None], *,
                  out: bool) -> None:
        """Change the stream's state (keys to set, or a function).

        `out`: every row it covers is out (RECORD messages written, BATCH files closed), so a
        STATE goes now. Otherwise the change waits in the state for the STATE the SDK writes
        after the next BATCH message, whose file holds the last of those rows; the state is
        not marked unwritten, so a failure before then does not write it either.
        """
        with self.run.state_lock:
            if callable(change):
                change(self.stream_state)
            else:
                self.stream_state.update(change)
            if out:
                self.state_manager.is_flushed = False
        if out:
            self._write_state_message()

    def _save_export_position(self, position: dict[str, Any], *, out: bool) -> None:
        """After a Bulk Read page: where the export goes on from (Zoho keeps a page_token for
        a day). Not for a stream read whole: its next run starts the export over."""
        if not self.reads_whole:
            self._progress({BULK_EXPORT_KEY: position}, out=out)

    def _end_export(self, since: str | None, context: Context | None, *, out: bool) -> None:
        """The export is read: REST goes on from its start (the bookmark)."""
        if since:
            self._increment_stream_state({REPLICATION_KEY: since}, context=context)
        self._progress(lambda state: state.pop(BULK_EXPORT_KEY, None), out=out)

    def _refuse_bulk_read(self, exc: BulkReadRefused) -> None:
        """Zoho will not export the module: this run reads it over REST."""
        self._bulk_refused = True
        self.logger.warning("%s: Zoho refuses Bulk Read for the module (%s); it is read over "
                            "REST instead", self.api_name, exc.code or exc.status)
        self._progress(lambda state: state.pop(BULK_EXPORT_KEY, None), out=False)

    def _keep_read_time(self) -> None:
        """Every record read is out: keep when the read ended, for the next sync's start."""
        if self._read_to_end_at is not None and self.replication_key and not self.reads_whole:
            with self.run.state_lock:
                self.stream_state[BOOKMARK_READ_AT] = self._read_to_end_at.isoformat()

    def _full_read_steps(self) -> FullReadSteps | None:
        full = self.read_plan().full
        return None if full is None else FullReadSteps(full, self.api_name, self.config,
                                                       self.logger)

    def _start_full_read(self) -> None:
        """Before the first record: a refresh says why, a versioned read gets its table
        version, a first sync keeps its start (reads.full_read)."""
        if (steps := self._full_read_steps()) is None:
            return
        steps.announce()
        self._report.refresh = steps.full.refresh
        if steps.full.versioned:
            self._stream_version = int(time.time())
        resumes = bool(self.stream_state.get(BULK_EXPORT_KEY))
        if keys := steps.keys_at_start(resumes_export=resumes):
            self._progress(keys, out=False)

    def _finish_full_read(self) -> None:
        """The module's records are all out: ACTIVATE_VERSION if due, and the full read's
        time kept."""
        if (steps := self._full_read_steps()) is None:
            return
        version = self._stream_version
        if steps.activates(read_to_end=self._read_to_end_at is not None) and version:
            self._write_activate_version_message(version)
        checked = steps.full.versioned and version is not None
        self._progress(steps.keys_at_end(checked=checked), out=not self.writes_batches)
