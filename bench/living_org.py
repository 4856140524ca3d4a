"""Living-org figures: records lost by a sync while Leads change, and API calls per 1,000 records.

* `lost`: 6,000 Leads; before each Get Records page call the simulator edits, deletes or creates
  3 Leads (about one Lead in 2,000 per page call); a full sync, then an incremental run. Counted:
  records that exist at the end whose latest values were never emitted (v2, v8, v8 with
  positional page tokens).
* `calls`: the 60,000-record bench org (Leads=20000,Contacts=20000,Accounts=10000,Deals=10000,
  seed 42), one full sync on v8 and v2: API calls per 1,000 records from the simulator's counters
  (as bench/run counts them, without latency: calls do not depend on it).

Run from the repository root: `PYTHONPATH=$PWD .venv/bin/python bench/living_org.py [lost|calls]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, expected_record, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

BENCH_SIZES = {"Leads": 20000, "Contacts": 20000, "Accounts": 10000, "Deals": 10000}


def lost() -> None:
    for version, positional in (("v2", False), ("v8", False), ("v8", True)):
        with Simulator(seed=11, sizes={"Leads": 6000},
                       positional_page_tokens=positional).start(port=0) as sim:
            config = tap_config(sim, api_version=version, progress_interval_seconds=0)
            catalog = select_streams(discover(config), {"leads"})
            sim.start_churn("Leads", per_call=3, seed=1)
            full = run_tap(config, catalog=catalog)
            done = sim.stop_churn()["Leads"]
            second = run_tap(config, catalog=catalog, state=full.last_state)
            latest = {r["id"]: r for run in (full, second) for r in run.records("leads")}
            schema = full.schema("leads")
            missing = stale = 0
            for record in sim.records("Leads", version):
                got = latest.get(record["id"])
                expected = expected_record(record, schema)
                if got is None:
                    missing += 1
                elif {k: got.get(k) for k in expected} != expected:
                    stale += 1
            label = f"{version}{' positional tokens' if positional else ''}"
            print(f"{label}: {len(done['edit'])} edited, {len(done['delete'])} deleted, "
                  f"{len(done['create'])} created during the sync; lost {missing} "
                  f"(never emitted), stale {stale}", flush=True)


def calls() -> None:
    for version in ("v8", "v2"):
        with Simulator(seed=42, sizes=BENCH_SIZES).start(port=0) as sim:
            config = tap_config(sim, api_version=version)
            streams = {name.lower() for name in BENCH_SIZES}
            catalog = select_streams(discover(config), streams)
            sim.reset_stats()
            run = run_tap(config, catalog=catalog)
            records = sum(len(run.records(s)) for s in streams)
            stats = sim.stats()
            lists = sum(1 for r in sim.requests() if r["path"].rsplit("/", 1)[-1] in BENCH_SIZES
                        and "ids" not in r["params"])
            print(f"{version}: {records:,} records, {stats['api_calls']:,} API calls "
                  f"({lists} list pages), {1000 * stats['api_calls'] / records:.2f} per 1,000 "
                  f"records", flush=True)


if __name__ == "__main__":
    {"lost": lost, "calls": calls}[sys.argv[1] if len(sys.argv) > 1 else "calls"]()
