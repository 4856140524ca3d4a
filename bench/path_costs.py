"""What each read path costs over a sync's life: a first sync, an incremental run with 1% of the
records changed, and an idle run, by `read_path` (rest: Get Records only; auto: the path chosen
by cost), on the same simulated org, one after the other.

Printed per path and run: API calls, credits, credits per 1,000 records read, records, and the
path each module took. Also `--plan`'s calls against the first sync's.

Run from the repository root:
`PYTHONPATH=$PWD .venv/bin/python bench/path_costs.py [--size Leads=20000,...] [--paths rest,auto]`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import TapRun, discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

DEFAULT_SIZES = "Leads=20000,Contacts=20000,Accounts=10000,Deals=10000"


def sizes_of(value: str) -> dict[str, int]:
    sizes = {}
    for item in value.split(","):
        name, _, n = item.partition("=")
        sizes[name.strip()] = int(n)
    return sizes


def plan_calls(stdout: str) -> int:
    line = next(x for x in stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    return int(json.loads(line.split("ZOHO_RUN_PLAN ", 1)[1])["api_calls"])


def row(name: str, run: TapRun, sim: Simulator, streams: set[str]) -> list[str]:
    stats = sim.stats()
    records = sum(len(run.records(s)) for s in streams)
    report = run.report()["streams"]
    paths = ", ".join(f"{s} {report[s].get('read_path')}" for s in sorted(streams) if s in report)
    per_1k = f"{1000 * stats['credits_used'] / records:.1f}" if records else "-"
    return [name, f"{stats['api_calls']:,}", f"{stats['credits_used']:,}", per_1k,
            f"{records:,}", paths]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default=DEFAULT_SIZES)
    parser.add_argument("--paths", default="rest,auto")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    sizes = sizes_of(args.size)
    streams = {m.lower() for m in sizes}
    rows: list[list[str]] = []
    for path in args.paths.split(","):
        with Simulator(seed=args.seed, sizes=sizes).start(port=0) as sim:
            config = tap_config(sim, modules=list(sizes), read_path=path)
            catalog = select_streams(discover(config), streams)
            sim.reset_stats()
            planned = plan_calls(run_tap(config, "--plan", catalog=catalog).stdout)
            sim.reset_stats()
            first = run_tap(config, catalog=catalog)
            rows.append(row(f"{path}: first sync", first, sim, streams))
            rows[-1].append(f"--plan said {planned:,} calls")
            changed = 0
            for module, n in sizes.items():
                for record in sim.records(module)[: max(1, n // 100)]:
                    sim.update_record(module, record["id"])
                    changed += 1
            sim.advance_clock(120)
            sim.reset_stats()
            incremental = run_tap(config, catalog=catalog, state=first.last_state)
            rows.append(row(f"{path}: {changed:,} changed (1%)", incremental, sim, streams))
            sim.advance_clock(120)
            sim.reset_stats()
            idle = run_tap(config, catalog=catalog, state=incremental.last_state)
            rows.append(row(f"{path}: idle", idle, sim, streams))
    header = ["run", "API calls", "credits", "credits/1k rec", "records", "paths", "plan"]
    print(f"Org: {args.size}; every stream of those modules selected, default settings")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for cells in rows:
        print("| " + " | ".join(cells + [""] * (len(header) - len(cells))) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
