"""Smoke test of the benchmark (bench/run.py) in a tiny configuration.

Only tap-zohocrm and the plain singer-sdk baseline: Airbyte's connector lives in its own
virtual environment, which CI does not build.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import ROOT

COLUMNS = ("contender", "records", "wall s", "records/s", "CPU s", "peak RSS MB", "API calls",
           "calls/1k rec", "token req")


def bench(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "bench/run.py", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"bench/run.py failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def table(output: str, first_column: str) -> dict[str, dict[str, str]]:
    """The markdown table whose header starts with `first_column`, by row label."""
    lines = [line for line in output.splitlines() if line.startswith("|")]
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_column}"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != len(header):
            break
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def test_end_to_end_table_has_every_column_for_each_contender() -> None:
    out = bench("--latency-ms", "0", "--size", "Leads=300,Deals=100", "--contenders", "tap,sdk")
    rows = table(out, "contender")
    assert set(rows) == {"tap-zohocrm", "plain singer-sdk"}
    for row in rows.values():
        assert set(COLUMNS) <= set(row)
        assert row["records"] == "400"  # every record, none missing
        assert float(row["wall s"]) > 0
        assert float(row["records/s"].replace(",", "")) > 0
        assert float(row["CPU s"]) > 0
        assert float(row["peak RSS MB"]) > 10
        assert int(row["API calls"].replace(",", "")) >= 2
        assert int(row["token req"]) >= 1
    assert "tap-zohocrm is " in out and " than plain singer-sdk (records/s)" in out


def test_all_streams_selects_every_stream_and_prints_the_ratio_to_the_floor() -> None:
    out = bench("--latency-ms", "5", "--size", "Leads=300", "--contenders", "tap",
                "--all-streams")
    row = table(out, "contender")["tap-zohocrm"]
    # The org streams' records (users, fields, ...) come on top of the 300 Leads.
    assert int(row["records"].replace(",", "")) > 300
    calls = int(row["API calls"].replace(",", ""))
    floor = next(line for line in out.splitlines() if "x the floor of" in line)
    assert f"({calls:,} API calls x 5 ms / 5 in flight)" in floor
    wall, ratio = (float(x) for x in re.findall(r"([\d.]+) s, ([\d.]+)x", floor)[0])
    assert abs(ratio * calls * 0.005 / 5 - wall) <= 0.051  # the wall time is printed rounded


def test_per_record_mode_compares_identical_output() -> None:
    out = bench("--per-record", "--records", "300", "--repeat", "1", "--rounds", "1")
    rows = table(out, "path")
    assert set(rows) == {"tap-zohocrm ModuleStream", "plain singer-sdk, same conversions",
                         "plain singer-sdk, bare default"}
    for row in rows.values():
        assert float(row["best records/s"].replace(",", "")) > 0
        assert float(row["median records/s"].replace(",", "")) > 0
    assert "identical on all 300 sample records" in out


def test_bulk_read_mode_compares_records_and_parquet_outputs() -> None:
    out = bench("--bulk-read", "--size", "Leads=1200")
    rows = table(out, "output")
    assert set(rows) == {"records", "parquet gzip", "parquet snappy"}
    for label, row in rows.items():
        assert row["records"] == "1,200", label  # the whole module, whichever output
        assert float(row["peak RSS MB"]) > 10
    for label in ("parquet gzip", "parquet snappy"):
        assert float(rows[label]["CSV -> Parquet records/s"].replace(",", "")) > 0
        assert float(rows[label]["files MB"]) > 0
