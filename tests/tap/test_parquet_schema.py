"""Parquet BATCH files an analyst queries as they are: one typed schema per stream.

Over the simulator's HTTP API: every file of a stream, REST or Bulk Read, has the Arrow schema
derived from the stream's JSON Schema (tap_zohocrm/schema/arrow_schema.py), so DuckDB reads them all
at once without `union_by_name` or casts, datetimes as TIMESTAMP WITH TIME ZONE, dates as DATE.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tap_zohocrm.schema.arrow_schema import arrow_schema
from tests.helpers import TapRun, discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

SPARSE = {"Follow_Up_Date": "2026-03-01", "Next_Call_At": "2026-03-01T09:30:00+01:00"}


def _files(run: TapRun, stream: str) -> list[str]:
    return [unquote(urlparse(url).path) for m in run.messages
            if m["type"] == "BATCH" and m["stream"] == stream for url in m["manifest"]]


def _parquet_config(folder: Path, batch_size: int) -> dict[str, Any]:
    return {"encoding": {"format": "parquet", "compression": "gzip"},
            "storage": {"root": folder.as_uri()}, "batch_size": batch_size}


def _duckdb(query: str, folder: Path) -> duckdb.DuckDBPyRelation:
    """`query` over every leads file in `folder`, as an analyst writes it: no options."""
    return duckdb.sql(query.replace("LEADS", f"read_parquet('{folder}/*leads*.parquet*')"))


def _column_types(folder: Path) -> dict[str, str]:
    rel = _duckdb("DESCRIBE SELECT * FROM LEADS", folder)
    return {name: kind for name, kind, *_ in rel.fetchall()}


def _make_sparse(sim: Simulator, keep: int) -> None:
    """SPARSE's fields null in every lead but the `keep` modified last (Modified_Time kept, so
    the tap's order is unchanged): the files holding the others have them null throughout."""
    leads = sorted(sim.records("Leads"), key=lambda r: (r["Modified_Time"], r["id"]))
    for i, lead in enumerate(leads):
        values = SPARSE if i >= len(leads) - keep else dict.fromkeys(SPARSE)
        sim.update_record("Leads", lead["id"],
                          {**values, "Modified_Time": lead["Modified_Time"]})


def test_parquet_files_of_a_stream_read_as_one_typed_table(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_simulator(seed=71, sizes={"Leads": 250})
    _make_sparse(sim, keep=10)
    config = tap_config(sim, modules=["Leads"])
    catalog = select_streams(discover(config), {"leads"})
    records = {r["id"]: r for r in run_tap(config, catalog=catalog).records("leads")}
    folder = tmp_path / "parquet"
    run = run_tap({**config, "batch_config": _parquet_config(folder, 100)}, catalog=catalog)
    files = _files(run, "leads")
    assert len(files) == 3  # 250 leads in files of 100

    # One schema, the one derived from the stream's JSON Schema, in every file.
    want = arrow_schema(run.schema("leads"))
    assert want.field("Modified_Time").type == pa.timestamp("us", tz="UTC")
    assert want.field("Follow_Up_Date").type == pa.date32()
    for f in files:
        assert pq.read_schema(f).equals(want), f
    # ... also where a column is null throughout the file.
    sparse = [pq.read_table(f, columns=list(SPARSE)) for f in files]
    assert [t.column("Follow_Up_Date").null_count == t.num_rows for t in sparse] == \
        [True, True, False]
    assert [t.column("Next_Call_At").null_count == t.num_rows for t in sparse] == \
        [True, True, False]

    # DuckDB reads all the files as they are: every row, datetimes and dates typed.
    assert _duckdb("SELECT count(*) FROM LEADS", folder).fetchall() == [
        (len(sim.records("Leads")),)]
    types = _column_types(folder)
    assert types["Modified_Time"] == types["Next_Call_At"] == "TIMESTAMP WITH TIME ZONE"
    assert types["Follow_Up_Date"] == "DATE"
    assert types["Annual_Revenue"] == "DOUBLE" and types["External_Ref_Id"] == "BIGINT"
    rows = _duckdb('SELECT id, "Modified_Time", "Next_Call_At", "Follow_Up_Date" FROM LEADS',
                   folder).fetchall()
    assert {r[0] for r in rows} == set(records)
    for lead_id, modified, call_at, follow_up in rows:
        record = records[lead_id]
        assert modified.tzinfo is not None
        assert modified == datetime.fromisoformat(record["Modified_Time"])
        assert call_at == (record["Next_Call_At"] and
                           datetime.fromisoformat(record["Next_Call_At"]))
        assert follow_up == (record["Follow_Up_Date"] and
                             date.fromisoformat(record["Follow_Up_Date"]))
    assert sum(r[3] is not None for r in rows) == 10


def test_bulk_read_parquet_files_have_the_rest_paths_schema(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_simulator(seed=72, sizes={"Leads": 1300}, bulk_job_seconds=0.2)
    _make_sparse(sim, keep=40)
    base = tap_config(sim, modules=["Leads"])
    catalog = select_streams(discover(base), {"leads"})
    rest = run_tap({**base, "batch_config": _parquet_config(tmp_path / "rest", 500)},
                   catalog=catalog)
    bulk = run_tap({**base, "bulk_read_threshold": 1000,
                    "batch_config": _parquet_config(tmp_path / "bulk", 500)}, catalog=catalog)
    assert "1300 Bulk Read records converted CSV -> Parquet by Arrow" in bulk.stderr
    assert not [line for line in bulk.stderr.splitlines() if "per-record path" in line]
    want = arrow_schema(rest.schema("leads"))
    files = {"rest": _files(rest, "leads"), "bulk": _files(bulk, "leads")}
    assert len(files["rest"]) == len(files["bulk"]) == 3
    for f in files["rest"] + files["bulk"]:
        assert pq.read_schema(f).equals(want), f

    # Same types in DuckDB, and the same typed values as the REST path's files.
    assert _column_types(tmp_path / "bulk") == _column_types(tmp_path / "rest")
    query = ('SELECT id, "Created_Time", "Modified_Time", "Next_Call_At", "Follow_Up_Date", '
             '"Annual_Revenue", "Email_Opt_Out", "Owner".id FROM LEADS ORDER BY id')
    bulk_rows = _duckdb(query, tmp_path / "bulk").fetchall()
    assert len(bulk_rows) == 1300
    assert bulk_rows == _duckdb(query, tmp_path / "rest").fetchall()


def test_parquet_value_that_does_not_fit_its_column_is_kept_aside(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    """A nested value of another type, an integer beyond int64: the record path emits them,
    a typed column cannot hold them. They go to _zoho_mismatched_values, the rest is written."""
    sim = make_simulator(seed=73, sizes={"Leads": 30})
    odd = {"Owner": {"id": "1", "name": {"first": "Ann"}}, "External_Ref_Id": 2**70}
    lead = sim.update_record("Leads", sim.records("Leads")[4]["id"],
                             {**odd, "External_Ref_Id": str(2**70)})
    config = tap_config(sim, modules=["Leads"])
    catalog = select_streams(discover(config), {"leads"})
    records = {r["id"]: r for r in run_tap(config, catalog=catalog).records("leads")}
    run = run_tap({**config, "batch_config": _parquet_config(tmp_path, 1000)}, catalog=catalog)
    assert "do not fit their Parquet column" in run.stderr
    rows = {r["id"]: r for f in _files(run, "leads") for r in pq.read_table(f).to_pylist()}
    assert set(rows) == set(records)
    assert (rows[lead["id"]]["Owner"], rows[lead["id"]]["External_Ref_Id"]) == (None, None)
    # As the record path carries it: the email Zoho left out of the Owner, filled in as null.
    assert json.loads(rows[lead["id"]]["_zoho_mismatched_values"]) == {
        **odd, "Owner": records[lead["id"]]["Owner"]} == {
        **odd, "Owner": {**odd["Owner"], "email": None}}
    for lead_id, row in rows.items():  # the other rows of the batch are whole
        if lead_id != lead["id"]:
            assert row["Owner"] == records[lead_id]["Owner"]
            assert row["External_Ref_Id"] == records[lead_id]["External_Ref_Id"]


def test_parquet_object_with_a_key_its_struct_lacks_is_kept_aside(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    """Arrow silently drops a key a struct has no field for: the whole value goes to
    _zoho_mismatched_values instead, as the record path carries it, with a warning."""
    sim = make_simulator(seed=74, sizes={"Leads": 12})
    owner = {"id": "1", "name": "Ann", "email": "ann@example.com", "zuid": "90017"}
    lead = sim.update_record("Leads", sim.records("Leads")[3]["id"], {"Owner": owner})
    config = tap_config(sim, modules=["Leads"])
    catalog = select_streams(discover(config), {"leads"})
    records = {r["id"]: r for r in run_tap(config, catalog=catalog).records("leads")}
    assert records[lead["id"]]["Owner"] == owner
    run = run_tap({**config, "batch_config": _parquet_config(tmp_path, 1000)}, catalog=catalog)
    assert "Owner carries keys the schema does not declare (zuid)" in run.stderr
    rows = {r["id"]: r for f in _files(run, "leads") for r in pq.read_table(f).to_pylist()}
    assert rows[lead["id"]]["Owner"] is None
    assert json.loads(rows[lead["id"]]["_zoho_mismatched_values"]) == {"Owner": owner}
    assert all(row["Owner"] == records[i]["Owner"] for i, row in rows.items() if i != lead["id"])
