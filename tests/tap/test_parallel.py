"""`parallel_modules`: streams synced side by side (tap_zohocrm/sync/parallel_modules.py)."""

from __future__ import annotations

import time
from collections import Counter
from itertools import pairwise

from tap_zohocrm.sync.read_ahead import ReadAhead
from tests.helpers import discover, run_tap, select_streams, tap_config, utc

MODULES = {"Leads": 2600, "Contacts": 1500, "Accounts": 900, "Deals": 700}


def test_parallel_modules_interleave_records_and_keep_state_correct(make_simulator) -> None:
    sim = make_simulator(seed=61, sizes=MODULES, latency_ms=20)
    config = tap_config(sim, modules=list(MODULES), parallel_modules=4, max_concurrency=3,
                        full_rich_text=False, progress_interval_seconds=0)
    catalog = select_streams(discover(config), {m.lower() for m in MODULES})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sim.stats()["max_concurrent"] <= 3  # the process-wide gate holds across threads

    # Every record of every module, once.
    for module in MODULES:
        ids = Counter(r["id"] for r in run.records(module.lower()))
        assert set(ids) == {r["id"] for r in sim.records(module)}, module
        assert max(ids.values()) == 1, module

    # The modules' records interleave (not one module after another).
    order = [m["stream"] for m in run.messages if m["type"] == "RECORD"]
    switches = sum(1 for a, b in pairwise(order) if a != b)
    assert switches > 2 * len(MODULES), switches

    # No STATE is ahead of the records written before it, for any stream; the last one holds
    # each stream's latest Modified_Time.
    latest: dict[str, str] = {}
    states = 0
    for message in run.messages:
        if message["type"] == "RECORD":
            stream, modified = message["stream"], message["record"]["Modified_Time"]
            latest[stream] = max(latest.get(stream, ""), modified)
        elif message["type"] == "STATE":
            states += 1
            for stream, bookmark in message["value"].get("bookmarks", {}).items():
                value = bookmark.get("replication_key_value")
                if value and stream in latest:
                    assert value <= latest[stream], (stream, value, latest[stream])
    assert states > len(MODULES)
    final = run.last_state["bookmarks"]
    for module in MODULES:
        want = max(utc(r["Modified_Time"]) for r in sim.records(module))
        assert final[module.lower()]["replication_key_value"] == want, module


def test_each_module_is_read_by_one_producer_whatever_order_threads_ask() -> None:
    """A module already taken by its own thread is not started again by an earlier module's
    read-ahead (two producers would share, and corrupt, its paging state)."""
    class Module:
        def __init__(self, name: str) -> None:
            self.name, self.producers = name, 0

        def produce_pages(self, feed) -> None:
            self.producers += 1

    order = [Module(n) for n in ("leads", "contacts", "accounts", "deals")]
    read_ahead = ReadAhead(window=3, workers=1)
    try:
        for module in (order[3], order[1], order[0], order[2]):  # threads ask out of order
            read_ahead.feed_for(module, order)
        time.sleep(0.3)  # producers run in their own threads
        assert [m.producers for m in order] == [1, 1, 1, 1]
    finally:
        read_ahead.close()


def test_parallel_modules_1_syncs_one_module_after_another(make_simulator) -> None:
    sim = make_simulator(seed=62, sizes={"Leads": 700, "Contacts": 500, "Accounts": 300})
    config = tap_config(sim, modules=["Leads", "Contacts", "Accounts"], parallel_modules=1,
                        full_rich_text=False, progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"leads", "contacts", "accounts"})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    order = [m["stream"] for m in run.messages if m["type"] == "RECORD"]
    # Each module's records in one block, every record once.
    assert sum(1 for a, b in pairwise(order) if a != b) == 2
    for module in ("Leads", "Contacts", "Accounts"):
        ids = [r["id"] for r in run.records(module.lower())]
        assert sorted(ids) == sorted(r["id"] for r in sim.records(module)), module


def test_every_stream_selected_modules_still_sync_side_by_side(make_simulator) -> None:
    # Meltano's `select: ['*.*']`: the org streams and the attachments stream are selected too.
    sim = make_simulator(seed=63, sizes={"Leads": 2600, "Contacts": 1500, "Deals": 300},
                         latency_ms=20)
    modules = ["Leads", "Contacts", "Deals"]
    config = tap_config(sim, modules=modules, parallel_modules=4, full_rich_text=False,
                        attachment_modules=["Deals"], progress_interval_seconds=0)
    catalog = discover(config)
    catalog = select_streams(catalog, {e["tap_stream_id"] for e in catalog["streams"]})
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert {"users", "org", "fields", "deleted_records", "attachments"} <= run.streams()

    # Leads and Contacts (no attachments read) are read side by side: their calls interleave
    # (Leads' records, read through COQL, go out in a few large pieces). Deals, whose
    # attachments are read by the one attachments stream, syncs on its own after them.
    calls = [("leads" if r["path"].endswith(("/Leads", "/coql")) else "contacts")
             for r in sim.requests() if r["path"].endswith(("/Leads", "/coql", "/Contacts"))]
    assert sum(1 for a, b in pairwise(calls) if a != b) > 4
    order = [m["stream"] for m in run.messages
             if m["type"] == "RECORD" and m["stream"] in ("leads", "contacts", "deals")]
    first_deals = order.index("deals")
    assert set(order[first_deals:]) == {"deals"}
    for module in modules:
        ids = Counter(r["id"] for r in run.records(module.lower()))
        assert set(ids) == {r["id"] for r in sim.records(module)}, module
        assert max(ids.values()) == 1, module
    attached = {r["id"] for r in sim.attachments("Deals")}
    assert attached and {r["id"] for r in run.records("attachments")} == attached
    listed = {(r["module"], r["id"]) for r in run.records("deleted_records")}
    assert listed == {(m, d["id"]) for m in modules for d in sim.deleted_records(m)}
    final = run.last_state["bookmarks"]
    for module in modules:
        want = max(utc(r["Modified_Time"]) for r in sim.records(module))
        assert final[module.lower()]["replication_key_value"] == want, module
