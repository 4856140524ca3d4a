"""Sync figures: full sync of 5,000 Leads (v8, v2), then an incremental run after 70 changes.

Run from the repository root: `.venv/bin/python bench/sync_figures.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator


def main() -> None:
    for version in ("v8", "v2"):
        with Simulator(seed=11, sizes={"Leads": 5000}).start(port=0) as sim:
            config = tap_config(sim, api_version=version, progress_interval_seconds=0)
            catalog = select_streams(discover(config), {"leads"})
            sim.reset_stats()
            started = time.monotonic()
            run = run_tap(config, catalog=catalog)
            wall = time.monotonic() - started
            stats, leads = sim.stats(), run.records("leads")
            single = sum(n for k, n in stats["by_endpoint"].items() if "/Leads/" in k)
            print(f"{version} full: {len(leads)} records x "
                  f"{len(run.schema('leads')['properties'])} properties, "
                  f"{stats['api_calls']} API calls ({single} rich-text re-reads), "
                  f"{stats['token_requests']} token requests, {wall:.1f} s, "
                  f"{len(leads) / wall:.0f} records/s")
            changed = set()
            for record in sim.records("Leads")[1000:1050]:
                changed.add(sim.update_record("Leads", record["id"])["id"])
            for _ in range(20):
                changed.add(sim.create_record("Leads")["id"])
            second = run_tap(config, catalog=catalog, state=run.last_state)
            ids = {r["id"] for r in second.records("leads")}
            total = len(sim.records("Leads"))
            print(f"{version} incremental after 70 changes: emitted {len(ids)} "
                  f"({100 * len(ids) / total:.2f}% of {total}), all 70 included: {changed <= ids}")


if __name__ == "__main__":
    main()
