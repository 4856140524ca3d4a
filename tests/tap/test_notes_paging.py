"""Notes on v8 read right whether Zoho honours If-Modified-Since and page_token on them or not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config, utc
from zoho_simulator import Simulator


def _notes_pages(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests() if r["path"].endswith("/Notes")]


@pytest.mark.parametrize("plain", [False, True], ids=["header-honoured", "header-ignored"])
def test_notes_incremental_either_way(make_simulator: Callable[..., Simulator],
                                      plain: bool) -> None:
    sim = make_simulator(seed=89, sizes={"Notes": 1500}, notes_v8_plain=plain)
    config = tap_config(sim, modules=["Notes"], progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"notes"})
    first = run_tap(config, catalog=catalog)
    assert {r["id"] for r in first.records("notes")} == {r["id"] for r in sim.records("Notes")}

    notes = sim.records("Notes")
    changed = {sim.update_record("Notes", n["id"])["id"] for n in notes[100:130]}
    changed |= {sim.create_record("Notes")["id"] for _ in range(5)}
    latest = {n["id"]: n["Modified_Time"] for n in sim.records("Notes")}
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.last_state)
    got = {r["id"]: r for r in second.records("notes")}
    assert changed <= set(got)
    # Nothing older than the bookmark: the changes, and the bookmark's own second again.
    assert len(got) <= len(changed) + 12
    for note_id in changed:
        assert got[note_id]["Modified_Time"] == utc(latest[note_id])
    assert len(_notes_pages(sim)) <= 3


def test_notes_past_the_page_limit_never_loop_or_fail(
    make_simulator: Callable[..., Simulator],
) -> None:
    """Header and page tokens ignored, 2,600 notes: what 2,000 reach is read, with a warning."""
    sim = make_simulator(seed=97, sizes={"Notes": 2600}, notes_v8_plain=True)
    config = tap_config(sim, modules=["Notes"], progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"notes"})
    run = run_tap(config, catalog=catalog)
    ids = [r["id"] for r in run.records("notes")]
    by_time = sorted(sim.records("Notes"), key=lambda n: utc(n["Modified_Time"]))
    cut = utc(by_time[-2000]["Modified_Time"])  # ties at the 2,000th may fall either side
    assert {n["id"] for n in by_time if utc(n["Modified_Time"]) > cut} <= set(ids)
    assert len(set(ids)) >= 2000
    assert "paging stopped after" in run.stderr
    assert len(_notes_pages(sim)) <= 13
