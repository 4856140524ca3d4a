"""`meltano run tap-zohocrm target-jsonl` end to end, against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import meltano, meltano_env
from zoho_simulator import Simulator

# These run Meltano in the repository's own `.meltano`: one such test at a time.
pytestmark = pytest.mark.usefixtures("repo_meltano")


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


def test_meltano_json_log_carries_the_run_report_as_fields(make_simulator,
                                                           tmp_path: Path) -> None:
    """With `structured-logging` Meltano parses the tap's JSON log lines; with its own log in
    JSON the run report arrives as an object, not as JSON text inside a message."""
    sim = make_simulator(seed=11, sizes={"Leads": 450, "Contacts": 60, "Shipments": 30})
    env = simulator_env(sim, tmp_path)
    meltano("install", env=env)
    run = meltano("--log-format=json", "run", "tap-zohocrm", "target-jsonl", env=env)
    events = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    tap_events = [e for e in events if e.get("name") == "tap-zohocrm"]
    reports = [e for e in tap_events if "run_report" in e]
    assert len(reports) == 1, [e["event"] for e in tap_events][-20:]
    report = reports[0]["run_report"]
    assert isinstance(report, dict)
    streams = (("leads", "Leads"), ("contacts", "Contacts"), ("shipments", "Shipments"))
    for stream, module in streams:
        written = (tmp_path / f"{stream}.jsonl").read_text().splitlines()
        assert report["streams"][stream]["records"] == len(sim.records(module)) == len(written)
        assert report["streams"][stream]["status"] == "ok"
    assert report["stopped_early"] is None
    # The same record carries the readable report; no JSON text is left inside a message.
    assert reports[0]["event"].startswith("Run report: ")
    assert not [e for e in tap_events if "ZOHO_RUN_REPORT" in e["event"]
                or e["event"].lstrip().startswith("{")]
