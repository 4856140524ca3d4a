"""Org metadata streams (users, org, roles, profiles, modules, fields) read at most once per
metadata_refresh_hours: a run sooner after their last read asks Zoho nothing for them and emits
nothing of them."""

from __future__ import annotations

import json

from tests.helpers import (
    discover,
    full_read_aged,
    run_tap,
    select_streams,
    tap_config,
)

METADATA = {"users", "org", "roles", "profiles", "modules", "fields"}
# The calls only the metadata streams make (settings/modules also names the catalog's modules,
# users?type=CurrentUser asks who the token is: both every run).
METADATA_CALLS = {("/users", "AllUsers"), ("/users", "DeletedUsers"), ("/org", None),
                  ("/settings/roles", None), ("/settings/profiles", None),
                  ("/settings/fields", None)}


def _metadata_calls(sim, since: int) -> list[tuple[str, str | None]]:
    calls = [(path, r["params"].get("type") if path == "/users" else None)
             for r in sim.requests()[since:] if (path := r["path"].split("/crm/v8")[-1])]
    return [call for call in calls if call in METADATA_CALLS]


def _first_run(make_simulator, seed: int, **settings):
    sim = make_simulator(seed=seed, sizes={"Leads": 30})
    config = tap_config(sim, modules=["Leads"], full_rich_text=False, **settings)
    catalog = select_streams(discover(config), METADATA | {"leads"})
    start = len(sim.requests())
    first = run_tap(config, catalog=catalog)
    assert {path for path, _ in _metadata_calls(sim, start)} == {p for p, _ in METADATA_CALLS}
    assert first.streams() >= METADATA
    for stream in METADATA:
        assert first.last_state["bookmarks"][stream]["last_full_read"]
    return sim, config, catalog, first


def _report(stderr: str) -> dict:
    line = next(x for x in stderr.splitlines() if "ZOHO_RUN_REPORT " in x)
    return json.loads(line.split("ZOHO_RUN_REPORT ", 1)[1])


def test_a_run_within_the_interval_reads_no_metadata(make_simulator) -> None:
    sim, config, catalog, first = _first_run(make_simulator, seed=301)
    sim.update_record("Leads", sim.records("Leads")[0]["id"], {"Last_Name": "Changed"})
    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert _metadata_calls(sim, start) == []
    assert not METADATA & second.streams()
    assert not [m for m in second.messages if m["type"] == "SCHEMA" and m["stream"] in METADATA]
    assert second.records("leads")  # the module stream is read as usual
    for stream in METADATA:
        assert second.last_state["bookmarks"][stream] == first.last_state["bookmarks"][stream]
        assert f"Stream {stream} not read this run: last read at " in second.stderr
        assert _report(second.stderr)["streams"][stream]["status"] == "not due"
    assert "(metadata_refresh_hours: 24)" in second.stderr
    # Who the token is, and settings/modules for the catalog's modules: every run.
    paths = [r["path"] for r in sim.requests()[start:]]
    assert paths.count("/crm/v8/users") == 1 and paths.count("/crm/v8/settings/modules") == 1

    planned = run_tap(config, "--plan", catalog=catalog, state=first.last_state)
    plan = json.loads(planned.stdout.split("ZOHO_RUN_PLAN ", 1)[1])
    rows = {r["stream"]: r for r in plan["streams"]}
    assert all(rows[s]["calls"] == rows[s]["credits"] == 0 for s in METADATA), rows


def test_metadata_refresh_hours_0_reads_metadata_every_run(make_simulator) -> None:
    sim, config, catalog, first = _first_run(make_simulator, seed=302, metadata_refresh_hours=0)
    start = len(sim.requests())
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert sorted(_metadata_calls(sim, start)) == sorted(METADATA_CALLS)
    for stream in METADATA:
        assert len(second.records(stream)) == len(first.records(stream)) > 0
    assert "not read this run" not in second.stderr


def test_metadata_is_read_again_once_the_interval_passed(make_simulator) -> None:
    sim, config, catalog, first = _first_run(make_simulator, seed=303, metadata_refresh_hours=1)
    # Half an hour after the last read: not due yet.
    start = len(sim.requests())
    run = run_tap(config, catalog=catalog, state=full_read_aged(first.last_state, days=0.5 / 24))
    assert _metadata_calls(sim, start) == [] and not METADATA & run.streams()
    # Two hours after: every metadata stream is read again and its time moves on.
    aged = full_read_aged(first.last_state, days=2 / 24)
    start = len(sim.requests())
    run = run_tap(config, catalog=catalog, state=aged)
    assert sorted(_metadata_calls(sim, start)) == sorted(METADATA_CALLS)
    for stream in METADATA:
        assert len(run.records(stream)) == len(first.records(stream)) > 0
        now = run.last_state["bookmarks"][stream]["last_full_read"]
        assert now > aged["bookmarks"][stream]["last_full_read"]
        assert now >= first.last_state["bookmarks"][stream]["last_full_read"]


def test_a_read_that_fails_keeps_the_time_of_the_last_whole_read(make_simulator) -> None:
    sim, config, catalog, first = _first_run(make_simulator, seed=304)
    aged = full_read_aged(first.last_state, days=2)
    sim.add_fault(r"/settings/roles$", status=500, count=None)
    run = run_tap({**config, "max_retries": 0}, catalog=catalog, state=aged, check=False)
    assert run.returncode != 0
    bookmarks = run.last_state["bookmarks"]
    assert bookmarks["roles"]["last_full_read"] == aged["bookmarks"]["roles"]["last_full_read"]


def test_a_bad_metadata_refresh_hours_is_named(sim) -> None:
    for bad in (-1, "soon"):
        run = run_tap(tap_config(sim, metadata_refresh_hours=bad), "--discover")
        assert run.returncode != 0
        assert "`metadata_refresh_hours` must be a number of hours" in run.stderr
