"""Deleted records listed only for the modules Zoho's recycle bin shows a deletion in, and for
every module once its last listing is `deleted_full_listing_hours` old."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

MODULES = {"Leads": 150, "Contacts": 120, "Accounts": 100}


def _setup(make_simulator: Callable[..., Simulator], **config: Any) -> tuple[Simulator, dict, dict]:
    sim_options = {k: config.pop(k) for k in ("user_is_admin", "recycle_bin_own_deletions")
                   if k in config}
    sim = make_simulator(seed=91, sizes=MODULES, **sim_options)
    config = tap_config(sim, modules=list(MODULES), emit_deletes=True, full_rich_text=False,
                        **config)
    catalog = select_streams(discover(config), {"leads", "contacts", "accounts",
                                                "deleted_records"})
    return sim, config, catalog


def _calls(sim: Simulator, since: int) -> Counter[str]:
    return Counter(r["path"].split("/crm/", 1)[-1] for r in sim.requests()[since:])


def _listings(calls: Counter[str]) -> set[str]:
    return {path.split("/")[1] for path in calls if path.endswith("/deleted")}


def _deleted(run: Any, stream: str, *earlier: Any) -> set[str]:
    """Ids a run emitted as deleted, but those earlier runs emitted already (a listing starts
    at its bookmark's second again)."""
    def ids(run: Any) -> set[str]:
        if stream == "deleted_records":
            return {r["id"] for r in run.records(stream)}
        return {r["id"] for r in run.records(stream) if r.get("_sdc_deleted_at")}
    return ids(run).difference(*(ids(e) for e in earlier))


def _aged(state: dict[str, Any], hours: float) -> dict[str, Any]:
    """The state as if every deleted-records listing were `hours` old."""
    state = copy.deepcopy(state)
    when = (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()
    for bookmark in state["bookmarks"].values():
        for holder in [bookmark, *bookmark.get("partitions", [])]:
            if "deletions_listed_at" in holder:
                holder["deletions_listed_at"] = when
    return state


@pytest.mark.parametrize("version", ["v8", "v2"])
def test_an_idle_run_lists_no_deleted_records(make_simulator, version: str) -> None:
    sim, config, catalog = _setup(make_simulator, api_version=version)
    first = run_tap(config, catalog=catalog)
    assert _listings(_calls(sim, 0)) == set(MODULES)

    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    calls = _calls(sim, start)
    assert not _listings(calls), calls
    # One call for every module, read through v8 whatever the version of the records.
    assert calls["v8/settings/recycle_bin"] == 1
    assert second.records("deleted_records") == []
    assert not _deleted(second, "leads")
    listed = {s: b for s, b in second.last_state["bookmarks"].items()
              if s in ("leads", "contacts", "accounts")}
    assert all(b["deletions_listed_at"] == first.last_state["bookmarks"][s]["deletions_listed_at"]
               for s, b in listed.items())


def test_a_deletion_in_the_recycle_bin_lists_its_module_only(make_simulator) -> None:
    sim, config, catalog = _setup(make_simulator)
    first = run_tap(config, catalog=catalog)
    sim.advance_clock(60)
    gone = [r["id"] for r in sim.records("Contacts")[:3]]
    for record_id in gone:
        sim.delete_record("Contacts", record_id)

    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert _listings(_calls(sim, start)) == {"Contacts"}
    assert _deleted(second, "deleted_records", first) == set(gone)
    assert _deleted(second, "contacts", first) == set(gone)
    assert second.last_state["bookmarks"]["contacts"]["deletions_listed_at"] >= \
        first.last_state["bookmarks"]["contacts"]["deletions_listed_at"]


def test_a_deletion_right_after_a_listing_is_found_with_a_clock_ahead_of_zohos(
    make_simulator,
) -> None:
    # The tap's machine 10 minutes ahead of Zoho: a listing's time is Zoho's (the Date of its
    # answer), so a deletion just after it is in the next run's window.
    sim, config, catalog = _setup(make_simulator)
    sim.advance_clock(-600)
    first = run_tap(config, catalog=catalog)
    gone = sim.records("Accounts")[0]["id"]
    sim.delete_record("Accounts", gone)
    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert _listings(_calls(sim, start)) == {"Accounts"}
    assert _deleted(second, "accounts", first) == {gone}


def test_deletions_the_recycle_bin_never_shows_come_with_the_full_listing(
    make_simulator,
) -> None:
    sim, config, catalog = _setup(make_simulator)
    first = run_tap(config, catalog=catalog)
    sim.advance_clock(60)
    leads = [r["id"] for r in sim.records("Leads")]
    sim.delete_record("Leads", leads[0], permanent=True)  # never in the recycle bin
    sim.delete_record("Leads", leads[1])
    sim.purge_recycle_bin("Leads")  # gone from it before the next run

    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert _deleted(second, "deleted_records", first) == set()

    # A later run, once the last listing is deleted_full_listing_hours old: listed in full,
    # from where that listing was, so nothing is missed.
    start = len(sim.requests())
    third = run_tap(config, catalog=catalog, state=_aged(second.last_state, 25))
    assert _listings(_calls(sim, start)) == set(MODULES)
    assert _deleted(third, "deleted_records", first, second) == {leads[0], leads[1]}
    # (The aged state makes the markers go on from a day before the first sync: deletions of
    # that day come as markers too.)
    markers = _deleted(third, "leads", first, second)
    assert {leads[0], leads[1]} <= markers <= {d["id"] for d in sim.deleted_records("Leads")}

    # deleted_full_listing_hours 0: every module listed every run, as before the recycle bin.
    sim.delete_record("Leads", leads[2], permanent=True)
    every_run = {**config, "deleted_full_listing_hours": 0}
    start = len(sim.requests())
    fourth = run_tap(every_run, catalog=catalog, state=third.last_state)
    assert _listings(_calls(sim, start)) == set(MODULES)
    assert "v8/settings/recycle_bin" not in _calls(sim, start)
    assert leads[2] in _deleted(fourth, "deleted_records")


def test_a_token_that_is_not_an_administrators_lists_every_module(make_simulator) -> None:
    # Its recycle bin may hold only its own deletions (the simulator's switch models that).
    sim, config, catalog = _setup(make_simulator, user_is_admin=False,
                                  recycle_bin_own_deletions=True)
    first = run_tap(config, catalog=catalog)
    start = len(sim.requests())
    run_tap(config, catalog=catalog, state=first.last_state)
    calls = _calls(sim, start)
    assert _listings(calls) == set(MODULES)
    assert "v8/settings/recycle_bin" not in calls


def test_a_refused_recycle_bin_lists_every_module(make_simulator) -> None:
    sim, config, catalog = _setup(make_simulator)
    config["refresh_token"] = sim.issue_refresh_token(
        "ZohoCRM.modules.ALL,ZohoCRM.settings.modules.READ,ZohoCRM.settings.fields.READ,"
        "ZohoCRM.users.READ,ZohoCRM.org.READ")
    first = run_tap(config, catalog=catalog)
    sim.advance_clock(60)
    gone = sim.records("Accounts")[0]["id"]
    sim.delete_record("Accounts", gone)
    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    calls = _calls(sim, start)
    assert calls["v8/settings/recycle_bin"] == 1
    assert _listings(calls) == set(MODULES)
    assert _deleted(second, "deleted_records", first) == {gone}
    assert "ZohoCRM.settings.recycle_bin.READ" in second.stderr


def test_a_listing_time_in_the_future_is_not_gone_on_from(make_simulator) -> None:
    # A state edited by hand (or a clock set back): listed in full, and the time set right.
    sim, config, catalog = _setup(make_simulator)
    first = run_tap(config, catalog=catalog)
    future = _aged(first.last_state, -48)
    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=future)
    assert _listings(_calls(sim, start)) == set(MODULES)
    for stream in ("leads", "contacts", "accounts"):
        assert second.last_state["bookmarks"][stream]["deletions_listed_at"] < \
            future["bookmarks"][stream]["deletions_listed_at"]
