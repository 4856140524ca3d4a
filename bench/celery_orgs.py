"""Many orgs on Airflow's CeleryExecutor, run for real on this machine (docs/distributed.md).

Starts what a distributed deployment runs, each as its own process: Airflow 3's api-server
(the workers' Execution API), scheduler and dag-processor, and TWO Celery workers (named
worker-a and worker-b), with Redis as broker and PostgreSQL as Airflow's metadata database and
Celery result backend; Meltano's system database (where its state lives) and the tap's token
store in PostgreSQL too. Each org is a simulator process of its own (a data center), with the
simulator's concurrency limit set to the org's edition, added to a temporary Meltano project
with `tap-zohocrm auth --org`.

1. Each org alone, one DAG run each, for the baseline: its twin (`alone_acme`, ...: the same
   edition and data, in a simulator of its own, with a refresh token of its own).
2. Three orgs (`acme` professional, `globex` standard, `initech` free; N records each), one DAG
   run: every org's rows in its own schema, each org's concurrency as its simulator counted it
   within its pool, one token request per org across both workers, tasks on both workers. The
   run's wall against the slowest org alone (the run cannot end before it), each org's span
   (its first task's start to its last task's end) against its own wall alone, and each org's
   calls and credits against its twin's.
3. Each org's access token expired, 3 new Leads per org, a second DAG run: incremental (the
   records it loaded), one token request per org again.

Needs Airflow 3 with the Celery provider (AIRFLOW_BIN, default .venv-airflow-celery/bin/airflow)
and Meltano with PostgreSQL support (MELTANO_BIN, default .venv-meltano/bin/meltano) whose
project here has run `meltano install tap-zohocrm target-postgres` (the temporary project links
to those plugins), Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (user postgres, no
password). Exit 1 when a check fails. No secret is printed.

Run from the repository root: `.venv/bin/python bench/celery_orgs.py [--records 3000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DAG_FILE = ROOT / "orchestrate" / "dags" / "zohocrm_meltano.py"
DAG_ID = "zohocrm_meltano"
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
EDITIONS = {"free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25}
# org -> (edition, simulator seed). Each has a twin alone_<org> for the baseline: the same seed
# (so the same records and client id), another refresh token (so another stored access token).
ORGS = {"acme": ("professional", 101), "globex": ("standard", 202), "initech": ("free", 303)}
# Three tasks per org: two module groups and `rest` (here Deals); the org-wide streams are not
# selected, so each task reads its module only.
GROUPS = "        module_groups:\n          leads: [Leads]\n          contacts: [Contacts]\n"
SELECT = ["leads.*", "contacts.*", "deals.*"]
WORKERS = ("worker-a", "worker-b")
# The workers' TaskInstance.hostname: both run on this machine, so each names itself.
HOSTNAME_MODULE = "import os\n\ndef hostname():\n    return os.environ['BENCH_WORKER_NAME']\n"


def sizes(records: int) -> dict[str, int]:
    """An org of `records` records: half Leads, 30% Contacts, the rest Deals."""
    leads, contacts = records // 2, records * 3 // 10
    return {"Leads": leads, "Contacts": contacts, "Deals": records - leads - contacts}


def bench_meltano_yml(text: str) -> str:
    """The repository's meltano.yml with the base extractor's module groups replaced by this
    bench's (leads, contacts; `rest` reads Deals)."""
    start = text.index("        module_groups:\n")
    end = text.index("        org_concurrency:", start)
    return text[:start] + GROUPS + text[end:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def airflow_settings(*, metadata_db: str, broker_url: str, api_port: int, queue: str,
                     jwt_secret: str, dags_folder: Path, home: Path) -> dict[str, str]:
    """The Airflow configuration every component shares (scheduler, api-server, dag-processor,
    workers), as AIRFLOW__SECTION__KEY variables. metadata_db is a SQLAlchemy URL of a
    PostgreSQL database: Airflow's metadata database and, with Celery's `db+` prefix, its
    result backend."""
    sync_url = metadata_db.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sync_url,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + sync_url.replace("+psycopg2", ""),
        # Workers report to the api-server's Execution API with JWTs every component must
        # sign and check with one secret (a random one per process would fail every task).
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__API__SECRET_KEY": jwt_secret,
        # A queue of this run's own: other Celery workers on the broker never take its tasks.
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    }


class Bench:
    def __init__(self, records: int, concurrency: int, keep: bool, latency_ms: float) -> None:
        self.records, self.concurrency, self.keep = records, concurrency, keep
        self.latency_ms = latency_ms
        self.tmp = Path(tempfile.mkdtemp(prefix="tzc_celery_"))
        self.project = self.tmp / "project"
        self.tag = uuid.uuid4().hex[:8]
        self.dbs = {kind: f"tzc_celery_{self.tag}_{kind}"
                    for kind in ("airflow", "warehouse", "meltano", "tokens")}
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.sims: dict[str, str] = {}  # org -> simulator URL
        self.airflow = Path(os.environ.get("AIRFLOW_BIN")
                            or ROOT / ".venv-airflow-celery" / "bin" / "airflow")
        self.meltano = Path(os.environ.get("MELTANO_BIN")
                            or ROOT / ".venv-meltano" / "bin" / "meltano")
        self.failures: list[str] = []
        self.env: dict[str, str] = {}
        self.api_port = 0

    # -- plumbing -------------------------------------------------------------------------

    def url(self, kind: str) -> str:
        return f"{POSTGRES}/{self.dbs[kind]}"

    def admin(self) -> sa.Engine:
        return sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT",
                                poolclass=sa.pool.NullPool)

    def check(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")
        if not ok:
            self.failures.append(what)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            text=True, cwd=self.tmp, start_new_session=True)

    def run(self, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 600) -> str:
        proc = subprocess.run(args, env=env or self.env, cwd=cwd or self.tmp,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} {args[1]} failed ({proc.returncode}): "
                               f"{proc.stderr[-3000:]}")
        return proc.stdout

    def sim(self, org: str, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.sims[org]}/__sim/{path}", data=data,
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    def sql(self, kind: str, query: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.url(kind), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query), params))
        finally:
            engine.dispose()

    # -- set-up ---------------------------------------------------------------------------

    def setup(self) -> None:
        for binary in (self.airflow, self.meltano):
            if not binary.exists():
                sys.exit(f"missing {binary}: see this file's docstring")
        if not (ROOT / ".meltano" / "extractors" / "tap-zohocrm").exists():
            sys.exit("run `meltano install tap-zohocrm target-postgres` in the repository first")
        with self.admin().connect() as conn:
            for name in self.dbs.values():
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
        self.project.mkdir()
        # The repository's installed plugins; this project's own Meltano run files.
        (self.project / ".meltano").mkdir()
        for kind in ("extractors", "loaders"):
            (self.project / ".meltano" / kind).symlink_to(ROOT / ".meltano" / kind)
        (self.tmp / "bench_worker_name.py").write_text(HOSTNAME_MODULE)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TAP_ZOHOCRM", "TARGET_", "MELTANO_", "AIRFLOW"))}
        self.api_port = free_port()
        self.env.update(airflow_settings(
            metadata_db=self.url("airflow"), broker_url=REDIS, api_port=self.api_port,
            queue=f"tzc_{self.tag}", jwt_secret=secrets.token_urlsafe(32),
            dags_folder=DAG_FILE.parent, home=self.tmp / "airflow"))
        self.env.update({
            # The tasks' Meltano: one project, its system database (so its state) in
            # PostgreSQL, the token store in PostgreSQL: any worker can run any org's task.
            "MELTANO_PROJECT_ROOT": str(self.project), "MELTANO_BIN": str(self.meltano),
            "MELTANO_SYS_DIR_ROOT": str(self.project / ".meltano"),
            "MELTANO_DATABASE_URI": self.url("meltano"), "MELTANO_ENVIRONMENT": "prod",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_ZOHOCRM_TOKEN_STORE": self.url("tokens"),
            "TAP_ZOHOCRM__SELECT": json.dumps(SELECT),
            "TARGET_POSTGRES_HOST": "127.0.0.1", "TARGET_POSTGRES_PORT": "5432",
            "TARGET_POSTGRES_USER": "postgres", "TARGET_POSTGRES_PASSWORD": "",
            "TARGET_POSTGRES_DATABASE": self.dbs["warehouse"],
            "ZOHO_LOADER": "target-postgres", "ZOHO_DAG_SCHEDULE": "none",
            "ZOHO_TASK_RETRIES": "0",
        })
        self.write_project([])
        self.run([str(self.meltano), "state", "list"], cwd=self.project)  # migrates its db
        self.run([str(self.airflow), "db", "migrate"])
        airflow = str(self.airflow)
        api_port = str(self.api_port)
        self.start("api-server", [airflow, "api-server", "--port", api_port, "--workers", "1"],
                   self.env)
        self.start("scheduler", [airflow, "scheduler"], self.env)
        self.start("dag-processor", [airflow, "dag-processor"], self.env)
        for name in WORKERS:
            self.start(name, [airflow, "celery", "worker", "--celery-hostname",
                              f"{name}@%h", "--concurrency", str(self.concurrency),
                              "--queues", self.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
                              "--without-gossip", "--without-mingle"],
                       {**self.env, "BENCH_WORKER_NAME": name,
                        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "bench_worker_name.hostname",
                        "PYTHONPATH": str(self.tmp),
                        # Two workers on one machine: a log server port each.
                        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})
        self.wait_http(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", "api-server")

    def wait_http(self, url: str, name: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                urllib.request.urlopen(url, timeout=5).close()
                return
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"{name} did not answer at {url} in {timeout:.0f} s")

    def alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.tmp / f"{name}.log").read_text()[-3000:]
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{tail}")

    def start_simulator(self, org: str, edition: str, seed: int) -> None:
        args = [sys.executable, "-m", "zoho_simulator", "--port", "0", "--seed", str(seed),
                "--latency-ms", str(self.latency_ms),
                *(f"--size={m}={n}" for m, n in sizes(self.records).items())]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, start_new_session=True)
        self.procs[f"sim-{org}"] = proc
        assert proc.stdout is not None
        self.sims[org] = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        proc.stdout.readline()  # its credentials: read from /__sim/credentials when needed
        # The org's data center refuses calls beyond its edition's concurrency, as Zoho does.
        self.sim(org, "POST", "config", {"concurrency_limit": EDITIONS[edition]})

    def write_project(self, orgs: list[tuple[str, str]]) -> None:
        """meltano.yml: the repository's, the base's module groups narrowed to this bench's, then
        each org added by `tap-zohocrm auth --org` (its secrets to .env) against its simulator."""
        (self.project / "meltano.yml").write_text(
            bench_meltano_yml((ROOT / "meltano.yml").read_text()))
        (self.project / ".env").unlink(missing_ok=True)
        for org, edition in orgs:
            creds = self.sim(org, "GET", "credentials")
            code = self.sim(org, "POST", "grant_codes", {})["code"]
            self.run([sys.executable, "-m", "tap_zohocrm", "auth", "--org", org,
                      "--client-id", creds["client_id"], "--client-secret",
                      creds["client_secret"], "--code", code, "--accounts-url", self.sims[org],
                      "--edition", edition], cwd=self.project,
                     # Its token in no shared store: the DAG run's first request is counted.
                     env={**self.env, "TAP_ZOHOCRM_TOKEN_STORE": "memory"})

    def deploy(self, orgs: list[tuple[str, str]]) -> None:
        """The orgs into meltano.yml, their pools into Airflow, and wait for the DAG processor
        to have parsed the DAG with them."""
        self.write_project(orgs)
        pools = self.run([str(self.airflow.parent / "python"), str(DAG_FILE), "--pool-json"])
        (self.tmp / "pools.json").write_text(pools)
        self.run([str(self.airflow), "pools", "import", str(self.tmp / "pools.json")])
        wanted = {f"{org}.meltano_run_{g}" for org, _ in orgs for g in ("leads", "contacts",
                                                                         "rest")}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            self.alive()
            rows = self.sql("airflow", "SELECT data::text FROM serialized_dag WHERE dag_id = "
                            ":d ORDER BY created_at DESC LIMIT 1", d=DAG_ID)
            if rows and rows[0][0] and all(f'"{t}"' in rows[0][0] for t in wanted) and not any(
                    f'"{o}.meltano_run_' in rows[0][0] for o in ({*self.sims}
                                                                 - {o for o, _ in orgs})):
                break
            time.sleep(2)
        else:
                raise RuntimeError("the DAG processor did not parse the DAG with the orgs in 300 s "
                               f"(see {self.tmp}/dag-processor.log)")
        for org, _ in orgs:  # the DAG run's calls only, not the auth's
            self.sim(org, "POST", "reset_stats")

    # -- runs -----------------------------------------------------------------------------

    def dag_run(self, run_id: str) -> dict[str, Any]:
        """Trigger a DAG run and wait for it: its wall and its tasks."""
        self.run([str(self.airflow), "dags", "trigger", DAG_ID, "--run-id", run_id])
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            self.alive()
            rows = self.sql("airflow", "SELECT state, start_date, end_date FROM dag_run "
                            "WHERE dag_id = :d AND run_id = :r", d=DAG_ID, r=run_id)
            if rows and rows[0][0] in ("success", "failed"):
                state, started, ended = rows[0]
                tasks = {t: {"state": s, "hostname": h, "started": b, "ended": e,
                             "seconds": (e - b).total_seconds() if b and e else None}
                         for t, s, h, b, e in self.sql(
                             "airflow", "SELECT task_id, state, hostname, start_date, end_date "
                             "FROM task_instance WHERE dag_id = :d AND run_id = :r",
                             d=DAG_ID, r=run_id)}
                return {"state": state, "wall": (ended - started).total_seconds(),
                        "tasks": tasks}
            time.sleep(2)
        raise RuntimeError(f"DAG run {run_id} did not end in an hour")

    def stats(self, org: str) -> dict[str, Any]:
        return dict(self.sim(org, "GET", "stats"))

    def rows(self, org: str) -> dict[str, int]:
        return {m: self.sql("warehouse", f'SELECT count(*) FROM zoho_{org}."{m.lower()}"')[0][0]
                for m in sizes(self.records)}

    def loaded_after(self, org: str, mark: Any) -> dict[str, int]:
        """Rows the loader wrote after `mark` (a `_sdc_batched_at`), per module."""
        return {m: self.sql("warehouse", f'SELECT count(*) FROM zoho_{org}."{m.lower()}" '
                            "WHERE _sdc_batched_at > :t", t=mark)[0][0]
                for m in sizes(self.records)}

    def last_batch(self, org: str) -> Any:
        return max(self.sql("warehouse", f'SELECT max(_sdc_batched_at) FROM zoho_{org}."{m}"')[0][0]
                   for m in ("leads", "contacts", "deals"))

    def report_run(self, label: str, run: dict[str, Any], orgs: list[str]) -> dict[str, Any]:
        print(f"\n{label}: {run['state']}, wall {run['wall']:.1f} s")
        for task, t in sorted(run["tasks"].items()):
            print(f"  {task:34} {t['state']:8} {t['hostname'] or '-':9} "
                  f"{t['seconds'] or 0:6.1f} s")
        per_org = {}
        print(f"  {'org':14} {'edition':13} {'pool':>4} {'max conc.':>9} {'calls':>6} "
              f"{'credits':>7} {'tokens':>6}")
        for org in orgs:
            edition = ORGS[org.removeprefix("alone_")][0]
            s = self.stats(org)
            per_org[org] = s
            print(f"  {org:14} {edition:13} {EDITIONS[edition]:4} {s['max_concurrent']:9} "
                  f"{s['api_calls']:6} {s['credits_used']:7} {s['token_requests']:6}")
        return per_org

    def main(self) -> int:
        n = self.records
        print(f"records per org: {n} {sizes(n)}; 2 Celery workers x {self.concurrency} slots; "
              f"simulator latency {self.latency_ms:g} ms; work folder {self.tmp}")
        self.setup()
        for org, (edition, seed) in ORGS.items():
            self.start_simulator(org, edition, seed)
            self.start_simulator(f"alone_{org}", edition, seed)

        # 1. Each org alone.
        alone: dict[str, dict[str, Any]] = {}
        for org, (edition, _) in ORGS.items():
            twin = f"alone_{org}"
            self.deploy([(twin, edition)])
            run = self.dag_run(f"alone_{org}")
            alone[org] = {"wall": run["wall"], **self.report_run(f"{org} alone ({twin})", run,
                                                                  [twin])[twin]}
            self.check(run["state"] == "success", f"{twin}: DAG run succeeded")
            self.check(self.rows(twin) == sizes(n), f"{twin}: every record in zoho_{twin}")

        # 2. Three orgs, a first run.
        orgs = list(ORGS)
        self.deploy([(org, ORGS[org][0]) for org in orgs])
        first = self.dag_run("orgs_1")
        stats = self.report_run("three orgs, first run", first, orgs)
        self.check(first["state"] == "success" and all(
            t["state"] == "success" for t in first["tasks"].values()), "every task succeeded")
        hosts = {t["hostname"] for t in first["tasks"].values()}
        self.check(hosts == set(WORKERS), f"tasks ran on both workers: {sorted(hosts)}")
        for org in orgs:
            pool = EDITIONS[ORGS[org][0]]
            self.check(self.rows(org) == sizes(n), f"{org}: every record in zoho_{org}")
            self.check(stats[org]["max_concurrent"] <= pool,
                       f"{org}: at most {pool} calls at once ({stats[org]['max_concurrent']})")
            self.check(stats[org]["token_requests"] == 1,
                       f"{org}: one token request across both workers "
                       f"({stats[org]['token_requests']})")
            for key in ("api_calls", "credits_used"):
                self.check(stats[org][key] == alone[org][key],
                           f"{org}: {key} {stats[org][key]} = alone {alone[org][key]}")
        schemas = {r[0] for r in self.sql("warehouse", "SELECT DISTINCT table_schema FROM "
                                          "information_schema.tables WHERE table_schema "
                                          "LIKE 'zoho_%'")}
        self.check(schemas == {f"zoho_{p}{o}" for o in orgs for p in ("", "alone_")},
                   f"one schema per org: {sorted(schemas)}")
        slowest = max(a["wall"] for a in alone.values())
        ratio = first["wall"] / slowest
        print(f"\n  wall: three orgs {first['wall']:.1f} s, the slowest org alone {slowest:.1f} s:"
              f" {ratio:.2f}x (goal <= 1.3x)")
        spans = {}
        for org in orgs:
            own = [t for task, t in first["tasks"].items() if task.startswith(f"{org}.")]
            spans[org] = (max(t["ended"] for t in own) - min(t["started"] for t in own)
                          ).total_seconds()
            print(f"  {org}: {spans[org]:.1f} s among three orgs, {alone[org]['wall']:.1f} s "
                  f"alone: {spans[org] / alone[org]['wall']:.2f}x")

        # 3. Tokens expired, a few new records: an incremental second run.
        for org in orgs:
            self.sim(org, "POST", "tokens/expire")
            self.sim(org, "POST", "reset_stats")
            for _ in range(3):
                self.sim(org, "POST", "records/Leads", {})
        before = {org: self.rows(org) for org in orgs}
        marks = {org: self.last_batch(org) for org in orgs}
        second = self.dag_run("orgs_2")
        stats2 = self.report_run("three orgs, second run (tokens expired, 3 new Leads each)",
                                 second, orgs)
        self.check(second["state"] == "success", "second run succeeded")
        for org in orgs:
            new = {m: c - before[org][m] for m, c in self.rows(org).items()}
            loaded = self.loaded_after(org, marks[org])
            self.check(new == loaded == {"Leads": 3, "Contacts": 0, "Deals": 0},
                       f"{org}: the second run loaded the 3 new Leads only ({loaded})")
            self.check(stats2[org]["token_requests"] == 1,
                       f"{org}: one token request after the expiry "
                       f"({stats2[org]['token_requests']})")
            self.check(stats2[org]["api_calls"] < stats[org]["api_calls"],
                       f"{org}: {stats2[org]['api_calls']} calls, first run "
                       f"{stats[org]['api_calls']}")
        print(json.dumps({"records": n, "worker_slots": self.concurrency,
                          "latency_ms": self.latency_ms,
                          "wall_alone": {o: a["wall"] for o, a in alone.items()},
                          "wall_three_orgs": first["wall"], "ratio": round(ratio, 2),
                          "span_ratio": {o: round(spans[o] / alone[o]["wall"], 2)
                                         for o in orgs},
                          "wall_second_run": second["wall"],
                          "failures": len(self.failures)}))
        return 1 if self.failures else 0

    def cleanup(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.keep:
            print(f"kept {self.tmp} and the databases {sorted(self.dbs.values())}")
            return
        with self.admin().connect() as conn:
            for name in self.dbs.values():
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        shutil.rmtree(self.tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=3000, help="records per org (default 3000)")
    p.add_argument("--worker-concurrency", type=int, default=3,
                   help="task slots per Celery worker (default 3)")
    p.add_argument("--latency-ms", type=float, default=0,
                   help="the simulators' latency per call (Zoho's is a few hundred ms)")
    p.add_argument("--keep", action="store_true", help="keep the work folder and databases")
    args = p.parse_args(argv)
    bench = Bench(args.records, args.worker_concurrency, args.keep, args.latency_ms)
    try:
        return bench.main()
    finally:
        bench.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
