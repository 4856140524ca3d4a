"""Fields taken out of every layout: listed by settings/fields only with `type=all` (v2.1 on),
and still holding values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

FIELD = "Website"


@pytest.mark.parametrize("version", ["v8", "v2.1"])
def test_unused_field_is_discovered_and_read(make_simulator: Callable[..., Simulator],
                                             version: str) -> None:
    sim = make_simulator(seed=83, sizes={"Leads": 250})
    sim.mark_field_unused("Leads", FIELD)
    config = tap_config(sim, modules=["Leads"], api_version=version, full_rich_text=False)
    catalog = discover(config)
    leads = next(s for s in catalog["streams"] if s["tap_stream_id"] == "leads")
    assert FIELD in leads["schema"]["properties"]
    run = run_tap(config, catalog=select_streams(catalog, {"leads", "fields"}))
    values = {r["id"]: r[FIELD] for r in sim.records("Leads", version)}
    assert any(values.values())
    assert {r["id"]: r.get(FIELD) for r in run.records("leads")} == values
    assert FIELD in {r["api_name"] for r in run.records("fields") if r["module"] == "Leads"}
    fields_calls = [r for r in sim.requests() if r["path"].endswith("/settings/fields")]
    assert fields_calls and all(r["params"].get("type") == "all" for r in fields_calls)


def test_v2_lists_used_fields_only(make_simulator: Callable[..., Simulator]) -> None:
    """v2 has no `type`: the unused field stays out of the schema, and the sync goes on."""
    sim = make_simulator(seed=83, sizes={"Leads": 250})
    sim.mark_field_unused("Leads", FIELD)
    config = tap_config(sim, modules=["Leads"], api_version="v2")
    catalog = discover(config)
    leads = next(s for s in catalog["streams"] if s["tap_stream_id"] == "leads")
    assert FIELD not in leads["schema"]["properties"]
    run = run_tap(config, catalog=select_streams(catalog, {"leads"}))
    assert len(run.records("leads")) == 250
