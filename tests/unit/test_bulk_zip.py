"""The Bulk Read ZIP inflated as it downloads (tap_zohocrm.bulk_read.zip_stream): every layout
a ZIP writer may use for the one CSV, and damaged downloads failing instead of losing rows."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from tap_zohocrm.bulk_read.zip_stream import ZipCsvInflater
from tap_zohocrm.errors import ZohoAPIError


class Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then puts sizes and CRC in a data descriptor."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def csv_text(rows: int = 3000) -> bytes:
    rnd = random.Random(rows)
    lines = ["Id,Last_Name,Description"]
    lines += [f'{i},Name {i},"{"x" * rnd.randint(0, 400)}, ""q"" {i}"' for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def zipped(data: bytes, *, method: int = zipfile.ZIP_DEFLATED, seekable: bool = True,
           zip64: bool = False) -> bytes:
    target: io.BytesIO | Unseekable = io.BytesIO() if seekable else Unseekable()
    with zipfile.ZipFile(target, "w", compression=method) as zf, \
            zf.open("123.csv", "w", force_zip64=zip64) as member:
        member.write(data)
    return bytes(target.getvalue() if isinstance(target, io.BytesIO) else target.data)


def inflate(archive: bytes, chunk: int) -> tuple[bytes, str]:
    out = io.BytesIO()
    inflater = ZipCsvInflater(out, "Leads job 1")
    for offset in range(0, len(archive), chunk):
        inflater.feed(archive[offset:offset + chunk])
    inflater.close()
    return out.getvalue(), inflater.name


@pytest.mark.parametrize("layout", [
    {"method": zipfile.ZIP_DEFLATED},
    {"method": zipfile.ZIP_STORED},
    {"method": zipfile.ZIP_DEFLATED, "seekable": False},  # sizes after the data
    {"method": zipfile.ZIP_DEFLATED, "zip64": True},
    {"method": zipfile.ZIP_STORED, "zip64": True},
])
@pytest.mark.parametrize("chunk", [7, 4096, 1 << 20])
def test_every_layout_gives_back_the_csv_byte_for_byte(layout: dict, chunk: int) -> None:
    data = csv_text()
    archive = zipped(data, **layout)
    assert zipfile.ZipFile(io.BytesIO(archive)).read("123.csv") == data  # a valid ZIP
    out, name = inflate(archive, chunk)
    assert out == data
    assert name == "123.csv"


@pytest.mark.parametrize("seekable", [True, False])
def test_a_truncated_download_fails(seekable: bool) -> None:
    archive = zipped(csv_text(), seekable=seekable)
    with pytest.raises(ZohoAPIError, match="ended before the CSV did"):
        inflate(archive[:len(archive) // 2], 4096)


def test_a_damaged_download_fails_on_its_crc() -> None:
    data = csv_text()
    archive = bytearray(zipped(data, method=zipfile.ZIP_STORED))
    archive[len(archive) // 2] ^= 0x20  # one flipped bit in the stored CSV
    with pytest.raises(ZohoAPIError, match=r"CRC-32 of 123\.csv does not match"):
        inflate(bytes(archive), 4096)


def test_not_a_zip_names_the_export() -> None:
    with pytest.raises(ZohoAPIError, match="Bulk Read result of Leads job 1 is not a readable "
                                           "ZIP: it does not start"):
        inflate(b'{"code": "INTERNAL_ERROR", "status": "error"}' + b" " * 40, 4096)
