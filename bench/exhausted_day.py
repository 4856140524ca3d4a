"""A run that meets an org whose day of API credits runs out: how it ends, and how long it takes.

    PYTHONPATH=$PWD python bench/exhausted_day.py [--daily-credits 40] [--leads 20000]

Starts the simulator with a small daily allowance (`daily_credits`), runs the tap with its
default retry settings on Leads, and prints the exit code, the seconds the run took, the 429
answers it got, the last lines of its log and whether it wrote a STATE. Run it with PYTHONPATH
pointing at another checkout to measure that checkout's tap.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoho_simulator import Simulator  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daily-credits", type=int, default=40)
    parser.add_argument("--leads", type=int, default=20000)
    args = parser.parse_args()
    with Simulator(seed=5, sizes={"Leads": args.leads}).start() as sim, \
            tempfile.TemporaryDirectory() as tmp:
        config = {**sim.credentials, "api_url": sim.url, "accounts_url": sim.url,
                  "api_version": "v8", "token_store": "memory", "modules": ["Leads"],
                  "full_rich_text": False}
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        sim.set_config(daily_credits=args.daily_credits)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "tap_zohocrm", "--config", str(path)],
                              capture_output=True, text=True, timeout=1800)
        seconds = time.monotonic() - started
        states = [line for line in proc.stdout.splitlines() if '"STATE"' in line]
        too_many = sum(1 for r in sim.requests() if r["status"] == 429)
        log = [line for line in proc.stderr.splitlines()
               if "credits" in line or "failed" in line or "Error" in line][-4:]
    print(f"exit code {proc.returncode}; {seconds:.1f} s; {too_many} answers 429; "
          f"STATE written: {bool(states)}")
    for line in log:
        print("  " + line[:300])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
