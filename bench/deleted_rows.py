"""Deleted rows over scheduled runs: records deleted in Zoho still live in the warehouse.

Ten runs three hours apart (the state's times moved back three hours before each run, so the
tap's clock sees a day pass) against 300 Leads and 120 Notes, `emit_deletes` on. Before each run
after the first: 3 Notes deleted (Zoho lists no deleted Notes), 2 Leads deleted into the recycle
bin and 1 deleted for good without a trace (`unlisted`: as one older than Zoho keeps). The
messages are applied as target-postgres 0.8.1 applies them: a RECORD upserts every column (NULL
for those it lacks), ACTIVATE_VERSION flags the unflagged rows of older versions. Printed per run
and module: deleted in Zoho, still live, flagged, flagged with their last values.

Run from the repository root: `PYTHONPATH=$PWD .venv/bin/python bench/deleted_rows.py`. For the
tap of another commit, give the folder holding its `tap_zohocrm`:
`git archive COMMIT tap_zohocrm | tar -x -C /tmp/old`, then
`TAP_PYTHONPATH=/tmp/old PYTHONPATH=$PWD .venv/bin/python bench/deleted_rows.py`.
"""

from __future__ import annotations

import copy
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import run_tap, tap_config
from zoho_simulator import Simulator

TIMES = ("ids_checked_at", "deletions_listed_at", "last_full_read")


def _earlier(state: dict[str, Any], hours: float) -> dict[str, Any]:
    state = copy.deepcopy(state)
    for bookmark in state["bookmarks"].values():
        for key in TIMES:
            if key in bookmark:
                bookmark[key] = (datetime.fromisoformat(bookmark[key])
                                 - timedelta(hours=hours)).isoformat()
    return state


def _load(warehouse: dict[str, dict[str, dict[str, Any]]], messages: list[dict]) -> None:
    for message in messages:
        table = warehouse.get(message.get("stream", ""))
        if table is None:
            continue
        if message["type"] == "RECORD":
            record = message["record"]
            table[record["id"]] = {"values": record, "version": message.get("version"),
                                   "deleted": record.get("_sdc_deleted_at")}
        elif message["type"] == "ACTIVATE_VERSION":
            for row in table.values():
                if not row["deleted"] and (row["version"] is None
                                           or row["version"] < message["version"]):
                    row["deleted"] = "ACTIVATE_VERSION"


def main() -> None:
    # PYTHONSAFEPATH: `python -m` would put the working directory (this checkout) first.
    env = ({"PYTHONPATH": os.environ["TAP_PYTHONPATH"], "PYTHONSAFEPATH": "1"}
           if os.environ.get("TAP_PYTHONPATH") else {})
    with Simulator(seed=5, sizes={"Leads": 300, "Notes": 120}).start(port=0) as sim:
        config = tap_config(sim, modules=["Leads", "Notes"], emit_deletes=True)
        warehouse: dict[str, dict[str, dict[str, Any]]] = {"leads": {}, "notes": {}}
        gone: dict[str, set[str]] = {"leads": set(), "notes": set()}
        state = None
        for run_number in range(1, 11):
            if state is not None:
                sim.advance_clock(3 * 3600)
                for note in [n["id"] for n in sim.records("Notes")[:3]]:
                    sim.delete_record("Notes", note)
                    gone["notes"].add(note)
                first, second, third = (lead["id"] for lead in sim.records("Leads")[:3])
                sim.delete_record("Leads", first)
                sim.delete_record("Leads", second)
                sim.delete_record("Leads", third, permanent=True, unlisted=True)
                gone["leads"].update({first, second, third})
                sim.advance_clock(60)
                state = _earlier(state, 3)
            run = run_tap(config, state=state, env=env)
            state = run.last_state
            _load(warehouse, run.messages)
            for stream, deleted in gone.items():
                rows = [warehouse[stream][i] for i in deleted if i in warehouse[stream]]
                flagged = [r for r in rows if r["deleted"]]
                kept = [r for r in flagged if r["values"].get("Modified_Time")]
                print(f"run {run_number:2} {stream}: deleted in Zoho {len(deleted)}, still live "
                      f"{len(rows) - len(flagged)}, flagged {len(flagged)} (last values kept "
                      f"{len(kept)})", flush=True)


if __name__ == "__main__":
    main()
