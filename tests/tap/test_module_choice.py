"""`modules` and `exclude_modules` over HTTP: module groups (the Airflow DAG's tasks) plus one
run with every grouped module excluded read each module of the org exactly once, subform and
linking modules with their parent's group."""

from __future__ import annotations

from typing import Any

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

# As the DAG runs them (orchestrate/dags/zohocrm_meltano.py task_settings).
GROUPS = {
    "sales": ["Leads", "Contacts", "Accounts", "Deals"],
    "activities": ["Tasks", "Events", "Calls", "Notes"],
    "products": ["Products", "Price_Books", "Quotes"],
}
NAMED = [m for modules in GROUPS.values() for m in modules]
ORG_STREAMS = {"users", "org", "roles", "profiles", "modules", "fields", "deleted_records",
               "attachments"}
SIZES = {"Leads": 20, "Contacts": 15, "Accounts": 10, "Deals": 15, "Quotes": 8}


def task_config(sim: Simulator, task: str) -> dict[str, Any]:
    if task == "rest":
        return tap_config(sim, exclude_modules=NAMED)
    return tap_config(sim, modules=GROUPS[task],
                      exclude_modules=[m for m in NAMED if m not in GROUPS[task]])


def module_streams(catalog: dict[str, Any]) -> set[str]:
    return {entry["tap_stream_id"] for entry in catalog["streams"]} - ORG_STREAMS


def test_groups_and_the_rest_discover_every_module_once(make_simulator) -> None:
    sim = make_simulator(seed=5, sizes=SIZES)
    every = module_streams(discover(tap_config(sim)))
    read_by = {task: module_streams(discover(task_config(sim, task)))
               for task in [*GROUPS, "rest"]}
    for task, streams in read_by.items():
        for other, theirs in read_by.items():
            assert other == task or not streams & theirs, (task, other, streams & theirs)
    assert set().union(*read_by.values()) == every
    # A subform module with its parent; a linking module with its first parent (the module of
    # its first lookup field); a module no group names (custom) with the rest.
    assert {"quoted_items", "quotes"} <= read_by["products"]
    assert {"contacts_x_deals", "deals_x_users"} <= read_by["sales"]
    assert read_by["rest"] == {"shipments"}


def test_rest_and_group_syncs_from_their_catalogs_load_the_ungrouped_rows(
        make_simulator) -> None:
    sim = make_simulator(seed=5, sizes=SIZES)
    for task, module, stream in (("rest", "Shipments", "shipments"),
                                 ("products", "Quoted_Items", "quoted_items"),
                                 ("sales", "Contacts_X_Deals", "contacts_x_deals")):
        config = task_config(sim, task)
        catalog = discover(config)
        modules = module_streams(catalog)
        sim.reset_stats()
        run = run_tap(config, catalog=select_streams(catalog, modules))
        assert run.streams() <= modules, task
        assert sorted(r["id"] for r in run.records(stream)) == sorted(
            str(r["id"]) for r in sim.records(module)), task
        assert sim.records(module), module
        # A sync from a catalog reads settings/modules only, never settings/fields.
        assert not [r for r in sim.requests() if r["path"].endswith("/settings/fields")]


def test_naming_a_subform_module_decides_it(sim) -> None:
    assert "quoted_items" in module_streams(discover(tap_config(sim, modules=["Quotes"])))
    assert module_streams(discover(tap_config(
        sim, modules=["Quotes"], exclude_modules=["Quoted_Items"]))) == {"quotes"}
    assert module_streams(discover(tap_config(
        sim, modules=["Quoted_Items"]))) == {"quoted_items"}


def test_a_module_in_both_settings_is_refused_by_name(sim) -> None:
    run = run_tap(tap_config(sim, modules=["Leads", "Deals"], exclude_modules=["Deals"]),
                  "--discover")
    assert run.returncode != 0
    assert "`modules` and `exclude_modules` both name Deals" in run.stderr
