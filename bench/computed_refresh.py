"""What one computed-values refresh (computed_refresh_days) costs: records, API calls, credits.

* `default`: the default simulator org (`python -m zoho_simulator`: seed 42, every module at
  its built-in size), every stream the discovery offers.
* `bench`: the 60,000-record bench org (Leads=20000,Contacts=20000,Accounts=10000,Deals=10000,
  seed 42), those four modules.

Each: a first sync; then formula and rollup values recomputed, 3 looked-up records and 1 user
renamed (the simulator's control); then the same incremental run twice from the first sync's
state: within the interval, and with the state's `last_full_read` 8 days old (a refresh). The
figures are the simulator's counters (calls, credits) and the tap's run report (records, which
streams were refreshed); `--plan` of the refresh run is printed too.

Run from the repository root:
`PYTHONPATH=$PWD:$PWD/simulator .venv/bin/python bench/computed_refresh.py [default|bench]`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, full_read_aged, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

BENCH_SIZES = {"Leads": 20000, "Contacts": 20000, "Accounts": 10000, "Deals": 10000}


def _json_line(text: str, prefix: str) -> dict[str, Any]:
    line = next(x for x in text.splitlines() if prefix in x)
    return json.loads(line.split(prefix, 1)[1])


def measure(sizes: dict[str, int] | None) -> None:
    with Simulator(seed=42, sizes=sizes).start(port=0) as sim:
        config = tap_config(sim)
        catalog = discover(config)
        if sizes:
            catalog = select_streams(catalog, {name.lower() for name in sizes})
        first = run_tap(config, catalog=catalog)
        sim.change_computed_values(seed=1, renamed_records=3, renamed_users=1)
        for label, state in (("within the interval", first.last_state),
                             ("refresh", full_read_aged(first.last_state, 8))):
            sim.reset_stats()
            run = run_tap(config, catalog=catalog, state=state)
            stats = sim.stats()
            report = _json_line(run.stderr, "ZOHO_RUN_REPORT ")
            refreshed = {n: s for n, s in report["streams"].items() if s["computed_refresh"]}
            print(f"{label}: {report['records']} records, {stats['api_calls']} API calls, "
                  f"{stats['credits_used']} credits; refreshed {len(refreshed)} streams: "
                  f"{sum(s['records'] for s in refreshed.values())} records, "
                  f"{sum(s['api_calls'] for s in refreshed.values())} calls, "
                  f"{sum(s['credits'] for s in refreshed.values())} credits", flush=True)
        aged = full_read_aged(first.last_state, 8)
        plan = _json_line(run_tap(config, "--plan", catalog=catalog, state=aged).stdout,
                          "ZOHO_RUN_PLAN ")
        print(f"--plan of the refresh: {plan['computed_refresh']}", flush=True)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "default"
    measure(BENCH_SIZES if which == "bench" else None)
