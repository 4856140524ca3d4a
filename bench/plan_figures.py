"""Plan figures: `--plan` against the real run's API calls and credits (full, incremental).

Run from the repository root: `.venv/bin/python bench/plan_figures.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, run_tap, tap_config
from zoho_simulator import Simulator


def main() -> None:
    sizes = {"Leads": 2300, "Contacts": 450, "Deals": 130}
    with Simulator(seed=73, sizes=sizes).start(port=0) as sim:
        config = tap_config(sim, full_rich_text=False)
        catalog = discover(config)
        state = None
        for label in ("full", "incremental"):
            if label == "incremental":
                for record in sim.records("Leads")[:150]:
                    sim.update_record("Leads", record["id"])
            planned = run_tap(config, "--plan", catalog=catalog, state=state)
            line = next(x for x in planned.stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
            plan = json.loads(line.split(" ", 1)[1])
            sim.reset_stats()
            run = run_tap(config, catalog=catalog, state=state)
            stats = sim.stats()
            print(f"{label}: plan {plan['api_calls']} calls / {plan['credits']} credits / "
                  f"{plan['records']} records; real run {stats['api_calls']} calls / "
                  f"{stats['credits_used']} credits")
            state = run.last_state


if __name__ == "__main__":
    main()
