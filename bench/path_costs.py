"""What each read path costs over a sync's life: a first sync, an incremental run with 1% of the
records changed, and an idle run, by `read_path` (rest: Get Records only; auto: the path chosen
by cost), on the same simulated org, one after the other.

Printed per path and run: API calls, credits, credits per 1,000 records read, records, and the
path each module took. Also `--plan`'s calls against the first sync's.

Run from the repository root:
`PYTHONPATH=$PWD .venv/bin/python bench/path_costs.py [--size Leads=20000,...] [--paths rest,auto]
[--zoho coql_returns_converted,coql_returns_unapproved,coql_full_rich_text]`.

`--zoho` turns on simulator switches: where Zoho's docs are silent the simulator answers the way
that would lose data (COQL leaving out converted and unapproved records, cutting rich text), and
the tap pays to be complete either way; with the switches, what it costs where Zoho answers
kindly. After the table, where the first sync's credits went, by kind of call.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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


def kind_of(entry: dict[str, Any]) -> str:
    """What a call was for, from its path and parameters."""
    path, params = entry["path"], entry.get("params") or {}
    if path.endswith("/coql"):
        return "COQL"
    if "/settings/" in path or path.endswith(("/users", "/org")):
        return "metadata, users, org"
    if path.endswith("/actions/count"):
        return "record counts"
    if path.endswith("/deleted"):
        return "deleted listings"
    if path.endswith("/actions/fetch_full_data") or "/rich_text" in path:
        return "full rich text"
    if params.get("converted") == "true" or params.get("approved") == "false":
        return "converted / pending approval lists"
    if "ids" in params:
        return "ids="
    return "Get Records pages"


def credits_by_kind(sim: Simulator) -> dict[str, tuple[int, int]]:
    """(calls, credits) by kind of call, from the simulator's log."""
    kinds: dict[str, tuple[int, int]] = {}
    for entry in sim.requests():
        if "credits" in entry:
            calls, credits = kinds.get(kind_of(entry), (0, 0))
            kinds[kind_of(entry)] = (calls + 1, credits + entry["credits"])
    return kinds


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
    parser.add_argument("--zoho", default="", help="simulator switches to turn on, by comma")
    args = parser.parse_args()
    switches = {name: True for name in args.zoho.split(",") if name}
    sizes = sizes_of(args.size)
    streams = {m.lower() for m in sizes}
    rows: list[list[str]] = []
    kinds: dict[str, dict[str, tuple[int, int]]] = {}
    modules: dict[str, dict[str, int]] = {}
    for path in args.paths.split(","):
        with Simulator(seed=args.seed, sizes=sizes, **switches).start(port=0) as sim:
            config = tap_config(sim, modules=list(sizes), read_path=path)
            catalog = select_streams(discover(config), streams)
            sim.reset_stats()
            planned = plan_calls(run_tap(config, "--plan", catalog=catalog).stdout)
            sim.reset_stats()
            first = run_tap(config, catalog=catalog)
            rows.append(row(f"{path}: first sync", first, sim, streams))
            rows[-1].append(f"--plan said {planned:,} calls")
            kinds[path] = credits_by_kind(sim)
            modules[path] = {s: r["credits"] for s, r in first.report()["streams"].items()}
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
    print(f"Org: {args.size}; every stream of those modules selected, default settings"
          + (f"; simulator switches: {args.zoho}" if switches else ""))
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for cells in rows:
        print("| " + " | ".join(cells + [""] * (len(header) - len(cells))) + " |")
    for path, by_kind in kinds.items():
        print(f"\n{path}, first sync: calls / credits by kind of call")
        for kind, (calls, credits) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
            print(f"- {kind}: {calls:,} / {credits:,}")
        print("by stream (run report): " + ", ".join(
            f"{s} {c}" for s, c in sorted(modules[path].items(), key=lambda kv: -kv[1]) if c))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
