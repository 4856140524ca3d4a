"""The COQL read path over real HTTP: the same records as Get Records, fewer credits, complete
whichever way Zoho treats converted and unapproved records, a refusal falls back to REST."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import TapRun, discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

SIZES = {"Leads": 2600, "Contacts": 700, "Accounts": 300, "Deals": 250}
STREAMS = {"leads": "Leads", "contacts": "Contacts", "accounts": "Accounts", "deals": "Deals"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=77, sizes=SIZES).start(port=0) as simulator:
        yield simulator


def sync(sim: Simulator, **overrides: object) -> tuple[TapRun, int]:
    config = tap_config(sim, **overrides)
    catalog = select_streams(discover(config), set(STREAMS))
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return run, sim.stats()["credits_used"]


def by_id(run: TapRun, stream: str) -> dict[str, dict]:
    return {record["id"]: record for record in run.records(stream)}


@pytest.fixture(scope="module")
def both(sim: Simulator) -> tuple[tuple[TapRun, int], tuple[TapRun, int]]:
    return sync(sim, read_path="rest"), sync(sim, read_path="coql")


def test_coql_emits_what_get_records_emits_record_by_record(both) -> None:
    (rest, _), (coql, _) = both
    for stream in STREAMS:
        got, want = by_id(coql, stream), by_id(rest, stream)
        assert set(got) == set(want), stream
        differ = {(name, repr(got[i].get(name))[:80], repr(want[i].get(name))[:80])
                  for i in want for name in set(got[i]) | set(want[i])
                  if got[i].get(name) != want[i].get(name)}
        assert not differ, f"{stream}: {sorted(differ)[:6]}"
        assert coql.schema(stream) == rest.schema(stream)


def test_each_module_says_how_it_was_read(both) -> None:
    (rest, _), (coql, _) = both
    for stream in STREAMS:
        assert rest.report()["streams"][stream]["read_path"] == "rest"
        assert coql.report()["streams"][stream]["read_path"] == "coql"


def test_auto_reads_a_first_sync_through_the_cheaper_path(sim: Simulator, both) -> None:
    (_, rest_credits), (_, coql_credits) = both
    run, auto_credits = sync(sim, read_path="auto")
    paths = {s: run.report()["streams"][s]["read_path"] for s in STREAMS}
    # Leads: 121 fields, three field groups over REST. The others: one group, and COQL would
    # need an `ids=` call per 100 records for the `$` keys only Get Records gives.
    assert paths == {"leads": "coql", "contacts": "rest", "accounts": "rest",
                     "deals": "rest"}, paths
    assert auto_credits < min(rest_credits, coql_credits), (auto_credits, rest_credits,
                                                            coql_credits)
    for stream, module in STREAMS.items():
        assert {r["id"] for r in run.records(stream)} == {
            r["id"] for r in sim.records(module)}, stream


def test_before_v7_the_first_sync_stays_on_get_records(sim: Simulator) -> None:
    run, _ = sync(sim, api_version="v6", read_path="auto")
    assert {run.report()["streams"][s]["read_path"] for s in STREAMS} == {"rest"}
