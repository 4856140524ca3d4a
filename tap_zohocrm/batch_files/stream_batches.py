"""BATCH files written by the tap itself, per stream: Parquet rows built from the schema,
JSONL records encoded by msgspec (see batch_files.parquet and batch_files.jsonl)."""

from __future__ import annotations

from collections.abc import Iterator
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

    if TYPE_CHECKING:  # provided by the SDK's stream
        def _sync_records(self, context: Context | None, *, write_messages: bool
                          ) -> Iterator[dict[str, Any]]: ...

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
        for manifest in files.write(rows.batches(records), rows.schema):
            yield batch_config.encoding, manifest
