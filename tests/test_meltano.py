"""`meltano run tap-zohocrm target-jsonl` end to end, against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import meltano, meltano_env
from zoho_simulator import Simulator


def simulator_env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    return meltano_env(sim, tmp_path, ["Leads", "Contacts", "Shipments"],
                       TARGET_JSONL_DESTINATION_PATH=str(tmp_path))


def test_meltano_run_to_jsonl(make_simulator, tmp_path: Path) -> None:
    sim = make_simulator(seed=9, sizes={"Leads": 700, "Contacts": 90, "Shipments": 40})
    env = simulator_env(sim, tmp_path)
    meltano("install", env=env)
    meltano("run", "tap-zohocrm", "target-jsonl", env=env)
    streams = (("leads", "Leads"), ("contacts", "Contacts"), ("shipments", "Shipments"))
    for stream, module in streams:
        lines = (tmp_path / f"{stream}.jsonl").read_text().splitlines()
        ids = {json.loads(line)["id"] for line in lines}
        assert ids == {r["id"] for r in sim.records(module)}, stream
    # Meltano kept the tap's bookmark; a second run after one update reads almost nothing.
    changed = sim.update_record("Leads", sim.records("Leads")[0]["id"])
    (tmp_path / "leads.jsonl").unlink()
    meltano("run", "tap-zohocrm", "target-jsonl", env=env)
    second = [json.loads(x) for x in (tmp_path / "leads.jsonl").read_text().splitlines()]
    assert changed["id"] in {r["id"] for r in second}
    assert len(second) < 20
