"""An idle scheduled run: what it asks Zoho when nothing changed since the last run."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from tests.helpers import discover, run_tap, select_streams, tap_config, utc

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
    # A first sync prices each module's read paths by its record count: one count each,
    # which the progress lines reuse for their total; Leads, where COQL looks cheaper, also
    # counts the records COQL may leave out (converted, pending approval).
    assert calls["/Leads/actions/count"] == 2
    assert "leads: " in first.stderr and " records of 900" in first.stderr
    assert calls["/Contacts/actions/count"] == calls["/Accounts/actions/count"] == 1

    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    calls = _calls(sim, start)
    assert not [path for path in calls if path.endswith("/actions/count")], calls
    assert calls["/settings/modules"] == 1  # the catalog's modules
    # The metadata streams were read less than metadata_refresh_hours ago: nothing of them.
    assert not {"users", "org", "roles", "profiles", "modules", "fields"} & second.streams()
    assert calls["/settings/fields"] == calls["/org"] == calls["/settings/roles"] == 0

    # When the modules stream is read, it takes the catalog's settings/modules call.
    start = len(sim.requests())
    third = run_tap({**config, "metadata_refresh_hours": 0}, catalog=catalog,
                    state=second.last_state)
    assert _calls(sim, start)["/settings/modules"] == 1
    assert {r["api_name"] for r in third.records("modules")} == {
        r["api_name"] for r in first.records("modules")}


def _leads_calls(sim, since: int) -> list[dict]:
    return [r for r in sim.requests()[since:] if r["path"].endswith("/crm/v8/Leads")]


def test_idle_run_reads_one_empty_page_per_module(make_simulator) -> None:
    sim = make_simulator(seed=82, sizes={"Leads": 700})
    config = tap_config(sim, modules=["Leads"], full_rich_text=False)
    catalog = select_streams(discover(config), {"leads"})
    first = run_tap(config, catalog=catalog)
    assert len(first.records("leads")) == 700
    # The last sync read the bookmark's second long after it was over: the next one starts a
    # second later, gets nothing, and makes no field-group call for records read already.
    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert second.records("leads") == []
    assert len(_leads_calls(sim, start)) == 1
    assert second.last_state["bookmarks"]["leads"]["replication_key_value"] == \
        first.last_state["bookmarks"]["leads"]["replication_key_value"]


def test_a_save_in_the_bookmarks_second_after_the_read_is_not_missed(make_simulator) -> None:
    sim = make_simulator(seed=83, sizes={"Leads": 300})
    config = tap_config(sim, modules=["Leads"], full_rich_text=False)
    catalog = select_streams(discover(config), {"leads"})
    ids = [r["id"] for r in sim.records("Leads")]
    saved = sim.update_record("Leads", ids[0], {"Last_Name": "Read in its second"})
    first = run_tap(config, catalog=catalog)
    bookmark = first.last_state["bookmarks"]["leads"]["replication_key_value"]
    assert bookmark == utc(saved["Modified_Time"])

    # Another record saved in that same second, after the sync read it (the clock set back
    # into that second), then a later run, past any settling time.
    second_start = datetime.fromisoformat(bookmark).timestamp()
    sim.advance_clock(second_start + 0.5 - sim.clock.now())
    late = sim.update_record("Leads", ids[1], {"Last_Name": "Saved after the read"})
    assert utc(late["Modified_Time"]) == bookmark
    sim.advance_clock(600)
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert {r["id"]: r["Last_Name"] for r in second.records("leads")}.get(ids[1]) == \
        "Saved after the read"
