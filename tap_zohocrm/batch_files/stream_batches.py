"""BATCH files written by the tap itself, per stream: Parquet rows built from the schema,
JSONL records encoded by msgspec (see batch_files.parquet and batch_files.jsonl)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from typing_extensions import override

from tap_zohocrm.batch_files.jsonl import JsonlFiles
from tap_zohocrm.batch_files.parquet import ParquetFiles, ParquetRows

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class StreamBatches:
    """The BATCH part of a Zoho stream (mixed into ZohoStream, before the SDK's stream)."""

    name: str
    tap_name: str
    schema: dict[str, Any]
    config: Any

    if TYPE_CHECKING:  # provided by the SDK's stream
        _tap: Any
        state_manager: Any
        stream_state: dict[str, Any]

        def _sync_records(self, context: Context | None, *, write_messages: bool
                          ) -> Iterator[dict[str, Any]]: ...
        def get_batch_config(self, config: Any) -> BatchConfig | None: ...

    @property
    def writes_batches(self) -> bool:
        return self.get_batch_config(self.config) is not None

    @override
    def _write_state_message(self) -> None:
        """With BATCH output a stream's state already counts the records of the file it is
        writing, not yet out (a BATCH message, then a STATE, follow once it is closed), and
        streams synced side by side each have such a file. So a STATE changes only this
        stream's entry, written when its file is out, and keeps every other stream's as the
        last STATE had it: a run killed at any point resumes from files written out.
        Called under the run's state lock (ZohoStream)."""
        if not self.writes_batches:
            super()._write_state_message()  # type: ignore[misc]
            return
        if self.state_manager.is_flushed:
            return
        value = self._tap.message_writer.last_state() or {}
        value.setdefault("bookmarks", {})[self.name] = self.stream_state
        self._tap.state_writer.write_state(value)
        self.state_manager.is_flushed = True

    def write_state_where_stopped(self) -> None:
        """The STATE of a stream that stops before its end (a failure, a credit budget). None
        with BATCH output: the records read since its last file are in no file written out,
        and the STATE written after that file stands."""
        if not self.writes_batches:
            self._write_state_message()

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH files; for Parquet, rows built from the schema (see parquet_batch); for
        JSONL, records written by msgspec (see jsonl_batch)."""
        if batch_config.encoding.format == "jsonl":
            jsonl = JsonlFiles(batch_config, self.tap_name, self.name)
            for manifest in jsonl.write_rows(self._sync_records(context, write_messages=False)):
                yield batch_config.encoding, manifest
            return
        if batch_config.encoding.format != "parquet":
            yield from super().get_batches(batch_config, context)  # type: ignore[misc]
            return
        yield from self._parquet_files(batch_config,
                                       self._sync_records(context, write_messages=False))

    def _parquet_files(self, batch_config: BatchConfig, records: Iterator[dict[str, Any]]
                       ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """Parquet BATCH files of these records (typed as post_process leaves them)."""
        rows = ParquetRows(self.schema)
        files = ParquetFiles(batch_config, self.tap_name, self.name)
        per_file = max(1, int(batch_config.batch_size or 10_000))

        def batches() -> Iterator[Any]:
            # One file's rows at a time: a record taken moves the bookmark, so a batch that
            # reached into the next file would put its rows under the STATE after this one.
            iterator = iter(records)
            while (first := next(iterator, None)) is not None:
                yield from rows.batches(chain([first], islice(iterator, per_file - 1)))

        for manifest in files.write(batches(), rows.schema):
            yield batch_config.encoding, manifest
