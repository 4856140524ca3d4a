"""Records deleted in Zoho that no deleted listing shows (Notes; records gone from `/deleted`)
are found by a full read every `deleted_id_check_hours` that ends in ACTIVATE_VERSION: the
loader flags the rows of older versions, those Zoho no longer has."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import TapRun, discover, run_tap, tap_config
from zoho_simulator import Simulator

MODULES = ["Leads", "Notes"]


def _aged(state: dict[str, Any], hours: float) -> dict[str, Any]:
    """The state as if each module's last deleted-records check were `hours` old."""
    state = copy.deepcopy(state)
    when = (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0).isoformat()
    for name in ("leads", "notes"):
        state["bookmarks"][name]["ids_checked_at"] = when
    return state


def _versioned(run: TapRun, stream: str) -> tuple[set[str], int | None]:
    """The ids of the stream's records that carry the version its last ACTIVATE_VERSION
    activates, read in output order: (ids, version); (all ids, None) without one."""
    messages = [m for m in run.messages if m.get("stream") == stream
                and m["type"] in ("RECORD", "ACTIVATE_VERSION")]
    activations = [m for m in messages if m["type"] == "ACTIVATE_VERSION"]
    if not activations:
        return {m["record"]["id"] for m in messages}, None
    version = activations[-1]["version"]
    assert messages[-1] == activations[-1], "ACTIVATE_VERSION comes after the last record"
    return {m["record"]["id"] for m in messages if m["type"] == "RECORD"
            and m.get("version") == version and not m["record"].get("_sdc_deleted_at")}, version


def _two_runs(sim: Simulator, config: dict[str, Any], hours_since_check: float,
              delete: Callable[[], set[str]]) -> tuple[TapRun, TapRun, set[str]]:
    first = run_tap(config)
    assert not [m for m in first.messages if m["type"] == "ACTIVATE_VERSION"]
    sim.advance_clock(60)
    gone = delete()
    sim.advance_clock(60)
    second = run_tap(config, state=_aged(first.last_state, hours_since_check))
    return first, second, gone


def test_a_note_deleted_in_zoho_is_flagged_within_the_interval(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(seed=41, sizes={"Leads": 30, "Notes": 25})
    config = tap_config(sim, modules=MODULES, emit_deletes=True)

    def delete() -> set[str]:
        notes = [n["id"] for n in sim.records("Notes")[3:5]]
        for note in notes:  # Zoho lists no deleted Notes
            sim.delete_record("Notes", note, permanent=True)
        return set(notes)

    first, second, gone = _two_runs(sim, config, 25, delete)
    live, version = _versioned(second, "notes")
    assert version is not None, "no ACTIVATE_VERSION for notes: deleted notes stay live"
    # A first sync gave the loader every note: the next check is an interval later.
    assert first.last_state["bookmarks"]["notes"].get("ids_checked_at")
    assert live == {n["id"] for n in sim.records("Notes")}
    assert not live & gone
    state = second.last_state["bookmarks"]["notes"]
    assert state["ids_checked_at"] > _aged(second.last_state, 1)["bookmarks"]["notes"][
        "ids_checked_at"]


def test_a_record_gone_from_the_deleted_listing_is_flagged(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(seed=43, sizes={"Leads": 30, "Notes": 5})
    config = tap_config(sim, modules=MODULES, emit_deletes=True)

    def delete() -> set[str]:
        listed, purged = (lead["id"] for lead in sim.records("Leads")[5:7])
        sim.delete_record("Leads", listed)
        sim.delete_record("Leads", purged, permanent=True, unlisted=True)
        return {listed, purged}

    _, second, gone = _two_runs(sim, config, 25, delete)
    markers = {r["id"] for r in second.records("leads") if r.get("_sdc_deleted_at")}
    assert len(markers) == 1 and markers < gone  # the listed one: a delete marker
    live, version = _versioned(second, "leads")
    assert version is not None, "no ACTIVATE_VERSION for leads: the purged lead stays live"
    assert live == {lead["id"] for lead in sim.records("Leads")}
    assert not live & gone


def test_no_check_before_the_interval_nor_when_turned_off(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(seed=47, sizes={"Leads": 10, "Notes": 5})
    for hours, setting, due in ((23, 24, False), (25, 0, False), (2, 1, True)):
        config = tap_config(sim, modules=MODULES, deleted_id_check_hours=setting,
                            computed_refresh_days=0)
        first = run_tap(config)
        state = first.last_state
        if setting == 0:  # a state from a run with the check on
            state = run_tap(tap_config(sim, modules=MODULES, computed_refresh_days=0)).last_state
        sim.advance_clock(60)
        sim.delete_record("Notes", sim.records("Notes")[0]["id"])
        second = run_tap(config, state=_aged(state, hours))
        activated = {m["stream"] for m in second.messages if m["type"] == "ACTIVATE_VERSION"}
        assert activated == ({"leads", "notes"} if due else set()), (hours, setting)
        if not due:  # an incremental read: no record came again
            assert not second.records("notes"), (hours, setting)


@pytest.mark.parametrize("value", [-1, "daily"])
def test_a_bad_interval_is_one_clear_error(sim: Simulator, value: Any) -> None:
    run = run_tap(tap_config(sim, modules=["Leads"], deleted_id_check_hours=value), check=False)
    assert run.returncode != 0
    assert "deleted_id_check_hours" in run.stderr
    assert "Traceback" not in run.stderr
    assert not run.messages or all(m["type"] != "RECORD" for m in run.messages)


def test_the_plan_shows_the_check(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(seed=53, sizes={"Leads": 190, "Notes": 30})
    config = tap_config(sim, modules=MODULES, computed_refresh_days=0, full_rich_text=False)
    catalog = discover(config)
    first = run_tap(config, catalog=catalog)
    sim.advance_clock(60)
    aged = _aged(first.last_state, 25)
    plan_run = run_tap(config, "--plan", catalog=catalog, state=aged)
    assert plan_run.returncode == 0, plan_run.stderr[-3000:]
    plan = json.loads(plan_run.stdout.split("ZOHO_RUN_PLAN ", 1)[1].splitlines()[0])
    check = plan["deleted_id_check"]
    assert sorted(check["streams"]) == ["leads", "notes"]
    assert check["records"] == 220
    rows = {r["stream"]: r for r in plan["streams"]}
    assert "deleted-records check" in rows["leads"]["note"]
    sim.reset_stats()
    run = run_tap(config, catalog=catalog, state=aged)
    assert plan["api_calls"] == sim.stats()["api_calls"]
    assert rows["leads"]["records"] == len(run.records("leads"))


def test_a_check_that_cannot_read_every_note_flags_nothing(
    make_simulator: Callable[..., Simulator],
) -> None:
    """Zoho ignoring If-Modified-Since and page tokens on 2,600 notes: the full read stops at
    2,000, so no ACTIVATE_VERSION (it would flag the notes not read); the check waits for the
    next interval rather than read them all again every run."""
    sim = make_simulator(seed=97, sizes={"Leads": 5, "Notes": 2600}, notes_v8_plain=True)
    config = tap_config(sim, modules=MODULES, progress_interval_seconds=0)
    first = run_tap(config)
    sim.advance_clock(60)
    second = run_tap(config, state=_aged(first.last_state, 25))
    activated = {m["stream"] for m in second.messages if m["type"] == "ACTIVATE_VERSION"}
    assert activated == {"leads"}
    assert "full read stopped before the end of the module" in second.stderr
    assert second.last_state["bookmarks"]["notes"]["ids_checked_at"] > _aged(
        second.last_state, 1)["bookmarks"]["notes"]["ids_checked_at"]


def test_a_module_the_catalog_reads_whole_gets_activate_version(sim: Simulator) -> None:
    """A standard module made FULL_TABLE by the catalog keeps no bookmark, so no check: its
    every read ends in ACTIVATE_VERSION as a linking module's does."""
    config = tap_config(sim, modules=["Leads"])
    catalog = discover(config)
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "leads":
            entry["replication_method"] = "FULL_TABLE"
            root = next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])
            root.update({"replication-method": "FULL_TABLE", "selected": True})
    run = run_tap(config, catalog=catalog)
    messages = [m for m in run.messages if m.get("stream") == "leads"
                and m["type"] in ("RECORD", "ACTIVATE_VERSION")]
    assert messages[0]["type"] == "ACTIVATE_VERSION"
    assert {m["version"] for m in messages} == {messages[0]["version"]}
    off = run_tap({**config, "deleted_id_check_hours": 0}, catalog=catalog)
    assert not [m for m in off.messages if m["type"] == "ACTIVATE_VERSION"]
