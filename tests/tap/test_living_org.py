"""A living org: records edited, deleted and created while a sync pages through them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import TapRun, discover, expected_record, run_tap, select_streams, tap_config
from zoho_simulator import Simulator


def _latest(runs: list[TapRun], stream: str) -> dict[str, dict]:
    """Each id's last emitted version over the runs, in order."""
    latest: dict[str, dict] = {}
    for run in runs:
        for record in run.records(stream):
            latest[record["id"]] = record
    return latest


def assert_latest(runs: list[TapRun], sim: Simulator, stream: str, module: str,
                  version: str) -> None:
    latest = _latest(runs, stream)
    schema = runs[0].schema(stream)
    stale, missing = [], []
    for api_record in sim.records(module, version):
        emitted = latest.get(api_record["id"])
        if emitted is None:
            missing.append(api_record["id"])
            continue
        expected = expected_record(api_record, schema)
        if {k: emitted.get(k) for k in expected} != expected:
            stale.append(api_record["id"])
    assert not missing and not stale, f"never emitted: {missing}; stale: {stale}"


@pytest.mark.parametrize(("version", "positional", "path"), [
    ("v2", False, "auto"), ("v8", False, "auto"), ("v8", True, "auto"), ("v8", False, "rest")],
    ids=["v2", "v8", "v8-positional-tokens", "v8-get-records"])
def test_sync_while_records_change_misses_nothing(
    make_simulator: Callable[..., Simulator], version: str, positional: bool, path: str
) -> None:
    # v8-get-records: Leads' fields past the first 50 from pages beside the read's, matched
    # by (id, Modified_Time) while records are edited, deleted and created.
    sim = make_simulator(seed=5, sizes={"Leads": 2600}, positional_page_tokens=positional)
    config = tap_config(sim, api_version=version, progress_interval_seconds=0, read_path=path)
    catalog = select_streams(discover(config), {"leads"})
    sim.start_churn("Leads", per_call=3, seed=1)
    full = run_tap(config, catalog=catalog)
    done = sim.stop_churn()["Leads"]
    assert done["edit"] and done["delete"] and done["create"]
    incremental = run_tap(config, catalog=catalog, state=full.last_state)
    assert_latest([full, incremental], sim, "leads", "Leads", version)


@pytest.mark.parametrize("version", ["v2", "v8"])
def test_one_second_shared_past_a_page(make_simulator: Callable[..., Simulator],
                                       version: str) -> None:
    """450 records of one second: positional paging within that second, then on."""
    sim = make_simulator(seed=6, sizes={"Leads": 1200})
    sim.crowd_second("Leads", 450)
    config = tap_config(sim, api_version=version, progress_interval_seconds=0)
    catalog = select_streams(discover(config), {"leads"})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    ids = [r["id"] for r in run.records("leads")]
    assert len(ids) == len(set(ids)) == 1200
    pages = [r for r in sim.requests() if r["path"].endswith("/Leads")
             and "ids" not in r["params"]]
    own = [r for r in pages
           if r["params"].get("fields", "Modified_Time").startswith("Modified_Time")]
    # 1,200 records of 200 a page, the anchored repeats of each page's last second included;
    # on v8 (121 fields) as many pages beside them for each chunk of the other fields.
    assert len(own) <= 9
    assert len(pages) - len(own) <= (2 * 9 if version == "v8" else 0)
