"""Answers Zoho never documents: what a run delivers when a 200 holds `null` or `[]`.

Each case injects one such answer (a proxy's, a hiccup's) into a call of a small simulator org
and prints the run's exit code and the records it delivered: one records page, one `ids=`
field-group call, one `settings/fields` call, and every records page from the second on.

Run from the repository root: `PYTHONPATH=$PWD .venv/bin/python bench/odd_answers.py`.
`--tap-root DIR` runs the tap of another checkout (e.g. a `git worktree` of an older commit)
against this checkout's simulator, for a before/after in one sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import discover, select_streams, tap_config  # noqa: E402
from zoho_simulator import Simulator  # noqa: E402

FAST = {"retry_backoff_seconds": 0.05, "full_rich_text": True}


def run(tap_root: Path, config: dict[str, Any], catalog: dict[str, Any]
        ) -> tuple[int, list[dict[str, Any]], str]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, doc in (("config", config), ("catalog", catalog)):
            path = os.path.join(tmp, f"{name}.json")
            Path(path).write_text(json.dumps(doc))
            paths.append(path)
        # `python -m` puts the working directory first: the tap of `tap_root` is the one run.
        proc = subprocess.run(
            [sys.executable, "-m", "tap_zohocrm", "--config", paths[0], "--catalog", paths[1]],
            capture_output=True, text=True, cwd=tap_root,
            env={**os.environ, "PYTHONPATH": str(tap_root)})
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, messages, proc.stderr


def records(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tap-root", type=Path, default=ROOT)
    tap_root = parser.parse_args().tap_root.resolve()
    sim = Simulator(seed=13, sizes={"Accounts": 300, "Leads": 250}).start(port=0)
    try:
        config = tap_config(sim, modules=["Accounts"], **FAST)
        catalog = select_streams(discover(config), {"accounts"})
        sim.add_fault(r"^/crm/v8/Accounts$", status=200, body="null", count=1)
        code, messages, _ = run(tap_root, config, catalog)
        print(f"one records page answered null: exit {code}, "
              f"{len(records(messages, 'accounts'))} of 300 Accounts")

        sim.clear_faults()
        config = tap_config(sim, modules=["Leads"], **FAST)
        catalog = select_streams(discover(config), {"leads"})
        sim.add_fault(r"^/crm/v8/Leads$", status=200, body="null", count=1,
                      query_regex=r"(^|&)ids=")
        code, messages, _ = run(tap_root, config, catalog)
        leads = records(messages, "leads")
        props = next(m["schema"]["properties"] for m in messages
                     if m["type"] == "SCHEMA" and m["stream"] == "leads")
        api = {r["id"]: r for r in sim.records("Leads")}
        empty = (None, [], "")
        half = sum(any(api[r["id"]].get(k) not in empty and r.get(k) in empty
                       for k in props if k in api[r["id"]]) for r in leads)
        print(f"one ids= field-group call answered null: exit {code}, {len(leads)} of 250 "
              f"Leads, {half} of them with selected fields null that Zoho has")

        sim.clear_faults()
        config = tap_config(sim, modules=["Accounts", "Leads"], metadata_refresh_hours=0, **FAST)
        catalog = select_streams(discover(config), {"fields"})
        sim.add_fault(r"/settings/fields$", status=200, body="[]", count=1)
        code, messages, _ = run(tap_root, config, catalog)
        modules = sorted({r["module"] for r in records(messages, "fields")})
        print(f"one settings/fields call answered []: exit {code}, fields of {modules}")

        sim.clear_faults()
        config = tap_config(sim, modules=["Accounts"], per_page=100, max_retries=2, **FAST)
        catalog = select_streams(discover(config), {"accounts"})
        sim.add_fault(r"^/crm/v8/Accounts$", status=200, body="null", count=None, after=1)
        code, messages, stderr = run(tap_root, config, catalog)
        status = next((line.split(":", 1)[1].split(",")[0].strip()
                       for line in stderr.splitlines() if line.strip().startswith("accounts:")),
                      "?")
        print(f"every records page from the 2nd answered null: exit {code}, "
              f"{len(records(messages, 'accounts'))} of 300 Accounts, reported {status!r}")
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
