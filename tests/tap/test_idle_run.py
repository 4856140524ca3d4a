"""An idle scheduled run: what it asks Zoho when nothing changed since the last run."""

from __future__ import annotations

from collections import Counter

from tests.helpers import discover, run_tap, select_streams, tap_config

MODULES = {"Leads": 900, "Contacts": 120, "Accounts": 150}


def _calls(sim, since: int) -> Counter[str]:
    return Counter(r["path"].split("/crm/v8")[-1] for r in sim.requests()[since:])


def test_idle_run_asks_no_record_count_and_reads_settings_modules_once(make_simulator) -> None:
    sim = make_simulator(seed=81, sizes=MODULES)
    config = tap_config(sim, modules=list(MODULES), full_rich_text=False,
                        progress_interval_seconds=0.5)
    catalog = discover(config)
    catalog = select_streams(catalog, {e["tap_stream_id"] for e in catalog["streams"]})

    start = len(sim.requests())
    first = run_tap(config, catalog=catalog)
    calls = _calls(sim, start)
    # A first sync of Leads reads several pages: one count, for progress lines with a total.
    assert calls["/Leads/actions/count"] == 1
    assert "leads: " in first.stderr and " records of 900" in first.stderr
    # Contacts and Accounts fit one page: no count.
    assert calls["/Contacts/actions/count"] == calls["/Accounts/actions/count"] == 0

    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    calls = _calls(sim, start)
    assert not [path for path in calls if path.endswith("/actions/count")], calls
    assert calls["/settings/modules"] == 1  # the catalog's modules and the modules stream
    assert {r["api_name"] for r in second.records("modules")} == {
        r["api_name"] for r in first.records("modules")}
