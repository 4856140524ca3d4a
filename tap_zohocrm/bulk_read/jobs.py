"""Bulk Read backfill: a module's first full read through Zoho's export jobs.

Get Records costs a call (a credit) per 200 records and more per extra 50 fields; a Bulk Read job
exports up to 200,000 records with all fields for 50 credits. For a module with no bookmark and
more records than `bulk_read_threshold`, the tap creates the jobs, polls them, downloads each ZIP
(its CSV inflated to a temporary file as it arrives: zip_stream), reads the CSV with pyarrow in
batches (bounded memory), and emits records typed like the REST path (or, with Parquet output,
converts it with Arrow alone: csv_parquet); then it goes on over REST with If-Modified-Since at
the first job's start, which catches everything changed during the export.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
from singer_sdk.helpers._batch import BatchConfig

from tap_zohocrm.batch_files.parquet import ParquetFiles, ParquetRows
from tap_zohocrm.bulk_read.csv_parquet import ArrowConverter, row_groups
from tap_zohocrm.bulk_read.export_gaps import ExportedIds, LeftOutFields
from tap_zohocrm.bulk_read.zip_stream import ZipCsvInflater
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.responses import is_refusal, response_json
from tap_zohocrm.sync.read_ahead import PageFeed

if TYPE_CHECKING:
    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.zoho_api import ZohoApi

BATCH_ROWS = 2_000  # records per batch handed to the emitter
# CSV bytes per Arrow block on the Parquet path. Arrow's CSV reader holds memory in proportion
# to its block size: small blocks, joined into row groups (csv_parquet.row_groups), keep a large
# export's peak memory low (docs/benchmarks.md has the figures).
PARQUET_BLOCK_BYTES = 1 << 20
POLL_FIRST_SECONDS = 1.0
POLL_MAX_SECONDS = 30.0
JOB_TIMEOUT_SECONDS = 6 * 3600


def use_jemalloc() -> None:
    """Arrow's jemalloc pool for the export's blocks, unless ARROW_DEFAULT_MEMORY_POOL names one.

    Arrow's default (mimalloc) keeps the freed blocks of a large export; jemalloc hands them
    back, at the same speed, so the peak memory is lower (docs/benchmarks.md).
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    # A pyarrow build without jemalloc (Windows wheels) keeps its default.
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def _lookup(value: str) -> dict[str, Any]:
    return {"id": value}


def _split(value: str) -> list[str]:
    return [part for part in value.split(";") if part]


def _tags(value: str) -> list[dict[str, str]]:
    return [{"name": name} for name in value.split(",") if name]


def _json_or_text(value: str) -> Any:
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def csv_value_parsers(schema: dict[str, Any]) -> dict[str, Callable[[str], Any]]:
    """How to turn a CSV cell into the REST path's JSON shape, per property (strings stay).

    Scalars are converted later by the stream's own post_process (integers, numbers,
    booleans, UTC datetimes), exactly as for REST records.
    """
    parsers: dict[str, Callable[[str], Any]] = {}
    for name, prop in schema.get("properties", {}).items():
        types = prop.get("type") or []
        types = [types] if isinstance(types, str) else types
        if name == "Tag":
            parsers[name] = _tags  # tag names, comma-separated
        elif "object" in types:
            # The CSV carries a lookup's id only; objects of other shapes come as JSON text.
            parsers[name] = _lookup if "id" in (prop.get("properties") or {}) else _json_or_text
        elif "array" in types:
            items = prop.get("items") or {}
            parsers[name] = _split if items.get("type") == "string" else _json_or_text
    return parsers


# Zoho's answers to a job created from a saved page_token that no longer holds (expired after
# a day, or bound to other fields): the export starts over from its first page.
STALE_TOKEN_CODES = frozenset({"EXPIRED_VALUE", "INVALID_DATA", "TOKEN_BOUND_DATA_MISMATCH"})
# Zoho's answers to a job naming a field it will not export: the job goes without it, and the
# field is read over REST (export_gaps.LeftOutFields).
REFUSED_FIELD_CODES = frozenset({"FIELD_NOT_SUPPORTED", "FIELD_NOT_AVAILABLE"})


class BulkReadRefused(ZohoAPIError):
    """Zoho refused a Bulk Read job of the module (MODULE_NOT_SUPPORTED, no permission or
    scope): the stream reads it over REST instead."""


class PageDone:
    """Every row of an export page has been handed on: where the export goes on from."""

    def __init__(self, position: dict[str, Any]) -> None:
        self.position = position


class BulkRead:
    """One module's export, page by page (a job per 200,000 records).

    `resume` is a position saved in the stream's state after a page (PageDone.position): the
    export goes on from the next page, and its start stays the first job's. `left_out`: the
    selected fields the export will not carry, filled over REST; `count`: Zoho's Record Count
    of every record (None when refused), asked when the first job is created. `schema` is the
    stream's; `post_process` types a record as the stream's REST records are (the per-record
    path of a Parquet export); `tap_name` names its Parquet files.
    """

    def __init__(self, api: ZohoApi[ZohoRun], fields: list[str] | None,
                 resume: dict[str, Any] | None = None, *, schema: dict[str, Any],
                 left_out: LeftOutFields, count: Callable[[], int | None],
                 post_process: Callable[[dict[str, Any]], dict[str, Any] | None],
                 tap_name: str) -> None:
        self.api = api
        self.run = api.run
        self.module_api_name = api.module_api_name
        self.schema = schema
        self.fields = fields
        self.left_out = left_out
        self._count = count
        self._post_process = post_process
        self._tap_name = tap_name
        self._known_keys = frozenset(schema.get("properties", {}))
        self.base = f"{self.run.api_domain}/crm/bulk/{self.run.api_version}/read"
        self.parsers = csv_value_parsers(schema)
        self.jobs = 0
        resume = resume or {}
        # created_time of the first job (Zoho's clock): REST goes on from it afterwards.
        self.started_at: str | None = resume.get("started_at")
        self._page = int(resume.get("page") or 1)
        self._token: str | None = resume.get("page_token")
        self.resumed = bool(self.started_at)
        self.count_at_start: int | None = resume.get("count")
        self.exported = ExportedIds(int(resume.get("rows") or 0))

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        return self.api.call("", method=method, url=url, **kwargs)

    def create_job(self, page: int, page_token: str | None) -> str:
        query: dict[str, Any] = {"module": {"api_name": self.module_api_name}, "page": page}
        if self.fields:
            query["fields"] = self.fields
        if page_token:
            query = {**query, "page_token": page_token}
            query.pop("page")
        try:
            response = self._call("POST", self.base, json={"query": query, "file_type": "csv"})
        except ZohoAPIError as exc:
            refused = exc.details.get("api_name")
            if exc.code not in REFUSED_FIELD_CODES or refused not in (self.fields or ()):
                raise
            self.api.logger.warning("%s: Bulk Read refuses field %s (%s); the export goes "
                                       "without it and it is read over REST",
                                       self.module_api_name, refused, exc.code)
            self.fields = [f for f in self.fields or () if f != refused]
            self.left_out.add(str(refused))
            return self.create_job(page, page_token)
        details = (response_json(response).get("data") or [{}])[0].get("details") or {}
        if not details.get("id"):
            raise ZohoAPIError(f"Bulk Read job for {self.module_api_name} was not created")
        self.jobs += 1
        if self.started_at is None and details.get("created_time"):
            self.started_at = details["created_time"]
        return str(details["id"])

    def wait(self, job_id: str) -> dict[str, Any]:
        wait, deadline = POLL_FIRST_SECONDS, time.monotonic() + JOB_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            job = (response_json(self._call("GET", f"{self.base}/{job_id}")).get("data")
                   or [{}])[0]
            state = job.get("state")
            if state == "COMPLETED":
                return job.get("result") or {}
            if state in ("FAILURE", "FAILED"):
                raise ZohoAPIError(
                    f"Bulk Read job {job_id} of {self.module_api_name} failed")
            self.run.stop.sleep(wait)  # a stop ends the wait (RunStopped)
            wait = min(wait * 1.5, POLL_MAX_SECONDS)
        raise ZohoAPIError(
            f"Bulk Read job {job_id} of {self.module_api_name} did not finish")

    def download(self, job_id: str, into: BinaryIO) -> None:
        """Stream the ZIP and write its CSV, inflated as it arrives (zip_stream), to `into`: a
        job's export is far too large to hold in memory."""
        response = self.api.call("", url=f"{self.base}/{job_id}/result", stream=True)
        csv_file = ZipCsvInflater(into, f"{self.module_api_name} job {job_id}")
        for chunk in response.iter_content(chunk_size=1 << 20):
            self.run.stop.check()  # a large export: no need to download the rest
            csv_file.feed(chunk)
        csv_file.close()
        if not csv_file.name.lower().endswith(".csv"):
            raise ZohoAPIError(f"Bulk Read result of {self.module_api_name} job {job_id} holds "
                               f"{csv_file.name!r}, not the CSV export asked for")

    def _first_job(self) -> str:
        """The next page's job; a saved page_token Zoho no longer takes starts the export over.
        A new export asks Zoho's Record Count first: the rows are compared with it at the end.
        Raises BulkReadRefused when Zoho will not export the module."""
        if not self.resumed:
            self.count_at_start = self._count()
        try:
            return self.create_job(self._page, self._token)
        except ZohoAPIError as exc:
            if not (self.resumed and exc.code in STALE_TOKEN_CODES):
                if is_refusal(exc.status, exc.code) and exc.code not in STALE_TOKEN_CODES:
                    raise BulkReadRefused(str(exc), status=exc.status, code=exc.code,
                                          details=exc.details) from exc
                raise
            self.api.logger.warning(
                "%s: the Bulk Read export cut off by an earlier run cannot go on (%s); it "
                "starts over from its first page", self.module_api_name, exc.code)
        self.started_at, self._page, self._token, self.resumed = None, 1, None, False
        self.exported = ExportedIds()
        self.count_at_start = self._count()
        return self.create_job(1, None)

    def _exports(self) -> Iterator[str | PageDone]:
        """Every page of the export: a job each, waited for, downloaded and inflated to a
        temporary CSV file (removed when the next page starts); yields the file's path, then,
        once its rows are handed on, a PageDone with where the export goes on from."""
        use_jemalloc()
        job_id = self._first_job()
        while True:
            result = self.wait(job_id)
            with tempfile.TemporaryDirectory(prefix="tap-zohocrm-bulk-") as folder:
                path = os.path.join(folder, f"{job_id}.csv")
                with open(path, "wb") as csv_file:
                    self.download(job_id, csv_file)
                yield path
            if not result.get("more_records"):
                return
            self._page += 1
            self._token = result.get("next_page_token")
            yield PageDone({"started_at": self.started_at, "page": self._page,
                            "page_token": self._token, "count": self.count_at_start,
                            "rows": self.exported.rows})
            job_id = self.create_job(self._page, self._token)

    def batches(self) -> Iterator[list[dict[str, Any]] | PageDone]:
        """Record batches of every page of the export, typed like REST records, and a PageDone
        after each page but the last."""
        for path in self._exports():
            if isinstance(path, PageDone):
                yield path
                continue
            header = self._csv_header(path)
            self.left_out.see_header(header)
            # Blocks joined to BATCH_ROWS at least: the `ids=` calls that fill left-out fields
            # take 100 ids each, and a block's last call is mostly short.
            blocks = self._csv_blocks(path, header, block_size=1 << 20, threads=False)
            for batch in row_groups(blocks, rows=BATCH_ROWS):
                # Small slices: each becomes Python dicts queued for the emitter.
                for offset in range(0, batch.num_rows, BATCH_ROWS):
                    yield self._records(batch.slice(offset, BATCH_ROWS))

    def parquet_batches(self, batch_config: BatchConfig) -> Iterator[list[str] | PageDone]:
        """Parquet BATCH manifests of the whole export, converted by Arrow (csv_parquet), and
        a PageDone after each page but the last (its files are closed by then).

        Blocks that do not cast, and exports with a column Arrow cannot rebuild, go through
        the per-record path (post_process, then Parquet rows as for REST records) instead.
        """
        name, logger = self.api.name, self.api.logger
        files = ParquetFiles(batch_config, self._tap_name, name)
        rows = ParquetRows(self.schema)
        report = self.run.report
        stream_report = report.stream(name)
        for path in self._exports():
            if isinstance(path, PageDone):
                yield path
                continue
            header = self._csv_header(path)
            self.left_out.see_header(header)
            # Arrow's reader threads parse the next block while this one converts and writes.
            reader = self._csv_blocks(path, header, block_size=PARQUET_BLOCK_BYTES, threads=True)
            converter = ArrowConverter(self.schema, header)
            # Records the Arrow path cannot take, written as REST records are.
            record_files = ParquetFiles(batch_config, self._tap_name, name)
            if not converter.complete:
                logger.warning(
                    "%s: Bulk Read columns %s have no Arrow conversion; the export goes "
                    "through the per-record path", self.module_api_name, converter.unsupported)
                yield from record_files.write(rows.batches(
                    record for batch in reader for record in self._typed_records(batch)),
                    rows.schema)
                continue
            leftovers: list[pa.RecordBatch] = []

            def converted(batches: Iterable[pa.RecordBatch],
                          leftovers: list[pa.RecordBatch] = leftovers,
                          converter: ArrowConverter = converter) -> Iterator[pa.RecordBatch]:
                for batch in row_groups(batches):
                    try:
                        table = converter.convert(batch)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        leftovers.append(batch)  # rare: bad values in a typed column
                        continue
                    self.exported.add_batch(table)
                    table = self.left_out.fill_table(table)
                    report.add_records(name, stream_report, table.num_rows, logger)
                    yield table

            # CSV parsing and casting run in a thread while this one writes Parquet (both
            # mostly in Arrow's C++, outside the GIL); one row group ahead bounds memory.
            def produce(feed: PageFeed, blocks: Iterator[pa.RecordBatch] = reader,
                        convert: Callable[..., Iterator[pa.RecordBatch]] = converted) -> None:
                for table in convert(blocks):
                    feed.put(table)

            feed = PageFeed(f"{name}-bulk", produce, ahead=1, stop=self.run.stop)
            try:
                yield from files.write(iter(feed), rows.schema)  # the REST path's schema
            finally:
                feed.close()
            if leftovers:
                yield from record_files.write(rows.batches(
                    record for batch in leftovers for record in self._typed_records(batch)),
                    rows.schema)
        if files.rows:
            logger.info(
                "%s: %d Bulk Read records converted CSV -> Parquet by Arrow in %.2f s "
                "(%.0f records/s)", self.module_api_name, files.rows, files.seconds,
                files.rows / max(files.seconds, 1e-9))

    def _typed_records(self, batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
        """The per-record path for one block: REST-shaped, then typed by post_process."""
        for record in self._records(batch):
            typed = self._post_process(record)
            if typed is not None:
                yield typed

    @staticmethod
    def _csv_header(path: str) -> list[str]:
        with open(path, encoding="utf-8", newline="") as text:
            return next(csv.reader(text), [])

    @staticmethod
    def _csv_blocks(path: str, header: list[str], *, block_size: int, threads: bool
                    ) -> Iterator[pa.RecordBatch]:
        """The export's CSV a block at a time (no read-ahead of the whole export), every
        column as text."""
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block_size, use_threads=threads),
            # Text areas hold line breaks; without this Arrow splits blocks inside a cell.
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={column: pa.string() for column in header},
                # Only an empty cell is null: Arrow's default null markers would turn text such
                # as "N/A", "NULL" or "nan" (a company, a note) into null. Checking one marker
                # instead of 17 also parses ~10% faster.
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        try:
            yield from reader
        finally:
            reader.close()

    def _records(self, batch: pa.RecordBatch) -> list[dict[str, Any]]:
        known = self._known_keys
        self.exported.add_batch(batch)
        rows = batch.to_pylist()
        parsers = [(k, p) for k, p in self.parsers.items() if k in batch.schema.names]
        for row in rows:
            if "Id" in row and "id" not in row:
                row["id"] = row.pop("Id")  # some exports head the id column "Id"
            for key in [k for k in row if k not in known]:
                del row[key]  # dot-notation or UI columns the schema lacks
            for key, parse in parsers:
                value = row.get(key)
                if value is not None:
                    row[key] = parse(value)
        self.left_out.fill_records(rows)
        return rows
