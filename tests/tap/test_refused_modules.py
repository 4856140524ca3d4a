"""Modules Zoho lists but refuses to serve: left out of discovery, or skipped at sync time unless
the user named them in `modules`."""

from __future__ import annotations

import json

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator.system_modules import REFUSALS

SIZES = {"Leads": 300, "Contacts": 200, "Deals": 150}
FAST = {"retry_backoff_seconds": 0.05, "full_rich_text": False}


def _report(stderr: str) -> dict:
    line = next(x for x in stderr.splitlines() if "ZOHO_RUN_REPORT " in x)
    return json.loads(line.split("ZOHO_RUN_REPORT ", 1)[1])


def test_unservable_system_modules_are_left_out_of_discovery(make_simulator) -> None:
    sim = make_simulator(seed=31, sizes=SIZES, unservable_modules=True)
    run = run_tap(tap_config(sim), "--discover")
    assert run.returncode == 0, run.stderr[-3000:]
    streams = {e["tap_stream_id"] for e in json.loads(run.stdout)["streams"]}
    assert "leads" in streams
    for api_name in REFUSALS:
        assert api_name.lower() not in streams, api_name
        assert f"Skipping module {api_name}: Zoho lists it but does not serve" in run.stderr
    # Named in `modules`, a listed module is discovered: the user asked for it.
    named = discover(tap_config(sim, modules=["Leads", "CTI_Entry"]))
    assert {e["tap_stream_id"] for e in named["streams"]} >= {"leads", "cti_entry"}


def test_catalog_still_selecting_an_unservable_module_skips_it(make_simulator) -> None:
    """A catalog written before the module was left out of discovery."""
    sim = make_simulator(seed=31, sizes=SIZES, unservable_modules=True)
    catalog = select_streams(discover(tap_config(sim, modules=["Leads", "CTI_Entry"])),
                             {"leads", "cti_entry"})
    run = run_tap(tap_config(sim, **FAST), catalog=catalog, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.records("leads")) == 300
    assert "Skipping stream cti_entry" in run.stderr


@pytest.mark.parametrize("parallel_modules", [1, 3])
@pytest.mark.parametrize(("status", "code"), [(403, "NO_PERMISSION"), (400, "INVALID_DATA")])
def test_refused_module_not_named_is_skipped_and_every_other_stream_completes(
    make_simulator, parallel_modules: int, status: int, code: str,
) -> None:
    sim = make_simulator(seed=31, sizes=SIZES)
    config = tap_config(sim, parallel_modules=parallel_modules, **FAST)
    catalog = select_streams(discover(config), {"leads", "deals", "contacts", "users",
                                                "deleted_records"})
    sim.add_fault(r"^/crm/v8/Deals", status=status, count=None)
    run = run_tap(config, catalog=catalog, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    for module in ("Leads", "Contacts"):
        assert {r["id"] for r in run.records(module.lower())} == {
            r["id"] for r in sim.records(module)}
    assert run.records("users")
    assert not run.records("deals")
    assert {r["module"] for r in run.records("deleted_records")} == {"Leads", "Contacts"}
    assert "Skipping stream deals: " in run.stderr and code in run.stderr
    report = _report(run.stderr)["streams"]
    assert report["deals"]["status"] == f"skipped: {code}"
    assert code in report["deals"]["reason"]
    assert report["leads"]["status"] == report["contacts"]["status"] == "ok"
    bookmarks = run.last_state["bookmarks"]
    assert bookmarks["leads"]["replication_key_value"]
    assert bookmarks["contacts"]["replication_key_value"]


def test_refusal_names_the_permission_to_grant(make_simulator) -> None:
    sim = make_simulator(seed=31, sizes=SIZES)
    config = tap_config(sim, **FAST)
    catalog = select_streams(discover(config), {"leads", "deals"})
    sim.add_fault(r"^/crm/v8/Deals", status=403, count=None)
    run = run_tap(config, catalog=catalog, check=False)
    assert run.returncode == 0
    assert "Zoho refused to read module Deals (NO_PERMISSION)" in run.stderr
    assert "give the user's profile read access" in run.stderr


def test_refused_module_named_in_modules_stops_the_run(make_simulator) -> None:
    sim = make_simulator(seed=31, sizes=SIZES)
    config = tap_config(sim, modules=["Leads", "Deals"], **FAST)
    catalog = select_streams(discover(config), {"leads", "deals"})
    sim.add_fault(r"^/crm/v8/Deals", status=403, count=None)
    run = run_tap(config, catalog=catalog, check=False)
    assert run.returncode != 0
    assert "Zoho refused to read module Deals (NO_PERMISSION)" in run.stderr
