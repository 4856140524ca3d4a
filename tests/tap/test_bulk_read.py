"""Bulk Read backfill against the simulator's Bulk Read API, then REST incrementally."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import pytest

from tests.helpers import discover, expected_record, run_tap, select_streams, tap_config, utc

SCALAR = ("string", "integer", "number", "boolean")


def _scalar(prop: dict) -> bool:
    types = prop.get("type") or []
    types = [types] if isinstance(types, str) else types
    return any(t in types for t in SCALAR) and "object" not in types and "array" not in types


def test_bulk_backfill_then_rest_incremental(make_simulator) -> None:
    sim = make_simulator(seed=97, sizes={"Leads": 2600}, bulk_job_seconds=0.4,
                         bulk_page_size=1000)
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000,
                        progress_interval_seconds=1)
    catalog = select_streams(discover(config), {"leads"})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    by_endpoint = sim.stats()["by_endpoint"]
    assert by_endpoint.get("POST /crm/bulk/v8/read") == 3  # 2,600 records, 1,000 a job
    singles = [k for k in by_endpoint
               if k.startswith("GET /crm/v8/Leads/") and "/actions/" not in k]
    assert not singles  # the export carries rich text whole: no per-record re-reads
    leads = run.records("leads")
    ids = Counter(r["id"] for r in leads)
    api = {r["id"]: r for r in sim.records("Leads")}
    assert set(ids) == set(api) and max(ids.values()) == 1
    schema = run.schema("leads")
    for record in leads:
        want = expected_record(api[record["id"]], schema)
        for name, prop in schema["properties"].items():
            if name in want and _scalar(prop) and not name.startswith("$"):
                assert record.get(name) == want[name], (record["id"], name)
        assert record["Owner"]["id"] == api[record["id"]]["Owner"]["id"]
    assert "backfilled through 3 Bulk Read job(s)" in run.stderr
    # Then the module is incremental over REST: a change is read without a new job.
    changed = sim.update_record("Leads", leads[7]["id"])
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=run.last_state)
    assert changed["id"] in {r["id"] for r in second.records("leads")}
    assert "POST /crm/bulk/v8/read" not in sim.stats()["by_endpoint"]


# --- Bulk Read straight to Parquet (tap_zohocrm/bulk_read/csv_parquet.py) ---------------------


def _as_text(value: Any) -> Any:
    """A Parquet timestamp or date as the record path writes it (UTC ISO text)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat() if isinstance(value, date) else value


def _parquet_rows(messages: list[dict], stream: str) -> list[dict]:
    files = [unquote(urlparse(url).path) for m in messages
             if m["type"] == "BATCH" and m["stream"] == stream for url in m["manifest"]]
    return [{k: _as_text(v) for k, v in row.items()}
            for f in files for row in pq.read_table(f).to_pylist()]


def test_bulk_backfill_to_parquet_without_per_record_python(make_simulator, tmp_path) -> None:
    sim = make_simulator(seed=98, sizes={"Leads": 2600, "Contacts": 120}, bulk_job_seconds=0.3,
                         bulk_page_size=1000)
    batch_config = {"encoding": {"format": "parquet", "compression": "gzip"},
                    "storage": {"root": (tmp_path / "out").as_uri()}, "batch_size": 700}
    config = tap_config(sim, modules=["Leads", "Contacts"], bulk_read_threshold=1000,
                        batch_config=batch_config)
    catalog = select_streams(discover(config), {"leads", "contacts"})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    by_endpoint = sim.stats()["by_endpoint"]
    assert by_endpoint.get("POST /crm/bulk/v8/read") == 3  # Leads only; Contacts is small
    assert not run.records("leads")
    assert "2600 Bulk Read records converted CSV -> Parquet by Arrow" in run.stderr
    rows = _parquet_rows(run.messages, "leads")
    ids = Counter(r["id"] for r in rows)
    api = {r["id"]: r for r in sim.records("Leads")}
    assert set(ids) == set(api) and max(ids.values()) == 1
    schema = run.schema("leads")
    assert set(rows[0]) == set(schema["properties"])  # every property is a column
    for row in rows:
        want = expected_record(api[row["id"]], schema)
        for name, prop in schema["properties"].items():
            if name in want and _scalar(prop) and not name.startswith("$"):
                assert row[name] == want[name], (row["id"], name)
        # The export carries a lookup's id and a tag's name only; the rest of the struct is null.
        owner, tags = want.get("Owner"), want.get("Tag")
        assert row["Owner"] == (owner and {"id": owner["id"], "name": None, "email": None})
        assert row["Tag"] == ([{"id": None, "name": t["name"], "color_code": None}
                               for t in tags] if tags else None)
        assert row["Interests"] == (want.get("Interests") or None)
    # Contacts went over REST into the same kind of files.
    assert {r["id"] for r in _parquet_rows(run.messages, "contacts")} == {
        r["id"] for r in sim.records("Contacts")}
    # The bookmark is the export's start; the next run reads a change over REST, no new job.
    bookmark = run.last_state["bookmarks"]["leads"]["replication_key_value"]
    job_start = min(j["created_time"] for j in sim.bulk_jobs())
    assert bookmark == utc(job_start)
    changed = sim.update_record("Leads", rows[5]["id"])
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=run.last_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert changed["id"] in {r["id"] for r in _parquet_rows(second.messages, "leads")}
    assert "POST /crm/bulk/v8/read" not in sim.stats()["by_endpoint"]


def test_bulk_read_keeps_text_that_looks_like_a_null_marker(make_simulator, tmp_path) -> None:
    """Only an empty CSV cell is null: "N/A", "NULL", "nan"... are text a user typed."""
    sim = make_simulator(seed=96, sizes={"Leads": 1200}, bulk_job_seconds=0.2)
    leads = sim.records("Leads")
    typed = {leads[1]["id"]: {"Company": "N/A", "First_Name": "NULL"},
             leads[2]["id"]: {"Company": "nan", "Designation": "#N/A", "City": "null"}}
    for lead_id, values in typed.items():
        sim.update_record("Leads", lead_id, values)
    out = tmp_path / "out"
    batch_config = {"encoding": {"format": "parquet", "compression": "none"},
                    "storage": {"root": out.as_uri()}}
    for extra in ({}, {"batch_config": batch_config}):  # per-record path, then Arrow's
        config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000, **extra)
        run = run_tap(config, catalog=select_streams(discover(config), {"leads"}))
        assert run.returncode == 0, run.stderr[-3000:]
        assert "Bulk Read" in run.stderr
        rows = {r["id"]: r for r in (_parquet_rows(run.messages, "leads") if extra
                                     else run.records("leads"))}
        assert len(rows) == 1200
        for lead_id, values in typed.items():
            assert {k: rows[lead_id][k] for k in values} == values
    # Files are written under a temporary name and renamed when complete: none is left over.
    assert not [f.name for f in out.iterdir() if not f.name.endswith(".parquet")]


def test_bulk_parquet_block_with_bad_values_goes_through_the_record_path(
        make_simulator, tmp_path) -> None:
    sim = make_simulator(seed=99, sizes={"Leads": 1500}, bulk_job_seconds=0.2)
    bad = sim.records("Leads")[3]["id"]
    sim.update_record("Leads", bad, {"No_of_Employees": "about forty"})
    batch_config = {"encoding": {"format": "parquet", "compression": "none"},
                    "storage": {"root": (tmp_path / "out").as_uri()}}
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000,
                        batch_config=batch_config)
    run = run_tap(config, catalog=select_streams(discover(config), {"leads"}))
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {r["id"]: r for r in _parquet_rows(run.messages, "leads")}
    assert len(rows) == 1500  # nothing lost
    assert rows[bad]["No_of_Employees"] is None
    assert json.loads(rows[bad]["_zoho_mismatched_values"]) == {
        "No_of_Employees": "about forty"}


def test_parquet_files_roll_over_at_batch_size_in_order(tmp_path) -> None:
    """Uneven row groups split across files of batch_size rows, nothing lost or reordered."""
    import pyarrow as pa
    from singer_sdk.helpers._batch import BatchConfig

    from tap_zohocrm.batch_files.parquet import ParquetFiles
    from tap_zohocrm.bulk_read.csv_parquet import row_groups

    config = BatchConfig.from_dict({"encoding": {"format": "parquet", "compression": "none"},
                                    "storage": {"root": tmp_path.as_uri()}, "batch_size": 1000})
    schema = pa.schema([("x", pa.int64())])
    blocks, n = [], 0
    for size in (7, 500, 1, 999, 838, 3):
        blocks.append(pa.RecordBatch.from_arrays([pa.array(range(n, n + size))], schema=schema))
        n += size
    files = ParquetFiles(config, "tap-zohocrm", "leads")
    manifests = list(files.write(row_groups(blocks, rows=300), schema))
    paths = [unquote(urlparse(m[0]).path) for m in manifests]
    assert [pq.read_metadata(p).num_rows for p in paths] == [1000, 1000, 348]
    assert [x for p in paths for x in pq.read_table(p).column("x").to_pylist()] == list(range(n))
    assert files.rows == n


def test_parquet_file_abandoned_mid_write_is_not_left_behind(tmp_path) -> None:
    """A failure mid-file leaves no file (a loader never sees half of one), completed files
    stay with their manifests."""
    import pyarrow as pa
    import pytest
    from singer_sdk.helpers._batch import BatchConfig

    from tap_zohocrm.batch_files.parquet import ParquetFiles

    config = BatchConfig.from_dict({"encoding": {"format": "parquet", "compression": "none"},
                                    "storage": {"root": tmp_path.as_uri()}, "batch_size": 1000})
    schema = pa.schema([("x", pa.int64())])

    def failing() -> Iterator[pa.RecordBatch]:
        yield pa.RecordBatch.from_arrays([pa.array(range(1500))], schema=schema)
        raise RuntimeError("the export broke off")

    manifests = []
    with pytest.raises(RuntimeError, match="broke off"):
        for manifest in ParquetFiles(config, "tap-zohocrm", "leads").write(failing(), schema):
            manifests.append(manifest)
    assert [unquote(urlparse(m[0]).path) for m in manifests] == \
        [str(p) for p in tmp_path.iterdir()]  # the first file, whole; not the second
    assert pq.read_metadata(next(tmp_path.iterdir())).num_rows == 1000


def _cut_off_after_first_page(sim, config: dict, catalog: dict):
    """A run whose export breaks once its first page (1,000 rows) is out."""
    import threading
    import time

    def fail_from_second_job() -> None:
        deadline = time.monotonic() + 60
        while len(sim.bulk_jobs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        sim.add_fault(r"^/crm/bulk/v8/read", status=500, count=None)

    breaker = threading.Thread(target=fail_from_second_job, daemon=True)
    breaker.start()
    run = run_tap(config, catalog=catalog, check=False)
    breaker.join(timeout=5)
    sim.clear_faults()
    assert run.returncode != 0
    return run


def _jsonl_rows(messages: list[dict], stream: str) -> list[dict]:
    files = [unquote(urlparse(url).path) for m in messages
             if m["type"] == "BATCH" and m["stream"] == stream for url in m["manifest"]]
    return [json.loads(line) for f in files for line in open(f, encoding="utf-8")]


@pytest.mark.parametrize("output", ["records", "parquet"])
def test_bulk_backfill_cut_off_midway_goes_on_where_it_stopped(
        output: str, make_simulator, tmp_path) -> None:
    """Export rows come in id order, so they never make the bookmark (a bookmark from them
    would resume REST past rows not exported yet); the state says which export page is next."""
    sim = make_simulator(seed=95, sizes={"Leads": 2600}, bulk_job_seconds=0.3,
                         bulk_page_size=1000)
    extra = {} if output == "records" else {"batch_config": {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": (tmp_path / "out").as_uri()}, "batch_size": 700}}
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000,
                        retry_backoff_seconds=0.05, max_retries=2, **extra)
    catalog = select_streams(discover(config), {"leads"})

    def ids(run) -> list[str]:
        rows = _parquet_rows(run.messages, "leads") if extra else run.records("leads")
        return [r["id"] for r in rows]

    first = _cut_off_after_first_page(sim, config, catalog)
    assert not [s for s in first.states if "replication_key_value" in s["bookmarks"]["leads"]]
    state = first.last_state["bookmarks"]["leads"]
    first_start = min(j["created_time"] for j in sim.bulk_jobs())
    assert state["bulk_read_export"]["page"] == 2
    assert state["bulk_read_export"]["started_at"] == first_start
    assert len(ids(first)) == 1000
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert sim.stats()["by_endpoint"].get("POST /crm/bulk/v8/read") == 2  # pages 2 and 3
    assert Counter(ids(first) + ids(second)) == Counter(r["id"] for r in sim.records("Leads"))
    # Nothing changed since: REST went on from the first run's export start.
    final = second.last_state["bookmarks"]["leads"]
    assert final["replication_key_value"] == utc(first_start)
    assert "bulk_read_export" not in final


def test_bulk_export_resumed_after_its_page_token_expired_starts_over(make_simulator) -> None:
    sim = make_simulator(seed=95, sizes={"Leads": 2600}, bulk_job_seconds=0.3,
                         bulk_page_size=1000)
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000,
                        retry_backoff_seconds=0.05, max_retries=2)
    catalog = select_streams(discover(config), {"leads"})
    first = _cut_off_after_first_page(sim, config, catalog)
    sim.advance_clock(25 * 3600)  # Zoho keeps a Bulk Read page_token for a day
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert "cannot go on (EXPIRED_VALUE); it starts over" in second.stderr
    assert {r["id"] for r in second.records("leads")} == {r["id"] for r in sim.records("Leads")}
    assert "bulk_read_export" not in second.last_state["bookmarks"]["leads"]


def test_bad_bulk_export_position_in_state_is_refused(make_simulator) -> None:
    sim = make_simulator(seed=95, sizes={"Leads": 20})
    config = tap_config(sim, modules=["Leads"])
    catalog = select_streams(discover(config), {"leads"})
    state = {"bookmarks": {"leads": {"bulk_read_export": {"started_at": "yesterday",
                                                          "page": 2, "page_token": None}}}}
    run = run_tap(config, catalog=catalog, state=state, check=False)
    assert run.returncode != 0
    assert "bulk_read_export" in run.stderr and "Drop that key" in run.stderr


def test_bulk_backfill_into_jsonl_files_saves_a_page_only_once_its_file_is_out(
        make_simulator, tmp_path) -> None:
    """With JSONL BATCH output a STATE follows every file. Page 1 (1,000 rows) fills a file of
    700 and 300 rows of an open one when the run breaks: the saved state must not claim page 1
    done, nor carry a bookmark from the rows, so the next run reads every row again."""
    sim = make_simulator(seed=95, sizes={"Leads": 2600}, bulk_job_seconds=0.3,
                         bulk_page_size=1000)
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000,
                        retry_backoff_seconds=0.05, max_retries=2, batch_config={
                            "encoding": {"format": "jsonl", "compression": "none"},
                            "storage": {"root": (tmp_path / "out").as_uri()},
                            "batch_size": 700})
    catalog = select_streams(discover(config), {"leads"})
    first = _cut_off_after_first_page(sim, config, catalog)
    assert len(_jsonl_rows(first.messages, "leads")) == 700
    assert first.states
    for state in first.states:
        assert "replication_key_value" not in state["bookmarks"]["leads"]
        assert "bulk_read_export" not in state["bookmarks"]["leads"]
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert {r["id"] for r in _jsonl_rows(second.messages, "leads")} == {
        r["id"] for r in sim.records("Leads")}
    assert "bulk_read_export" not in second.last_state["bookmarks"]["leads"]
