"""Subform and linking modules, whose deletions Zoho does not list, are read whole every run
(FULL_TABLE) with ACTIVATE_VERSION, so the loader drops the rows deleted in Zoho."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
import pytest

from tests.helpers import TapRun, discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

WHOLE = ("quoted_items", "contacts_x_deals")
MODULES = ["Quotes", "Quoted_Items", "Contacts", "Contacts_X_Deals"]


def _stream_messages(run: TapRun, stream: str) -> list[dict[str, Any]]:
    return [m for m in run.messages if m.get("stream") == stream
            and m["type"] in ("ACTIVATE_VERSION", "RECORD")]


def _get_records_calls(sim: Simulator, module: str) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["path"].endswith(f"/{module}")]


def _parent_of(run: TapRun, row_id: str) -> str:
    return next(r["Parent_Id"]["id"] for r in run.records("quoted_items") if r["id"] == row_id)


def test_second_run_emits_activate_version_and_only_surviving_rows(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(seed=17, sizes={"Leads": 5, "Quotes": 12, "Contacts": 30})
    config = tap_config(sim, modules=MODULES)
    catalog = select_streams(discover(config), {"quotes", "contacts", *WHOLE})
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    for name in WHOLE:
        assert entries[name]["replication_method"] == "FULL_TABLE"
        root = next(m["metadata"] for m in entries[name]["metadata"] if not m["breadcrumb"])
        assert root["forced-replication-method"] == "FULL_TABLE"
    assert entries["quotes"]["replication_method"] == "INCREMENTAL"
    first = run_tap(config, catalog=catalog)
    for name in WHOLE:
        messages = _stream_messages(first, name)
        assert messages[0]["type"] == "ACTIVATE_VERSION"
        assert {m["version"] for m in messages} == {messages[0]["version"]}
    assert not [m for m in first.messages if m["type"] == "ACTIVATE_VERSION"
                and m["stream"] not in WHOLE]

    row = sim.records("Quoted_Items")[3]["id"]
    link = sim.records("Contacts_X_Deals")[2]["id"]
    sim.advance_clock(60)
    sim.delete_record("Quoted_Items", row)
    sim.delete_record("Contacts_X_Deals", link)
    sim.advance_clock(60)
    sim.reset_stats()
    time.sleep(1)  # the version is the run's start in seconds: a later run has a larger one
    second = run_tap(config, catalog=catalog, state=first.last_state)

    for name, module in (("quoted_items", "Quoted_Items"), ("contacts_x_deals",
                                                            "Contacts_X_Deals")):
        messages = _stream_messages(second, name)
        assert messages[0]["type"] == "ACTIVATE_VERSION"
        version = messages[0]["version"]
        assert version > _stream_messages(first, name)[0]["version"]
        assert all(m["version"] == version for m in messages[1:])
        got = [r["id"] for r in second.records(name)]
        assert sorted(got) == sorted(r["id"] for r in sim.records(module)), name
        # Read whole: no If-Modified-Since, whatever the state says.
        calls = _get_records_calls(sim, module)
        assert calls and not any("If-Modified-Since" in c["headers"] for c in calls)
        assert not second.last_state["bookmarks"].get(name, {}).get("replication_key_value")
    assert row not in {r["id"] for r in second.records("quoted_items")}
    assert link not in {r["id"] for r in second.records("contacts_x_deals")}
    # The parent modules stay incremental: the edited parents come again (with the records
    # of the bookmark's own second), not the rest.
    quotes = {r["id"] for r in second.records("quotes")}
    assert _parent_of(first, row) in quotes and len(quotes) < len(sim.records("Quotes")) // 2
    parent = next(r for r in first.records("contacts_x_deals") if r["id"] == link)
    contacts = {r["id"] for r in second.records("contacts")}
    assert parent["Contacts"]["id"] in contacts
    assert len(contacts) < len(sim.records("Contacts")) // 2


def test_bookmark_of_an_incremental_read_before_is_dropped(
    make_simulator: Callable[..., Simulator],
) -> None:
    """A state and catalog from an older version of the tap (INCREMENTAL, a bookmark and a cut-off
    Bulk Read export) do not make the stream skip rows: it is read whole, and the old bookmark
    leaves the state."""
    sim = make_simulator(seed=18, sizes={"Leads": 5, "Quotes": 10})
    config = tap_config(sim, modules=["Quotes", "Quoted_Items"])
    catalog = select_streams(discover(config), {"quoted_items"})
    for entry in catalog["streams"]:  # as an older version of the tap discovered it
        entry["replication_method"] = "INCREMENTAL"
        for item in entry["metadata"]:
            item["metadata"].pop("forced-replication-method", None)
    rows = sim.records("Quoted_Items")
    newest = max(r["Modified_Time"] for r in rows)
    bookmark = {"replication_key": "Modified_Time", "replication_key_value": newest,
                "bulk_read_export": {"started_at": newest, "page": 2, "page_token": None}}
    state = {"bookmarks": {"quoted_items": bookmark}}
    run = run_tap(config, catalog=catalog, state=state)
    assert sorted(r["id"] for r in run.records("quoted_items")) == sorted(r["id"] for r in rows)
    assert run.last_state["bookmarks"]["quoted_items"] == {}
    assert "read whole every run (FULL_TABLE)" in run.stderr
    assert not sim.bulk_jobs()


def test_plan_counts_the_whole_read(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(seed=19, sizes={"Leads": 5, "Quotes": 40})
    config = tap_config(sim, modules=["Quotes", "Quoted_Items"], per_page=50)
    catalog = select_streams(discover(config), {"quotes", "quoted_items"})
    first = run_tap(config, catalog=catalog)
    rows = len(sim.records("Quoted_Items"))
    plan = run_tap(config, "--plan", catalog=catalog, state=first.last_state)
    line = next(x for x in plan.stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    streams = {r["stream"]: r for r in json.loads(line.split(" ", 1)[1])["streams"]}
    assert streams["quoted_items"]["records"] == rows > 50
    assert streams["quoted_items"]["calls"] >= -(-rows // 50)
    assert "whole" in streams["quoted_items"]["note"]
    assert streams["quotes"]["records"] < 40 // 2  # incremental: the bookmark's second only


def _emitted_ids(run: TapRun, stream: str) -> list[str]:
    """Ids of the records, from RECORD messages or the BATCH messages' Parquet files."""
    ids = [r["id"] for r in run.records(stream)]
    for message in run.messages:
        if message["type"] == "BATCH" and message["stream"] == stream:
            for url in message["manifest"]:
                ids += pq.read_table(unquote(urlparse(url).path), columns=["id"]).column(
                    "id").to_pylist()
    return sorted(ids)


@pytest.mark.parametrize("parquet", [False, True], ids=["records", "parquet"])
def test_bulk_read_backfill_every_run(
    make_simulator: Callable[..., Simulator], tmp_path: Path, parquet: bool,
) -> None:
    """Above bulk_read_threshold the module is exported every run (never resumed: rows an
    earlier run exported carry an older version), side by side with another module; REST
    goes on from the export's start, also after an export written straight to Parquet."""
    sim = make_simulator(seed=20, sizes={"Leads": 5, "Quotes": 60}, bulk_job_seconds=0.1,
                         bulk_page_size=50)
    extra: dict[str, Any] = {"batch_config": {
        "encoding": {"format": "parquet"},
        "storage": {"root": tmp_path.as_uri(), "prefix": "b-"}}} if parquet else {}
    config = tap_config(sim, modules=["Quotes", "Quoted_Items"], bulk_read_threshold=20,
                        parallel_modules=2, **extra)
    catalog = select_streams(discover(config), {"quotes", "quoted_items"})
    first = run_tap(config, catalog=catalog)
    assert _emitted_ids(first, "quoted_items") == sorted(
        r["id"] for r in sim.records("Quoted_Items"))
    gone = sim.records("Quoted_Items")[5]["id"]
    sim.advance_clock(60)
    sim.delete_record("Quoted_Items", gone)
    time.sleep(1)
    second = run_tap(config, catalog=catalog, state=first.last_state)
    first_message = next(m for m in second.messages if m.get("stream") == "quoted_items"
                         and m["type"] in ("ACTIVATE_VERSION", "RECORD", "BATCH"))
    assert first_message["type"] == "ACTIVATE_VERSION"
    assert _emitted_ids(second, "quoted_items") == sorted(
        r["id"] for r in sim.records("Quoted_Items"))
    jobs = [j for j in sim.bulk_jobs() if j["module"] == "Quoted_Items"]
    assert len(jobs) == 2 * 3  # each run exports it once, in 3 jobs of 50
    assert "bulk_read_export" not in second.last_state["bookmarks"]["quoted_items"]
