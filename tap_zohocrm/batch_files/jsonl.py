"""JSONL BATCH files: one record per line, encoded by msgspec, gzip at level 1 when asked.

The SDK's JSONL batcher encodes each record with simplejson and always gzips at level 9,
even with `compression: none`, whose files the SDK's targets then read as plain text. Records
here are already JSON-native (post_process), so msgspec writes them as the tap's RECORD
messages carry them.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any
from uuid import uuid4

import msgspec
from singer_sdk.helpers._batch import BatchConfig

from tap_zohocrm.batch_files.storage import open_batch_file

LINES_PER_WRITE = 500


@dataclass
class JsonlFiles:
    """JSONL files of one stream's BATCH output, rolled over every `batch_size` records."""

    batch_config: BatchConfig
    tap_name: str
    stream_name: str

    def write_rows(self, rows: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
        """The records into files of batch_size records; a manifest per file."""
        storage = self.batch_config.storage
        gzipped = self.batch_config.encoding.compression == "gzip"
        limit = max(1, int(self.batch_config.batch_size or 10_000))
        sync_id = f"{self.tap_name}--{self.stream_name}-{uuid4()}"
        encode = msgspec.json.Encoder(decimal_format="number").encode  # as RECORD has it
        iterator = iter(rows)
        index = 0
        while part := list(islice(iterator, min(limit, LINES_PER_WRITE))):
            index += 1
            filename = (f"{storage.prefix or ''}{sync_id}={index}.jsonl"
                        + (".gz" if gzipped else ""))
            with open_batch_file(storage, filename) as raw, \
                    (gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if gzipped
                     else raw) as out:
                left = limit
                while part:
                    out.write(b"\n".join(map(encode, part)) + b"\n")
                    left -= len(part)
                    part = list(islice(iterator, min(left, LINES_PER_WRITE))) if left else []
            yield [storage.get_url(filename)]
