"""One large module, each read path: what `--plan` prices for each (a Record Count, no records
read), and which path `read_path: auto` picks; with `--run`, the real first sync of each path
too (wall seconds, API calls, credits, records).

The tap's output goes to a file (a million records do not fit a test's memory); records are
counted from it, and each run's calls and credits from the simulator.

Run from the repository root:
`PYTHONPATH=$PWD .venv/bin/python bench/big_module.py --module Deals --size 1000000`
`PYTHONPATH=$PWD .venv/bin/python bench/big_module.py --module Deals --size 1000000 --run`
(`--dollar-keys`: the `$` keys selected too; discovery leaves them out where COQL can read)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, run_tap, select_dollar_keys, select_streams, tap_config
from zoho_simulator import Simulator

PATHS = ("rest", "coql", "bulk", "auto")


def plan_row(stdout: str, stream: str) -> dict[str, object]:
    line = next(x for x in stdout.splitlines() if x.startswith("ZOHO_RUN_PLAN "))
    plan = json.loads(line.split("ZOHO_RUN_PLAN ", 1)[1])
    return next(r for r in plan["streams"] if r["stream"] == stream)


def first_sync(config: dict[str, Any], catalog: dict[str, Any]) -> int:
    """Run the tap to its end, its output to a file; the RECORD messages it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {name: Path(tmp, f"{name}.json") for name in ("config", "catalog")}
        paths["config"].write_text(json.dumps(config))
        paths["catalog"].write_text(json.dumps(catalog))
        out, err = Path(tmp, "out.jsonl"), Path(tmp, "err.log")
        with out.open("wb") as stdout, err.open("wb") as stderr:
            code = subprocess.run([sys.executable, "-m", "tap_zohocrm", "--config",
                                   str(paths["config"]), "--catalog", str(paths["catalog"])],
                                  stdout=stdout, stderr=stderr, check=False).returncode
        if code != 0:
            raise SystemExit(f"the tap exited {code}:\n{err.read_text()[-3000:]}")
        with out.open("rb") as lines:
            return sum(line.startswith(b'{"type":"RECORD"') for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="Deals")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--run", action="store_true", help="also run each path's first sync")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dollar-keys", action="store_true",
                        help="select the `$` keys (record metadata only Get Records gives)")
    args = parser.parse_args()
    stream = args.module.lower()
    started = time.perf_counter()
    with Simulator(seed=args.seed, sizes={args.module: args.size},
                   # Each tap run asks a token: more runs than Zoho's throttle allows.
                   token_throttle_limit=1000).start(port=0) as sim:
        keys = "the `$` keys selected too" if args.dollar_keys else "the default selection"
        print(f"{args.module}: {args.size:,} records, {keys} (simulator built in "
              f"{time.perf_counter() - started:.0f} s)")
        print("| read_path | --plan: calls | --plan: credits | note | run: wall s | calls | "
              "credits | records |")
        print("|---|---|---|---|---|---|---|---|")
        for path in PATHS:
            config = tap_config(sim, modules=[args.module], read_path=path)
            catalog = select_streams(discover(config), {stream})
            if args.dollar_keys:
                select_dollar_keys(catalog)
            row = plan_row(run_tap(config, "--plan", catalog=catalog).stdout, stream)
            chosen = path if path == row["read_path"] else f"{path}: {row['read_path']}"
            cells = [chosen, f"{row['calls']:,}", f"{row['credits']:,}", str(row.get("note", ""))]
            if args.run:
                sim.reset_stats()
                start = time.perf_counter()
                records = first_sync(config, catalog)
                wall = time.perf_counter() - start
                stats = sim.stats()
                cells += [f"{wall:.1f}", f"{stats['api_calls']:,}",
                          f"{stats['credits_used']:,}", f"{records:,}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
