"""`meltano run tap-zohocrm target-jsonl` end to end, against the simulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from zoho_simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


def meltano_bin() -> str:
    found = os.environ.get("MELTANO_BIN") or shutil.which("meltano")
    if not found:
        # CI installs Meltano (.ci/run); a missing one is a failure, not a skip.
        pytest.fail("Meltano is not installed: run `bash .ci/run` or set MELTANO_BIN")
    return found


def meltano(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [meltano_bin(), *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"meltano {' '.join(args)} failed:\n{proc.stderr[-6000:]}"
    return proc


def simulator_env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MELTANO_ENVIRONMENT": "dev",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "ZOHO_SIMULATOR_URL": sim.url,
        "TAP_ZOHOCRM_CLIENT_ID": sim.credentials["client_id"],
        "TAP_ZOHOCRM_CLIENT_SECRET": sim.credentials["client_secret"],
        "TAP_ZOHOCRM_REFRESH_TOKEN": sim.credentials["refresh_token"],
        "TAP_ZOHOCRM_MODULES": '["Leads", "Contacts", "Shipments"]',
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path),
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path}/state",
    }


def test_meltano_run_to_jsonl(make_simulator, tmp_path: Path) -> None:
    sim = make_simulator(seed=9, sizes={"Leads": 700, "Contacts": 90, "Shipments": 40})
    env = simulator_env(sim, tmp_path)
    meltano("install", env=env)
    meltano("run", "tap-zohocrm", "target-jsonl", env=env)
    for stream, module in (("leads", "Leads"), ("contacts", "Contacts"), ("shipments", "Shipments")):
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
