"""What a Bulk Read export leaves out is read over REST: records (converted Leads, records
pending approval), fields (file and image uploads, fields the job refuses), a module it refuses.

Each test runs a Bulk Read backfill, and the REST read after it, against the simulator with one
of its `bulk_*` switches, and checks that every record arrives once with every value REST alone
would give."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.helpers import discover, expected_record, run_tap, select_streams, tap_config
from tests.tap.test_bulk_read import _parquet_rows

UPLOADS = ("Documents", "Photos")


def _kind(prop: dict[str, Any]) -> set[str]:
    types = prop.get("type") or []
    return {types} if isinstance(types, str) else set(types)


def _same(name: str, got: Any, want: Any, prop: dict[str, Any]) -> bool:
    """An exported value equals REST's; a lookup or owner carries its id and a tag its name
    only (documented: the export has no more), text from Parquet may be JSON."""
    if isinstance(got, str) and isinstance(want, list | dict):
        got = json.loads(got)
    if isinstance(got, list) and got and isinstance(got[0], str) and want \
            and isinstance(want[0], dict):
        got = [json.loads(item) for item in got]  # Parquet: an open object as JSON text
    if "object" in _kind(prop) and isinstance(want, dict) and "id" in want:
        return isinstance(got, dict) and got.get("id") == want["id"]
    if name == "Tag" and want:
        return [t.get("name") for t in got or []] == [t["name"] for t in want]
    if isinstance(want, list) and not want:
        return not got
    if isinstance(got, list) and isinstance(want, list) and want and isinstance(want[0], dict):
        # Parquet structs carry every key of the schema (null where REST has none).
        return [{k: g.get(k) for k in w} for g, w in zip(got, want, strict=True)] == want
    return got == want


def _check_every_record(sim, rows: list[dict[str, Any]], schema: dict[str, Any]) -> int:
    """Every Lead exactly once, each value as REST gives it; answers the upload values."""
    ids = Counter(r["id"] for r in rows)
    api = {r["id"]: r for r in sim.records("Leads")}
    assert set(ids) == set(api), (len(set(api) - set(ids)), "records missing")
    assert max(ids.values()) == 1
    uploads = 0
    for row in rows:
        want = expected_record(api[row["id"]], schema)
        for name, prop in schema["properties"].items():
            if name in want and not name.startswith("$"):
                assert _same(name, row.get(name), want[name], prop), (row["id"], name)
        uploads += sum(bool(want.get(name)) for name in UPLOADS)
    return uploads


def _run(sim, tmp_path, output: str, **settings: Any):
    extra = {} if output == "records" else {"batch_config": {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": (tmp_path / "out").as_uri()}}}
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000, **extra, **settings)
    catalog = select_streams(discover(config), {"leads"})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = run.records("leads") if output == "records" else _parquet_rows(run.messages, "leads")
    return run, rows


@pytest.mark.parametrize("output", ["records", "parquet"])
def test_upload_fields_are_filled_over_rest(output: str, make_simulator, tmp_path) -> None:
    sim = make_simulator(seed=91, sizes={"Leads": 1500}, bulk_job_seconds=0.2)
    run, rows = _run(sim, tmp_path, output)
    assert sim.stats()["by_endpoint"].get("POST /crm/bulk/v8/read") == 1
    assert _check_every_record(sim, rows, run.schema("leads")) > 0  # uploads were compared
    assert "carries no Documents, Photos" in run.stderr


@pytest.mark.parametrize("output", ["records", "parquet"])
@pytest.mark.parametrize("switch", ["bulk_skips_converted", "bulk_skips_unapproved",
                                    "count_documented_only"])
def test_records_the_export_leaves_out_are_read_over_rest(
        switch: str, output: str, make_simulator, tmp_path) -> None:
    sim = make_simulator(seed=92, sizes={"Leads": 1500}, bulk_job_seconds=0.2)
    # Refused count filters: the tap cannot tell, so it reads the hidden records anyway.
    sim.set_config(**{switch: True}, **({"bulk_skips_converted": True}
                                        if switch == "count_documented_only" else {}))
    hidden = [r for r in sim.records("Leads")
              if r.get("Converted__s") or r.get("$approved") is False]
    assert hidden
    run, rows = _run(sim, tmp_path, output)
    _check_every_record(sim, rows, run.schema("leads"))
    assert "the records it hides unless asked" in run.stderr


def test_export_holding_every_record_reads_no_hidden_records(make_simulator, tmp_path) -> None:
    sim = make_simulator(seed=92, sizes={"Leads": 1500}, bulk_job_seconds=0.2)
    run, rows = _run(sim, tmp_path, "records")
    _check_every_record(sim, rows, run.schema("leads"))
    assert "the records it hides unless asked" not in run.stderr
    assert not [r for r in sim.requests() if r["path"] == "/crm/v8/Leads"
                and "ids" not in r["params"] and r["params"].get("converted") == "true"]


@pytest.mark.parametrize("selection", ["every field", "some fields"])
def test_field_the_job_refuses_is_filled_over_rest(selection: str, make_simulator,
                                                   tmp_path) -> None:
    sim = make_simulator(seed=93, sizes={"Leads": 1200}, bulk_job_seconds=0.2)
    sim.set_config(bulk_refuses_fields=["Email", "Annual_Revenue"])
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000)
    catalog = select_streams(discover(config), {"leads"})
    if selection == "some fields":  # the job names its fields
        leads = next(s for s in catalog["streams"] if s["tap_stream_id"] == "leads")
        for entry in leads["metadata"]:
            if entry["breadcrumb"][-1:] == ["Website"]:
                entry["metadata"]["selected"] = False
    run = run_tap(config, catalog=catalog)
    rows = run.records("leads")
    api = {r["id"]: r for r in sim.records("Leads")}
    assert len(rows) == len(api)
    for row in rows:
        assert row["Email"] == api[row["id"]]["Email"]
        assert row["Annual_Revenue"] == api[row["id"]]["Annual_Revenue"]
    if selection == "some fields":
        assert "Bulk Read refuses field" in run.stderr
        assert "Website" not in rows[0]


@pytest.mark.parametrize("output", ["records", "parquet"])
def test_module_bulk_read_refuses_is_read_over_rest(output: str, make_simulator,
                                                    tmp_path) -> None:
    sim = make_simulator(seed=94, sizes={"Leads": 1200}, bulk_job_seconds=0.2)
    sim.set_config(bulk_refuses_modules=["Leads"])
    run, rows = _run(sim, tmp_path, output)
    assert "Zoho refuses Bulk Read for the module (MODULE_NOT_SUPPORTED)" in run.stderr
    _check_every_record(sim, rows, run.schema("leads"))
    assert run.last_state["bookmarks"]["leads"].get("replication_key_value")


def test_plan_shows_the_calls_that_fill_what_the_export_leaves_out(make_simulator) -> None:
    sim = make_simulator(seed=91, sizes={"Leads": 1500}, bulk_job_seconds=0.2)
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000)
    catalog = select_streams(discover(config), {"leads"})
    plan = run_tap(config, "--plan", catalog=catalog).stdout
    line = next(x for x in plan.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    row = next(r for r in json.loads(line.split(" ", 1)[1])["streams"] if r["stream"] == "leads")
    assert "15 calls fill Documents, Photos" in row["note"]
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0
    fills = [r for r in sim.requests() if "ids" in r["params"]]
    assert len(fills) == 15  # 1,500 records, 100 ids a call, both fields in one call
