"""A module's Bulk Read backfill: its export's rows, then the records it left out, as feed items
(RECORD output) or as Parquet files written by Arrow (bulk_read.csv_parquet). The stream keeps
the export's position in its state from the items, so a cut-off run resumes the export."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tap_zohocrm.bulk_read.jobs import BulkRead, PageDone
from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, MAX_IDS_PER_CALL
from tap_zohocrm.schema.fields import is_upload, requestable_fields
from tap_zohocrm.schema.property_kinds import property_kind
from tap_zohocrm.schema.values import utc_or_none
from tap_zohocrm.sync.feed_items import ExportDone, ExportPosition, FeedItem, Records, ready

if TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig

    from tap_zohocrm.reads.bulk_gaps import HiddenRecords

BULK_PAGE = 200_000  # records per Bulk Read job
Complete = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
Manifest = tuple["BaseBatchFileEncoding", list[str]]


def export_is_whole(schema: dict[str, Any], mask: Mapping[Any, bool]) -> bool:
    """Whether an export, with file and image uploads filled over REST, carries every selected
    property whole. It holds a lookup's id only (no name), tag names only and no `$` keys: a
    row without them would null those columns of a record the warehouse has whole."""
    for name, prop in schema["properties"].items():
        if name == "id" or name.startswith("_") or not mask.get(
                ("properties", name), True) or is_upload(prop):
            continue  # uploads: filled over REST (bulk_read.export_gaps)
        kind = property_kind(prop)
        if name.startswith("$") or kind is None or kind == "object" or (
                kind == "array" and property_kind(prop.get("items") or {}) != "string"):
            return False
    return True


def left_out_fields(schema: dict[str, Any], selected: list[str]) -> list[str]:
    """Selected fields no export carries (file and image uploads)."""
    return [f for f in selected if is_upload(schema["properties"][f])]


def bulk_cost(records: int, left_out: list[str]) -> tuple[int, int, str]:
    """Calls, credits and a note for an export of `records` records.

    Per job of 200,000 records: create (50 credits), ~3 polls, 1 download; then one REST call
    from the job's start, the Record Count at the first job (rows compared with it), and the
    `ids=` calls for the fields no export carries (file and image uploads)."""
    jobs = max(1, math.ceil(records / BULK_PAGE))
    fills = math.ceil(records / MAX_IDS_PER_CALL) * math.ceil(len(left_out) / MAX_FIELDS_PER_CALL)
    note = f"Bulk Read: {jobs} job(s), polls vary"
    if fills:
        note += f"; {fills} calls fill {', '.join(left_out)} (not exported)"
    note += "; records the export lacks (converted, unapproved): 1 call per 200 more"
    return jobs * 5 + 2 + fills, jobs * (50 + 4) + 2 + fills, note


def export_fields(schema: dict[str, Any], selected: list[str]) -> list[str] | None:
    """The fields an export job names: the selected ones it can carry (None: every field,
    when those are all it can carry)."""
    left_out = left_out_fields(schema, selected)
    exported = [f for f in selected if f not in left_out]
    every = [f for f in requestable_fields(schema) if not is_upload(schema["properties"][f])]
    return None if len(exported) == len(every) else exported


class BulkBackfill:
    """One sync's export of a module. `bulk` is the export (new, or resumed from the state);
    `complete` completes a page of hidden records (every field group, full rich text)."""

    def __init__(self, bulk: BulkRead, hidden: HiddenRecords, complete: Complete, *,
                 pool: ThreadPoolExecutor, module: str, logger: logging.Logger) -> None:
        self.bulk = bulk
        self.hidden = hidden
        self.complete = complete
        self.pool = pool
        self.module = module
        self.logger = logger

    @property
    def since(self) -> str | None:
        """Where REST goes on after the export: the first job's start (Zoho's clock)."""
        return utc_or_none(self.bulk.started_at)

    def feed(self, put: Callable[[Future[FeedItem]], None]) -> str | None:
        """Queue the export's rows and positions, then the hidden records (completed in the
        pool) and the export's end; returns where REST goes on. Raises BulkReadRefused when
        Zoho will not export the module (nothing queued then)."""
        for batch in self.bulk.batches():
            put(ready(ExportPosition(batch.position) if isinstance(batch, PageDone)
                      else Records(batch, moves_bookmark=False)))
        def hidden(records: list[dict[str, Any]]) -> FeedItem:
            return Records(self.complete(records), moves_bookmark=False)

        for records in self.hidden.missing(self.bulk):
            put(self.pool.submit(hidden, records))
        self.logger.info("%s: backfilled through %d Bulk Read job(s); going on over REST from %s",
                         self.module, self.bulk.jobs, self.bulk.started_at)
        put(ready(ExportDone(self.since)))
        return self.since

    def parquet(self, batch_config: BatchConfig,
                typed_files: Callable[[Iterator[dict[str, Any]]], Iterator[Manifest]],
                typed: Callable[[dict[str, Any]], dict[str, Any] | None],
                ) -> Iterator[Manifest | ExportPosition | ExportDone]:
        """The export into Parquet files, then the records it left out (whole, over REST) as
        files of typed records; an ExportPosition once a page's files are out, ExportDone at
        the end."""
        for manifest in self.bulk.parquet_batches(batch_config):
            if isinstance(manifest, PageDone):
                yield ExportPosition(manifest.position)
            else:
                yield batch_config.encoding, manifest
        records = (out for page in self.hidden.missing(self.bulk)
                   for record in self.complete(page) if (out := typed(record)) is not None)
        yield from typed_files(records)
        self.logger.info(
            "%s: backfilled through %d Bulk Read job(s) into Parquet; going on over REST "
            "from %s", self.module, self.bulk.jobs, self.since)
        yield ExportDone(self.since)
