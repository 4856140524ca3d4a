"""A Bulk Read result ZIP inflated while it downloads: the export's CSV lands on disk as it
arrives.

Zoho sends one CSV per job, zipped. Reading it back through `zipfile` after the download costs a
second pass over a large file in which nothing else happens;
inflated chunk by chunk as it arrives, the work overlaps the network wait, and Arrow then reads
a plain file by its path (no Python file object in its reader threads). Only the first member
is read: the CSV. Its CRC-32 and sizes are checked, so a truncated or damaged download fails
instead of losing rows.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from tap_zohocrm.errors import ZohoAPIError

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
LOCAL_SIGNATURE = b"PK\x03\x04"
DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
STORED, DEFLATED = 0, 8
FLAG_ENCRYPTED, FLAG_DESCRIPTOR = 0x1, 0x8
ZIP64_EXTRA = 0x0001


class ZipCsvInflater:
    """Feed it the ZIP's bytes in order; it writes the first member (the CSV) to `out`."""

    def __init__(self, out: BinaryIO, what: str) -> None:
        self.out = out
        self.what = what  # names the export in errors
        self.name = ""
        self.size = 0  # bytes of CSV written
        self._head = b""  # bytes before the member's data (header not yet complete)
        self._started = False
        self._method = DEFLATED
        self._flags = 0
        self._crc_expected = 0
        self._size_expected: int | None = None
        self._stored_left = 0
        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self._crc = 0
        self._done = False
        self._after = b""  # bytes after the member's data: its data descriptor, if any

    def _fail(self, why: str) -> ZohoAPIError:
        return ZohoAPIError(f"Bulk Read result of {self.what} is not a readable ZIP: {why}")

    def feed(self, chunk: bytes) -> None:
        if self._done:
            if len(self._after) < 24:
                self._after += chunk[:24]
            return
        if not self._started:
            self._head += chunk
            if not self._read_header():
                return
            chunk, self._head = self._head, b""
        self._member_data(chunk)

    def _read_header(self) -> bool:
        head = self._head
        if len(head) < LOCAL_HEADER.size:
            return False
        (signature, _, flags, method, _, _, crc, compressed, uncompressed, name_length,
         extra_length) = LOCAL_HEADER.unpack_from(head)
        if signature != LOCAL_SIGNATURE:
            raise self._fail("it does not start with a ZIP local file header")
        start = LOCAL_HEADER.size + name_length + extra_length
        if len(head) < start:
            return False
        self.name = head[LOCAL_HEADER.size:LOCAL_HEADER.size + name_length].decode(
            "utf-8", "replace")
        if flags & FLAG_ENCRYPTED:
            raise self._fail(f"{self.name} is encrypted")
        if method not in (STORED, DEFLATED):
            raise self._fail(f"{self.name} uses compression method {method}")
        if 0xFFFFFFFF in (compressed, uncompressed):
            compressed, uncompressed = self._zip64_sizes(
                head[LOCAL_HEADER.size + name_length:start], compressed, uncompressed)
        self._flags, self._method = flags, method
        if not flags & FLAG_DESCRIPTOR:
            self._crc_expected, self._size_expected = crc, uncompressed
        elif method == STORED:
            raise self._fail(f"{self.name} is stored with its size after the data")
        self._stored_left = compressed
        self._head = head[start:]
        self._started = True
        return True

    def _zip64_sizes(self, extra: bytes, compressed: int, uncompressed: int) -> tuple[int, int]:
        offset = 0
        while offset + 4 <= len(extra):
            field, length = struct.unpack_from("<HH", extra, offset)
            if field == ZIP64_EXTRA:
                values = list(struct.unpack_from(f"<{length // 8}Q", extra, offset + 4))
                if uncompressed == 0xFFFFFFFF and values:
                    uncompressed = values.pop(0)
                if compressed == 0xFFFFFFFF and values:
                    compressed = values.pop(0)
                return compressed, uncompressed
            offset += 4 + length
        raise self._fail("ZIP64 sizes without their extra field")

    def _member_data(self, chunk: bytes) -> None:
        if self._method == STORED:
            data, rest = chunk[:self._stored_left], chunk[self._stored_left:]
            self._stored_left -= len(data)
            self._write(data)
            if self._stored_left == 0:
                self._done, self._after = True, rest[:24]
            return
        self._write(self._inflate.decompress(chunk))
        if self._inflate.eof:
            self._done, self._after = True, self._inflate.unused_data[:24]

    def _write(self, data: bytes) -> None:
        if data:
            self._crc = zlib.crc32(data, self._crc)
            self.size += len(data)
            self.out.write(data)

    def close(self) -> None:
        """Check that the whole member arrived intact."""
        if not self._done:
            raise self._fail("the download ended before the CSV did")
        if self._flags & FLAG_DESCRIPTOR:
            after = self._after
            if after[:4] == DESCRIPTOR_SIGNATURE:
                after = after[4:]
            if len(after) < 4:
                raise self._fail("its data descriptor is missing")
            self._crc_expected = struct.unpack_from("<I", after)[0]
        if self._crc != self._crc_expected:
            raise self._fail(f"CRC-32 of {self.name} does not match (damaged download)")
        if self._size_expected is not None and self.size != self._size_expected:
            raise self._fail(f"{self.name} has {self.size} bytes, its header says "
                             f"{self._size_expected}")
        self.out.flush()
