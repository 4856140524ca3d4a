"""One large module, each read path: what `--plan` prices for each (a Record Count, no records
read), and which path `read_path: auto` picks; with `--run`, the real first sync of each path
too (wall seconds, API calls, credits, records).

The simulator answers every Get Records page by scanning the module, so real runs of a million
records take hours on it: price a million, run a smaller size.

Run from the repository root:
`PYTHONPATH=$PWD .venv/bin/python bench/big_module.py --module Deals --size 1000000`
`PYTHONPATH=$PWD .venv/bin/python bench/big_module.py --module Deals --size 100000 --run`
(`--without-dollar-keys`: the `$` keys deselected, as a user who does not load them would)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

PATHS = ("rest", "coql", "bulk", "auto")


def plan_row(stdout: str, stream: str) -> dict[str, object]:
    line = next(x for x in stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    plan = json.loads(line.split("ZOHO_RUN_PLAN ", 1)[1])
    return next(r for r in plan["streams"] if r["stream"] == stream)


def deselect_dollar_keys(catalog: dict[str, Any]) -> None:
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            crumb = md["breadcrumb"]
            if len(crumb) == 2 and crumb[1].startswith("$"):
                md["metadata"]["selected"] = False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="Deals")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--run", action="store_true", help="also run each path's first sync")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--without-dollar-keys", action="store_true",
                        help="deselect the `$` keys (record metadata only Get Records gives)")
    args = parser.parse_args()
    stream = args.module.lower()
    started = time.perf_counter()
    with Simulator(seed=args.seed, sizes={args.module: args.size}).start(port=0) as sim:
        keys = "without the `$` keys" if args.without_dollar_keys else "every field"
        print(f"{args.module}: {args.size:,} records, {keys} (simulator built in "
              f"{time.perf_counter() - started:.0f} s)")
        print("| read_path | --plan: calls | --plan: credits | note | run: wall s | calls | "
              "credits | records |")
        print("|---|---|---|---|---|---|---|---|")
        for path in PATHS:
            config = tap_config(sim, modules=[args.module], read_path=path)
            catalog = select_streams(discover(config), {stream})
            if args.without_dollar_keys:
                deselect_dollar_keys(catalog)
            row = plan_row(run_tap(config, "--plan", catalog=catalog).stdout, stream)
            chosen = path if path == row["read_path"] else f"{path}: {row['read_path']}"
            cells = [chosen, f"{row['calls']:,}", f"{row['credits']:,}", str(row.get("note", ""))]
            if args.run:
                sim.reset_stats()
                start = time.perf_counter()
                run = run_tap(config, catalog=catalog)
                wall = time.perf_counter() - start
                stats = sim.stats()
                cells += [f"{wall:.1f}", f"{stats['api_calls']:,}",
                          f"{stats['credits_used']:,}", f"{len(run.records(stream)):,}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
