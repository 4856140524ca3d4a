"""Values Zoho changes without Modified_Time (formula, rollup summary, lookup and owner names):
a module is read in full again once its last full read is older than computed_refresh_days."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import pytest

from tap_zohocrm.schema.fields import is_upload
from tests.helpers import (
    TapRun,
    discover,
    expected_record,
    full_read_aged,
    run_tap,
    select_streams,
    tap_config,
    with_declared_keys,
)
from zoho_simulator import Simulator

MODULES = {"leads": "Leads", "contacts": "Contacts"}


def _latest(runs: list[TapRun], stream: str) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for run in runs:
        for record in run.records(stream):
            latest[record["id"]] = record
    return latest


def _stale(runs: list[TapRun], sim: Simulator, stream: str) -> list[str]:
    """Ids whose last emitted version differs from what Zoho holds now."""
    latest = _latest(runs, stream)
    schema = runs[0].schema(stream)
    stale = []
    for api_record in sim.records(MODULES[stream]):
        expected = expected_record(api_record, schema)
        emitted = latest.get(api_record["id"], {})
        if {k: emitted.get(k) for k in expected} != expected:
            stale.append(api_record["id"])
    return stale


def _plan(stdout: str) -> dict[str, Any]:
    line = next(x for x in stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    return json.loads(line.split("ZOHO_RUN_PLAN ", 1)[1])


def _report(stderr: str) -> dict[str, Any]:
    line = next(x for x in stderr.splitlines() if "ZOHO_RUN_REPORT " in x)
    return json.loads(line.split("ZOHO_RUN_REPORT ", 1)[1])


def _bookmarks(run: TapRun, stream: str) -> list[str]:
    return [s["bookmarks"][stream]["replication_key_value"] for s in run.states
            if stream in s.get("bookmarks", {})]


@pytest.fixture
def synced(make_simulator: Callable[..., Simulator]) -> tuple[Simulator, dict, dict, TapRun]:
    """A first sync of Leads and Contacts, then values changed without Modified_Time."""
    sim = make_simulator(seed=7)
    config = tap_config(sim, modules=list(MODULES.values()), progress_interval_seconds=0)
    catalog = select_streams(discover(config), set(MODULES))
    first = run_tap(config, catalog=catalog)
    changed = sim.change_computed_values(seed=1, renamed_records=3, renamed_users=1)
    assert "Leads" in changed["recomputed"]
    assert any(r["module"] == "Accounts" for r in changed["renamed_records"])
    return sim, config, catalog, first


def test_refresh_past_the_interval_delivers_the_new_values(synced) -> None:
    sim, config, catalog, first = synced
    state = first.last_state
    for stream in MODULES:  # a first sync is a full read: its time is kept
        assert "last_full_read" in state["bookmarks"][stream]
    # Within the interval: an incremental run, which misses the changes.
    within = run_tap(config, catalog=catalog, state=state)
    assert _stale([first, within], sim, "leads")
    # Past it: every record again, with the values Zoho shows now.
    aged = full_read_aged(within.last_state, days=8)
    plan = _plan(run_tap(config, "--plan", catalog=catalog, state=aged).stdout)
    assert sorted(plan["computed_refresh"]["streams"]) == sorted(MODULES)
    assert plan["computed_refresh"]["records"] == sum(len(sim.records(m))
                                                       for m in MODULES.values())
    sim.reset_stats()
    refresh = run_tap(config, catalog=catalog, state=aged)
    runs = [first, within, refresh]
    for stream in MODULES:
        assert not _stale(runs, sim, stream), stream
    # Each kind of change came through: formula, rollup, owner name, lookup name.
    api = {r["id"]: r for r in sim.records("Leads")}
    old = _latest([first], "leads")
    new = _latest([refresh], "leads")
    for field in ("Expected_Value", "Total_Deal_Amount"):
        assert any(old[i][field] != new[i][field] == api[i][field] for i in api), field
    user = sim.users()  # the renamed user's new name is on records the refresh emitted
    renamed_user = next(u for u in user if u["full_name"].count("-Renamed"))
    owned = [i for i in api if api[i]["Owner"]["id"] == renamed_user["id"]]
    assert owned and all(new[i]["Owner"]["name"] == renamed_user["full_name"] for i in owned)
    assert all(old[i]["Owner"]["name"] != renamed_user["full_name"] for i in owned)
    contacts = _latest([refresh], "contacts")
    account_names = {r["id"]: r["Account_Name"] for r in sim.records("Accounts")}
    looked_up = [c for c in contacts.values() if (c.get("Account_Name") or {}).get("id")]
    assert any("renamed" in c["Account_Name"]["name"] for c in looked_up)
    assert all(c["Account_Name"]["name"] == account_names[c["Account_Name"]["id"]]
               for c in looked_up)
    # The bookmark never moved back; the new full read's time is kept.
    for stream in MODULES:
        before = aged["bookmarks"][stream]
        assert all(value >= before["replication_key_value"]
                   for value in _bookmarks(refresh, stream)), stream
        after = refresh.last_state["bookmarks"][stream]
        assert after["last_full_read"] > before["last_full_read"]
    # The run report says so, with the refresh's cost.
    report = _report(refresh.stderr)
    assert all(report["streams"][s]["computed_refresh"] for s in MODULES)
    assert report["streams"]["leads"]["records"] == len(api)
    assert report["api_calls"] == sim.stats()["api_calls"]


def test_within_the_interval_no_extra_calls(synced) -> None:
    sim, config, catalog, first = synced
    calls = {}
    for days in (7, 0):  # the same run with the refresh off
        sim.reset_stats()
        run = run_tap({**config, "computed_refresh_days": days}, catalog=catalog,
                      state=first.last_state)
        calls[days] = sim.stats()["by_endpoint"]
        assert not any(_report(run.stderr)["streams"][s]["computed_refresh"] for s in MODULES)
    assert calls[7] == calls[0]


def test_zero_turns_the_refresh_off(synced) -> None:
    sim, config, catalog, first = synced
    aged = full_read_aged(first.last_state, days=400)
    plan = _plan(run_tap({**config, "computed_refresh_days": 0}, "--plan", catalog=catalog,
                         state=aged).stdout)
    assert plan["computed_refresh"]["streams"] == []
    run = run_tap({**config, "computed_refresh_days": 0}, catalog=catalog, state=aged)
    assert len(run.records("leads")) < len(sim.records("Leads")) / 10
    assert _stale([first, run], sim, "leads")


def test_a_state_without_the_key_is_refreshed_then_keeps_it(synced) -> None:
    """A state from before the key: nobody knows how stale its values are, so it is due."""
    sim, config, catalog, first = synced
    old = copy.deepcopy(first.last_state)
    for bookmark in old["bookmarks"].values():
        del bookmark["last_full_read"]
    run = run_tap(config, catalog=catalog, state=old)
    assert not _stale([first, run], sim, "leads")
    state = run.last_state  # the round trip: the key comes back and the next run is incremental
    assert all("last_full_read" in state["bookmarks"][s] for s in MODULES)
    again = run_tap(config, catalog=catalog, state=state)
    assert len(again.records("leads")) < len(sim.records("Leads")) / 10


def test_a_bad_last_full_read_is_a_clear_error(synced) -> None:
    _, config, catalog, first = synced
    bad = copy.deepcopy(first.last_state)
    bad["bookmarks"]["leads"]["last_full_read"] = "last tuesday"
    run = run_tap(config, catalog=catalog, state=bad, check=False)
    assert run.returncode != 0
    assert "last_full_read 'last tuesday'" in run.stderr
    assert "Drop that key" in run.stderr


def _scalar_only(catalog: dict[str, Any], stream: str, uploads: bool = False
                 ) -> dict[str, Any]:
    """Deselect what a Bulk Read export does not carry whole: lookups, tags, `$` keys... (and
    file and image uploads, unless `uploads`: those are filled over REST)."""
    entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)
    props = entry["schema"]["properties"]
    for md in entry["metadata"]:
        crumb = md["breadcrumb"]
        if len(crumb) != 2:
            continue
        prop = props[crumb[1]]
        types = set(prop.get("type") or []) - {"null"}
        if uploads and is_upload(prop):
            continue
        if crumb[1].startswith("$") or types & {"object", "array"} or len(types) != 1:
            md["metadata"]["selected"] = False
    return catalog


@pytest.mark.parametrize(("whole", "uploads"), [(True, False), (True, True), (False, False)],
                         ids=["export-whole", "uploads-selected", "lookups-selected"])
def test_refresh_through_bulk_read_only_when_the_export_is_whole(
        make_simulator: Callable[..., Simulator], whole: bool, uploads: bool) -> None:
    sim = make_simulator(seed=8, bulk_job_seconds=0.2)
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=100,
                        progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"leads"})
    if whole:
        catalog = _scalar_only(catalog, "leads", uploads=uploads)
    first = run_tap(config, catalog=catalog)
    sim.change_computed_values(seed=2)
    sim.reset_stats()
    refresh = run_tap(config, catalog=catalog, state=full_read_aged(first.last_state, days=30))
    jobs = sim.stats()["by_endpoint"].get("POST /crm/bulk/v8/read", 0)
    assert jobs == (1 if whole else 0)
    new = _latest([refresh], "leads")
    api = {r["id"]: r for r in sim.records("Leads")}
    assert set(new) == set(api)
    assert all(new[i]["Expected_Value"] == api[i]["Expected_Value"] for i in api)
    if not whole:  # REST: whole records, lookup names included
        assert all(new[i]["Owner"] == api[i]["Owner"] for i in api)
    if uploads:  # not in the export: filled over REST
        schema = first.schema("leads")["properties"]
        names = [n for n, prop in schema.items() if is_upload(prop)]
        assert names and any(api[i].get(n) for i in api for n in names)
        assert all(new[i].get(n) == with_declared_keys(api[i].get(n), schema[n])
                   for i in api for n in names)
    before = first.last_state["bookmarks"]["leads"]["replication_key_value"]
    assert all(value >= before for value in _bookmarks(refresh, "leads"))


def test_a_refresh_through_bulk_read_into_parquet_writes_each_record_once(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_simulator(seed=8, bulk_job_seconds=0.2)
    batch = {"encoding": {"format": "parquet", "compression": "gzip"},
             "storage": {"root": (tmp_path / "out").as_uri()}, "batch_size": 700}
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=100,
                        progress_interval_seconds=0, batch_config=batch)
    catalog = _scalar_only(select_streams(discover(config), {"leads"}), "leads")
    first = run_tap(config, catalog=catalog)
    sim.change_computed_values(seed=3)
    sim.reset_stats()
    refresh = run_tap(config, catalog=catalog, state=full_read_aged(first.last_state, days=30))
    # One export, then REST from its start: not a second export, not REST from the beginning.
    assert sim.stats()["by_endpoint"].get("POST /crm/bulk/v8/read") == 1
    files = [unquote(urlparse(url).path) for m in refresh.messages
             if m["type"] == "BATCH" and m["stream"] == "leads" for url in m["manifest"]]
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    api = {r["id"]: r for r in sim.records("Leads")}
    assert sorted(r["id"] for r in rows) == sorted(api)
    assert all(r["Expected_Value"] == api[r["id"]]["Expected_Value"] for r in rows)


def test_a_refresh_through_bulk_read_keeps_the_delete_markers_since_the_bookmark(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    """The export moves the bookmark to its start; markers still go on from the old one."""
    sim = make_simulator(seed=8, bulk_job_seconds=0.2)
    batch = {"encoding": {"format": "parquet", "compression": "gzip"},
             "storage": {"root": (tmp_path / "out").as_uri()}, "batch_size": 700}
    config = tap_config(sim, modules=["Leads"], bulk_read_threshold=100, emit_deletes=True,
                        progress_interval_seconds=0, batch_config=batch)
    catalog = _scalar_only(select_streams(discover(config), {"leads"}), "leads")
    first = run_tap(config, catalog=catalog)
    gone = sim.records("Leads")[0]["id"]
    sim.advance_clock(5)
    sim.delete_record("Leads", gone)
    sim.advance_clock(5)
    refresh = run_tap(config, catalog=catalog, state=full_read_aged(first.last_state, days=30))
    files = [unquote(urlparse(url).path) for m in refresh.messages
             if m["type"] == "BATCH" and m["stream"] == "leads" for url in m["manifest"]]
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    assert gone in {r["id"] for r in rows if r.get("_sdc_deleted_at")}


def test_a_refresh_reads_attachments_of_changed_records_only(
        make_simulator: Callable[..., Simulator]) -> None:
    """Adding an attachment moves its record's Modified_Time: the others' were read before."""
    sim = make_simulator(seed=9, sizes={"Leads": 150})
    config = tap_config(sim, modules=["Leads"], attachment_modules=["Leads"],
                        progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"leads", "attachments"})
    first = run_tap(config, catalog=catalog)
    leads = sim.records("Leads")
    sim.advance_clock(5)
    edited = {sim.update_record("Leads", leads[i]["id"])["id"] for i in (3, 40)}
    sim.reset_stats()
    refresh = run_tap(config, catalog=catalog, state=full_read_aged(first.last_state, days=8))
    assert len(refresh.records("leads")) == 150
    reads = {r["path"].split("/")[-2] for r in sim.requests()
             if r["path"].endswith("/Attachments")}
    assert reads == edited
