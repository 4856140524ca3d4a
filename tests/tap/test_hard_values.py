"""Hard values over HTTP: every valid JSON body is read, whatever its strings and numbers hold.

The simulator's hard values (`POST /__sim/hard_values/{module}`, zoho_simulator/hard_values.py):
integers near 2**63 (bigint as text, long as JSON numbers), decimals with more digits than a
double keeps, booleans sent as strings, datetimes in several offsets, emoji, NUL, right-to-left
text, a lone UTF-16 surrogate sent as the JSON escape `\\ud800`, and a 60 KB text area.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import requests

from tests.helpers import discover, run_tap, select_streams, tap_config, utc
from zoho_simulator import Simulator
from zoho_simulator.hard_values import LONG_TEXT

LEADS = 6
REPLACEMENT = "\ufffd"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _report(stderr: str) -> dict[str, Any]:
    line = next(x for x in stderr.splitlines() if "ZOHO_RUN_REPORT " in x)
    return json.loads(line.split("ZOHO_RUN_REPORT ", 1)[1])


def test_a_module_of_hard_values_is_read_whole(
        make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(seed=11, sizes={"Leads": LEADS})
    answer = requests.post(f"{sim.url}/__sim/hard_values/Leads", json={}, timeout=30)
    ids = answer.json()["ids"]
    held = {r["id"]: r for r in sim.records("Leads")}
    surrogate_record = held[ids[3]]
    assert "lone \ud800 surrogate" in _strings(surrogate_record)

    config = tap_config(sim, modules=["Leads"], max_retries=1, retry_backoff_seconds=0.1)
    run = run_tap(config, catalog=select_streams(discover(config), {"leads"}), check=False)

    assert run.returncode == 0, run.stderr[-3000:]
    assert "Truncated or invalid JSON" not in run.stderr
    # Every line is JSON a strict reader takes: UTF-8, no escape of a lone surrogate.
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert "\\ud800" not in run.stdout
    messages = [json.loads(line, parse_float=Decimal) for line in lines]
    records = {m["record"]["id"]: m["record"] for m in messages
               if m["type"] == "RECORD" and m["stream"] == "leads"}
    assert set(records) == set(held)  # every record arrives

    first, second, third, fourth = (records[i] for i in ids)
    # Integers near 2**63 and above 2**53, exact: bigint sent as text, long as numbers.
    assert first["External_Ref_Id"] == 2**63 - 1
    assert third["External_Ref_Id"] == -(2**63)
    assert second["Lifetime_Events"] == 2**53 + 1
    assert fourth["Lifetime_Events"] == 2**63 - 2
    # Decimals with every digit Zoho sent.
    assert first["Weight_Kg"] == Decimal("12345678901234.567891")
    assert first["Budget"] == Decimal("9999999999999999.99")
    assert third["Weight_Kg"] == Decimal("3.14159265358979323846264338327950288")
    assert first["Win_Probability"] == Decimal("33.333333333333333333")
    # Booleans sent as strings, datetimes in other offsets.
    assert (first["Is_Partner"], second["Is_Partner"]) == (True, False)
    for record, sent in zip((first, second, third, fourth),
                            (held[i]["Next_Call_At"] for i in ids), strict=True):
        assert record["Next_Call_At"] == utc(sent)
    assert utc(held[ids[2]]["Next_Call_At"]) == "2025-03-04T09:59:59+00:00"  # from +14:00
    # Text as sent: emoji, NUL, right-to-left, the 60 KB text area.
    assert first["Description"] == LONG_TEXT and len(LONG_TEXT.encode()) >= 60 * 1024
    assert first["Region_Code"] == "emoji 😀👍🏽 🇯🇵 👨‍👩‍👧 end"
    assert second["Region_Code"] == "NUL \u0000 inside"
    assert third["Region_Code"] == "שלום עולם — مرحبا بالعالم"
    # The lone surrogate became U+FFFD, and the run report counts the values it was in.
    assert fourth["Region_Code"] == "lone \ufffd surrogate"
    assert fourth["Last_Name"] == "lone \ufffd surrogate"
    replaced = [s for s in _strings(fourth) if REPLACEMENT in s]
    assert replaced and all(s.count(REPLACEMENT) == 1 or s.startswith("lone \ufffd surrogate ")
                            for s in replaced)
    report = _report(run.stderr)["streams"]["leads"]
    assert report["records"] == LEADS
    assert report["replaced_surrogates"] == len(replaced)
    assert f"{len(replaced)} values with a lone surrogate written with U+FFFD" in run.stderr


def test_a_bulk_read_backfill_of_hard_values_delivers_every_record(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    """The export's CSV: integers exact, decimals with their digits on the record path and as
    doubles in Parquet, text whole. A UTF-8 file cannot hold a lone surrogate: the simulator
    writes "?" there, as a Java UTF-8 encoder does (Zoho does not document its export's)."""
    sim = make_simulator(seed=12, sizes={"Leads": 1010}, bulk_job_seconds=0.2)
    ids = sim.seed_hard_values("Leads")
    batch_config = {"encoding": {"format": "parquet", "compression": "none"},
                    "storage": {"root": (tmp_path / "out").as_uri()}}
    for extra in ({}, {"batch_config": batch_config}):  # the record path, then Arrow's
        config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000, **extra)
        run = run_tap(config, catalog=select_streams(discover(config), {"leads"}), check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "backfilled through 1 Bulk Read job(s)" in run.stderr
        if extra:
            rows = {r["id"]: r for r in _parquet_rows(run.messages, "leads")}
            first = rows[ids[0]]
            assert first["Weight_Kg"] == float("12345678901234.567891")  # a double column
        else:
            rows = {m["record"]["id"]: m["record"] for m in map(
                lambda line: json.loads(line, parse_float=Decimal), run.stdout.splitlines())
                if m["type"] == "RECORD" and m["stream"] == "leads"}
            first = rows[ids[0]]
            assert first["Weight_Kg"] == Decimal("12345678901234.567891")
            assert first["Next_Call_At"] == "2025-03-04T11:45:02+00:00"
        assert len(rows) == 1010
        assert first["External_Ref_Id"] == 2**63 - 1
        assert rows[ids[2]]["Lifetime_Events"] == -(2**63)
        assert (first["Is_Partner"], rows[ids[1]]["Is_Partner"]) == (True, False)
        assert first["Description"] == LONG_TEXT
        assert rows[ids[1]]["Region_Code"] == "NUL \u0000 inside"
        assert rows[ids[2]]["Region_Code"] == "שלום עולם — مرحبا بالعالم"
        # The export's "?", or U+FFFD when REST read the record again after the export: it was
        # edited in the second the export began at, where REST goes on from.
        assert rows[ids[3]]["Region_Code"] in ("lone ? surrogate", "lone \ufffd surrogate")


def _parquet_rows(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    files = [unquote(urlparse(url).path) for m in messages
             if m["type"] == "BATCH" and m["stream"] == stream for url in m["manifest"]]
    return [row for f in files for row in pq.read_table(f).to_pylist()]
