"""How long Airflow takes to parse the DAG file with many orgs in meltano.yml.

Builds a Meltano project in a temporary folder: this repository's meltano.yml with N orgs
(default 100) added the way `tap-zohocrm auth --org` adds them (editions in turn). Then, each
run in a new process of Airflow's interpreter, as Airflow's DAG processor does:

- parse: Airflow's own figure, the file's load time in `DagBag` (what `airflow dags report` shows
  and `dagbag_import_timeout` bounds), Airflow already imported;
- serialize: turning the DAG into its serialized form (the processor does this after parsing);
- process: the whole process, interpreter start and Airflow's import included.

Each is printed as min / median / max over the runs, for the project with N orgs and for this
repository's one-org meltano.yml. Needs Airflow's virtual environment (.venv-airflow, made by
.ci/run, or AIRFLOW_BIN).

Run from the repository root: `.venv/bin/python bench/dag_parse.py [--orgs 100] [--runs 7]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tap_zohocrm.auth import meltano_project  # noqa: E402

DAG_FILE = ROOT / "orchestrate" / "dags" / "zohocrm_meltano.py"
# One parse in Airflow's interpreter; prints its figures as JSON on the last line.
PROBE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
import airflow.providers.standard.operators.bash, airflow.sdk  # loaded in the processor
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
if bag.import_errors:
    sys.exit(f"import errors: {bag.import_errors}")
(stat,) = bag.dagbag_stats
dag = bag.dags["zohocrm_meltano"]
started = time.perf_counter()
DagSerialization.to_dict(dag)
print(json.dumps({"parse": stat.duration.total_seconds(), "tasks": stat.task_num,
                  "serialize": time.perf_counter() - started}))
"""


def airflow_python() -> Path:
    airflow = Path(os.environ.get("AIRFLOW_BIN") or ROOT / ".venv-airflow" / "bin" / "airflow")
    python = airflow.parent / "python"
    if not python.exists():
        sys.exit(f"no Airflow at {airflow}: run `bash .ci/run` (it makes .venv-airflow) or set "
                 "AIRFLOW_BIN")
    return python


def project_with_orgs(folder: Path, orgs: int) -> Path:
    meltano_yml = folder / "meltano.yml"
    text = (ROOT / "meltano.yml").read_text()
    editions = list(meltano_project.EDITIONS)
    for i in range(orgs):
        entry = meltano_project.org_entry(
            f"org{i:03d}",
            {"data_center": "eu", "accounts_url": "https://accounts.zoho.eu",
             "api_url": "https://www.zohoapis.eu"},
            {"edition": editions[i % len(editions)]})
        text = meltano_project.add_org(text, entry, meltano_yml)
    meltano_yml.write_text(text)
    return folder


def measure(python: Path, project: Path, runs: int) -> dict[str, list[float]]:
    env = {**os.environ, "MELTANO_PROJECT_ROOT": str(project),
           "AIRFLOW_HOME": str(project / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "ZOHO_DAG_SCHEDULE": "none"}
    figures: dict[str, list[float]] = {"parse": [], "serialize": [], "process": []}
    for _ in range(runs + 1):  # the first warms the file cache: not counted
        started = time.perf_counter()
        proc = subprocess.run([str(python), "-c", PROBE, str(DAG_FILE)], env=env,
                              capture_output=True, text=True, timeout=300)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"the DAG did not parse:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        figures["parse"].append(result["parse"])
        figures["serialize"].append(result["serialize"])
        figures["process"].append(wall)
        figures.setdefault("tasks", []).append(result["tasks"])
    return {k: v[1:] for k, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = airflow_python()
    with tempfile.TemporaryDirectory() as tmp:
        many = project_with_orgs(Path(tmp), args.orgs)
        rows = [(f"{args.orgs} orgs", measure(python, many, args.runs)),
                ("1 org (this repository's meltano.yml)", measure(python, ROOT, args.runs))]
    print(f"DAG file parse, {args.runs} runs each (seconds, min / median / max)")
    print("| meltano.yml | tasks | parse (Airflow's DagBag) | serialize | whole process |")
    print("|---|---|---|---|---|")
    for label, fig in rows:
        cells = [" / ".join(f"{f(fig[k]):.2f}" for f in (min, statistics.median, max))
                 for k in ("parse", "serialize", "process")]
        print(f"| {label} | {int(fig['tasks'][0])} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
