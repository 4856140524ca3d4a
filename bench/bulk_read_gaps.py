"""What a Bulk Read backfill of 6,000 Leads leaves out, and the calls that make it up.

    PYTHONPATH=.:simulator python bench/bulk_read_gaps.py [--skips]

`--skips`: the simulator's exports leave out converted Leads and records pending approval.
Prints the records emitted, the file/image upload values null where Zoho has one, and the calls.
"""

from __future__ import annotations

import sys

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator.simulator import Simulator

UPLOADS = ("Documents", "Photos")


def main() -> None:
    sim = Simulator(seed=42, sizes={"Leads": 6000}, bulk_job_seconds=0.5).start(port=0)
    try:
        if "--skips" in sys.argv:
            sim.set_config(bulk_skips_converted=True, bulk_skips_unapproved=True)
        config = tap_config(sim, modules=["Leads"], bulk_read_threshold=1000)
        catalog = select_streams(discover(config), {"leads"})
        sim.reset_stats()
        run = run_tap(config, catalog=catalog)
        stats = sim.stats()
        api = {r["id"]: r for r in sim.records("Leads")}
        rows = run.records("leads")
        held = sum(1 for r in api.values() for f in UPLOADS if r.get(f))
        null = sum(1 for r in rows for f in UPLOADS if api[r["id"]].get(f) and not r.get(f))
        by_ids = sum(1 for q in sim.requests() if "ids" in q["params"])
        print(f"records {len(set(r['id'] for r in rows))} of {len(api)}; upload values in Zoho "
              f"{held}, null after the backfill {null}; API calls {stats['api_calls']} (`ids=` "
              f"{by_ids}), credits {stats['credits_used']}")
        print(stats["by_endpoint"])
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
