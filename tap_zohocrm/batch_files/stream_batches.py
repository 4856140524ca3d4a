"""BATCH files written by the tap itself, per stream: Parquet rows built from the schema,
JSONL records encoded by msgspec (see batch_files.parquet and batch_files.jsonl)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, islice
from typing import Any

from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from singer_sdk.helpers.types import TapState

from tap_zohocrm.batch_files.jsonl import JsonlFiles
from tap_zohocrm.batch_files.parquet import ParquetFiles, ParquetRows

Manifest = tuple[BaseBatchFileEncoding, list[str]]


class StreamBatches:
    """One stream's BATCH files, written from its typed records."""

    def __init__(self, tap_name: str, stream_name: str, schema: dict[str, Any]) -> None:
        self.tap_name = tap_name
        self.stream_name = stream_name
        self.schema = schema

    def write(self, batch_config: BatchConfig,
              records: Iterator[dict[str, Any]]) -> Iterator[Manifest] | None:
        """The files of these records, or None for a format the SDK writes itself."""
        if batch_config.encoding.format == "jsonl":
            return self._jsonl(batch_config, records)
        if batch_config.encoding.format == "parquet":
            return self.parquet(batch_config, records)
        return None

    def _jsonl(self, batch_config: BatchConfig,
               records: Iterator[dict[str, Any]]) -> Iterator[Manifest]:
        jsonl = JsonlFiles(batch_config, self.tap_name, self.stream_name)
        for manifest in jsonl.write_rows(records):
            yield batch_config.encoding, manifest

    def parquet(self, batch_config: BatchConfig,
                records: Iterator[dict[str, Any]]) -> Iterator[Manifest]:
        """Parquet BATCH files of these records (typed as post_process leaves them)."""
        rows = ParquetRows(self.schema)
        files = ParquetFiles(batch_config, self.tap_name, self.stream_name)
        per_file = max(1, int(batch_config.batch_size or 10_000))

        def batches() -> Iterator[Any]:
            # One file's rows at a time: a record taken moves the bookmark, so a batch that
            # reached into the next file would put its rows under the STATE after this one.
            iterator = iter(records)
            while (first := next(iterator, None)) is not None:
                yield from rows.batches(chain([first], islice(iterator, per_file - 1)))

        for manifest in files.write(batches(), rows.schema):
            yield batch_config.encoding, manifest


def state_with_stream(last_state: dict[str, Any] | None, stream_name: str,
                      stream_state: dict[str, Any]) -> TapState:
    """The STATE to write with BATCH output: this stream's entry as it is now, every other
    stream's as the last STATE had it.

    A stream's state already counts the records of the file it is writing, not yet out (a
    BATCH message, then a STATE, follow once it is closed), and streams synced side by side
    each have such a file: a run killed at any point resumes from files written out."""
    bookmarks = dict((last_state or {}).get("bookmarks") or {})
    bookmarks[stream_name] = stream_state
    return TapState(bookmarks=bookmarks)  # a tap's state holds its bookmarks only
