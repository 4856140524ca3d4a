"""Where BATCH files are written: local files by the tap itself, other storage through fsspec.

A local file is written under a temporary name and renamed when complete (as fsspec's
transaction does), so a target never reads half a file, and a failed run leaves none behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import uuid4

import pyarrow as pa
from singer_sdk.helpers._batch import StorageTarget


@contextmanager
def open_batch_file(storage: StorageTarget, filename: str, *, arrow: bool = False
                    ) -> Iterator[Any]:
    """`filename` in the storage, open for writing bytes.

    `arrow=True` gives an Arrow stream for a local file: fsspec's file object is Python, so
    every Parquet page Arrow writes to it crosses into Python under the GIL, contended by the
    thread preparing the next row group.
    """
    url = urlparse(storage.get_url(filename))
    if url.scheme != "file" or url.netloc not in ("", "localhost"):
        with storage.open(filename, "wb") as handle:
            yield handle
        return
    path = unquote(url.path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{uuid4().hex[:8]}.partial"
    try:
        with (pa.output_stream(partial, buffer_size=1 << 20) if arrow
              else open(partial, "wb")) as handle:
            yield handle
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):  # abandoned (a failure): no half-written file left
            os.remove(partial)
