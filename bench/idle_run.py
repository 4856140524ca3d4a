"""An idle scheduled run: what the tap asks Zoho when nothing changed since the last run.

The default simulator org (every module it serves), every stream selected (Meltano's
`select: ['*.*']`), API v8 and v2: a full sync, then a second run from its STATE with nothing
changed in between. Printed per version: API calls and credits of the idle run, calls per
selected module, the calls by kind, and the records emitted again.

Run from the repository root: `PYTHONPATH=$PWD .venv/bin/python bench/idle_run.py`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator

ORG_STREAMS = {"users", "org", "roles", "profiles", "modules", "fields", "deleted_records",
               "attachments"}


def kind(path: str) -> str:
    tail = path.split("/crm/", 1)[-1].split("/", 1)[-1]
    if tail.endswith("/actions/count"):
        return "record counts"
    if tail.endswith("/deleted"):
        return "deleted-record listings"
    if tail.startswith(("settings/", "users", "org")):
        return tail.split("?")[0]
    return "record pages"


def idle_run(version: str) -> None:
    with Simulator(seed=5).start(port=0) as sim:
        config = tap_config(sim, api_version=version, full_rich_text=False)
        catalog = discover(config)
        catalog = select_streams(catalog, {e["tap_stream_id"] for e in catalog["streams"]})
        modules = [e["tap_stream_id"] for e in catalog["streams"]
                   if e["tap_stream_id"] not in ORG_STREAMS]
        first = run_tap(config, catalog=catalog)
        sim.reset_stats()
        start = len(sim.requests())
        second = run_tap(config, catalog=catalog, state=first.last_state)
        stats = sim.stats()
        kinds = Counter(kind(r["path"]) for r in sim.requests()[start:]
                        if "/oauth/" not in r["path"])
        again = Counter(m["stream"] for m in second.messages if m["type"] == "RECORD")
        print(f"{version}: {len(modules)} modules selected, every stream; idle run "
              f"{stats['api_calls']} API calls ({stats['credits_used']} credits), "
              f"{stats['api_calls'] / len(modules):.2f} calls per module")
        print("  calls: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
        module_again = sum(n for s, n in again.items() if s not in ORG_STREAMS)
        print(f"  records emitted again: {module_again} module records; "
              + ", ".join(f"{n} {s}" for s, n in again.most_common() if s in ORG_STREAMS))


if __name__ == "__main__":
    for api_version in ("v8", "v2"):
        idle_run(api_version)
