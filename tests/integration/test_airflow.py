"""The Airflow 3 DAG (orchestrate/dags) run for real: `airflow dags test` fans out one
`meltano run --state-id-suffix <group> tap-zohocrm target-postgres` per module group of
meltano.yml, and one (`rest`) for the modules no group names, against the simulator and the
PostgreSQL server on 127.0.0.1.

Airflow lives in its own virtual environment (.venv-airflow, made by .ci/run; or AIRFLOW_BIN).
A missing Airflow, Meltano or PostgreSQL fails these tests; it never skips them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.helpers import PLUGIN_ENV_PREFIXES, ROOT, meltano, meltano_bin, meltano_env
from zoho_simulator import Simulator

# These run Meltano in the repository's own `.meltano`: one such test at a time.
pytestmark = pytest.mark.usefixtures("repo_meltano")

DAG_FILE = ROOT / "orchestrate" / "dags" / "zohocrm_meltano.py"
DAG_ID = "zohocrm_meltano"
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def airflow_bin() -> Path:
    found = Path(os.environ.get("AIRFLOW_BIN") or ROOT / ".venv-airflow" / "bin" / "airflow")
    if not found.exists():
        pytest.fail(f"Airflow is not installed at {found}: run `bash .ci/run` (it creates "
                    ".venv-airflow) or set AIRFLOW_BIN")
    return found


# Modules of the simulator's default org that no group of meltano.yml names: a subform or
# linking module is read with its (first) parent's group, any other module by the `rest` task.
# Invoices is refused to the token's user: skipped with a warning.
PARENTS = {"Quoted_Items": "Quotes", "Contacts_X_Deals": "Contacts", "Deals_X_Users": "Deals"}
UNGROUPED = ["Shipments"]
ORG_STREAMS = ["users", "org", "roles", "profiles", "modules"]


def module_groups() -> dict[str, list[str]]:
    data = yaml.safe_load((ROOT / "meltano.yml").read_text())
    tap = next(p for p in data["plugins"]["extractors"] if p["name"] == "tap-zohocrm")
    return tap["annotations"]["airflow"]["module_groups"]


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for the loader and the token store."""
    name = f"tzc_airflow_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc.orig}")
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def airflow(*args: str, env: dict[str, str], timeout: float = 900) -> str:
    proc = subprocess.run([str(airflow_bin()), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, (
        f"airflow {' '.join(args)} failed ({proc.returncode}):\n"
        f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc.stdout + proc.stderr


def airflow_python(code: str, env: dict[str, str]) -> str:
    python = airflow_bin().parent / "python"
    proc = subprocess.run([str(python), "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def first_pages(sim: Simulator, module: str) -> int:
    """Get Records calls that began a first read of the module: not a later page, not the
    next pages asked by If-Modified-Since (pagination.py), not an ids= call."""
    return sum(1 for r in sim.requests()
               if r["method"] == "GET" and r["path"] == f"/crm/v8/{module}"
               and "ids" not in r["params"] and "page_token" not in r["params"]
               and r["params"].get("page", "1") == "1"
               and "If-Modified-Since" not in r["headers"])



def import_pools(tmp_path: Path, env: dict[str, str]) -> None:
    """The DAG's pools, sized from meltano.yml, imported as an operator would."""
    pool_json = tmp_path / "pools.json"
    pool_json.write_text(subprocess.run(
        [str(airflow_bin().parent / "python"), str(DAG_FILE), "--pool-json"], env=env,
        capture_output=True, text=True, check=True, timeout=60).stdout)
    airflow("pools", "import", str(pool_json), env=env)

def test_dag_fans_out_one_meltano_run_per_module_group(make_simulator, database: str,
                                                       tmp_path: Path) -> None:
    groups = module_groups()
    assert len(groups) >= 2
    named = [m for modules in groups.values() for m in modules]
    assert not set(named) & {*PARENTS, *UNGROUPED}
    # Task -> the modules it should read.
    reads = {g: [*ms, *(m for m, parent in PARENTS.items() if parent in ms)]
             for g, ms in groups.items()}
    reads["rest"] = UNGROUPED
    sim: Simulator = make_simulator(seed=31, sizes={"Leads": 300, "Contacts": 60})
    store = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    env = meltano_env(
        sim, tmp_path,
        TARGET_POSTGRES_HOST="127.0.0.1", TARGET_POSTGRES_PORT="5432",
        TARGET_POSTGRES_USER="postgres", TARGET_POSTGRES_PASSWORD="",
        TARGET_POSTGRES_DATABASE=database,
        # Every task's tap processes (discovery and sync) share one access token.
        TAP_ZOHOCRM_TOKEN_STORE=store,
    )
    env.pop("TAP_ZOHOCRM_MODULES", None)
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "MELTANO_BIN": meltano_bin(),
        "ZOHO_LOADER": "target-postgres",
        "ZOHO_DAG_SCHEDULE": "none",
        "ZOHO_TASK_RETRIES": "0",  # a failure fails the test now, not after a retry delay
    })
    meltano("install", env=env)
    airflow("db", "migrate", env=env)

    # The pool, sized from meltano.yml, as an operator would create it.
    import_pools(tmp_path, env)
    pools = json.loads(airflow("pools", "get", "zoho_crm", "-o", "json", env=env)
                       .strip().splitlines()[-1])
    assert pools[0]["slots"] == "10" or pools[0]["slots"] == 10

    # The DAG as Airflow parses it: one task per group, in the pool, with the group's modules.
    tasks = json.loads(airflow_python(
        "import json, runpy\n"
        f"dag = runpy.run_path({str(DAG_FILE)!r})['dag']\n"
        "print(json.dumps({t.task_id: {'pool': t.pool, 'slots': t.pool_slots, 'env': t.env,\n"
        "      'cmd': t.bash_command} for t in dag.tasks}))\n", env).strip().splitlines()[-1])
    assert set(tasks) == {f"meltano_run_{g}" for g in reads}
    for group in reads:
        task = tasks[f"meltano_run_{group}"]
        assert task["pool"] == "zoho_crm" and task["slots"] == 5
        assert json.loads(task["env"].get("TAP_ZOHOCRM_MODULES", "[]")) == groups.get(group, [])
        assert task["env"]["TAP_ZOHOCRM_MAX_CONCURRENCY"] == "5"
        assert f"--state-id-suffix {group} tap-zohocrm target-postgres" in task["cmd"]
        assert f'own="$shared/airflow/{group}"' in task["cmd"]  # its own Meltano run files
    assert json.loads(tasks["meltano_run_rest"]["env"]["TAP_ZOHOCRM_EXCLUDE_MODULES"]) == named

    sim.reset_stats()
    airflow("dags", "test", DAG_ID, env=env, timeout=1800)

    # Every module landed in PostgreSQL, in full: the groups', their subform and linking
    # modules, and the one no group names; no other module's table.
    every = [m for modules in reads.values() for m in modules]
    engine = sa.create_engine(store, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        tables = set(conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'tap_zohocrm'")).scalars())
        for module in every:
            count = conn.execute(sa.text(
                f'SELECT count(*) FROM tap_zohocrm."{module.lower()}"')).scalar()
            assert count == len(sim.records(module)) > 0, module
        for stream in ORG_STREAMS:
            assert conn.execute(sa.text(
                f'SELECT count(*) FROM tap_zohocrm."{stream}"')).scalar(), stream
    engine.dispose()
    assert {m.lower() for m in every} == tables - {*ORG_STREAMS, "fields", "deleted_records"}
    # Each module and org-wide stream read by one task: one first page each.
    for module in every:
        assert first_pages(sim, module) == 1, module
    for path, params in (("/crm/v8/users", {"type": "AllUsers"}), ("/crm/v8/org", {}),
                         ("/crm/v8/settings/roles", {}), ("/crm/v8/settings/profiles", {})):
        assert len([r for r in sim.requests() if r["path"] == path
                    and params.items() <= r["params"].items()]) == 1, path
    # One Meltano state per task, with its own streams' bookmarks and no other task's.
    all_streams = {m.lower() for m in every} | set(ORG_STREAMS)
    for task, modules in reads.items():
        state_id = f"dev:tap-zohocrm-to-target-postgres:{task}"
        state = json.loads(meltano("state", "get", state_id, env=env).stdout)
        bookmarks = set(state["singer_state"]["bookmarks"])
        own = {m.lower() for m in modules} | (set(ORG_STREAMS) if task == "rest" else set())
        assert own <= bookmarks, (task, bookmarks)
        assert not (bookmarks & all_streams) - own, (task, bookmarks)
    # 2 tap processes per task (discovery, sync), one access token for all of them.
    assert sim.stats()["token_requests"] == 1


def test_airflow_parses_three_orgs_into_task_groups_and_pools(tmp_path: Path) -> None:
    """Airflow itself (not stand-ins) parses a project of three orgs (docs/multi-org.md): a
    task group per org, the org's pool, no task waiting on another org's."""
    from tap_zohocrm.auth import meltano_project

    text = (ROOT / "meltano.yml").read_text()
    for org, edition in (("acme", "professional"), ("beta", "free"), ("gamma", None)):
        entry = meltano_project.org_entry(
            org, {"data_center": "eu"}, {"edition": edition} if edition else None)
        text = meltano_project.add_org(text, entry, tmp_path / "meltano.yml")
    (tmp_path / "meltano.yml").write_text(text)
    env = {**os.environ, "MELTANO_PROJECT_ROOT": str(tmp_path),
           "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    parsed = json.loads(airflow_python(
        "import json, runpy\n"
        f"dag = runpy.run_path({str(DAG_FILE)!r})['dag']\n"
        "print(json.dumps({'max_active_tasks': dag.max_active_tasks, 'tasks': {t.task_id: {\n"
        "    'pool': t.pool, 'slots': t.pool_slots, 'group': t.task_group.group_id,\n"
        "    'upstream': sorted(t.upstream_task_ids), 'env': t.env, 'cmd': t.bash_command}\n"
        "    for t in dag.tasks}}))\n", env).strip().splitlines()[-1])
    tasks = parsed["tasks"]
    groups = [*module_groups(), "rest"]
    assert list(tasks) == [f"{org}.meltano_run_{g}" for org in ("acme", "beta", "gamma")
                           for g in groups]
    pools = json.loads(subprocess.run(
        [str(airflow_bin().parent / "python"), str(DAG_FILE), "--pool-json"], env=env,
        capture_output=True, text=True, check=True, timeout=60).stdout)
    assert {name: p["slots"] for name, p in pools.items()} == {
        "zoho_crm_acme": 15, "zoho_crm_beta": 5, "zoho_crm_gamma": 10}
    for task_id, task in tasks.items():
        org, name = task_id.split(".")
        assert task["group"] == org and task["pool"] == f"zoho_crm_{org}"
        assert task["slots"] == 5 and task["upstream"] == []
        assert task["env"][f"TAP_ZOHOCRM__{org.upper()}__LOAD_SCHEMA"] == f"zoho_{org}"
        group = name.removeprefix("meltano_run_")
        assert f"--state-id-suffix {group} tap-zohocrm--{org} target-postgres" in task["cmd"]
    assert parsed["max_active_tasks"] >= len(tasks)


def test_dag_runs_two_orgs_into_their_schemas_and_a_failing_org_fails_alone(
        make_simulator, database: str, tmp_path: Path) -> None:
    """Two orgs added with `tap-zohocrm auth --org` (two data centers: a simulator each), one
    DAG run: acme's rows land in zoho_acme with acme's state; beta's refresh token is revoked,
    so beta's tasks fail and acme's do not."""
    sims = {"acme": make_simulator(seed=71, sizes={"Leads": 40, "Contacts": 10, "Deals": 10}),
            "beta": make_simulator(seed=72, sizes={"Leads": 30})}
    (tmp_path / "meltano.yml").write_text((ROOT / "meltano.yml").read_text())
    for org, sim in sims.items():
        proc = subprocess.run(
            [sys.executable, "-m", "tap_zohocrm", "auth", "--org", org, "--client-id",
             sim.credentials["client_id"], "--client-secret", sim.credentials["client_secret"],
             "--code", sim.issue_grant_code(), "--accounts-url", sim.url, "--edition", "free"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
    # Two tasks per org: `sales` and `rest` (the base's select narrowed, inherited by both).
    text = (tmp_path / "meltano.yml").read_text()
    text = text.replace("        edition: free\n", "        edition: free\n        module_groups:\n"
                        "          sales: [Leads, Contacts]\n")
    (tmp_path / "meltano.yml").write_text(text)
    beta_refresh = next(line.split("=", 1)[1] for line in (tmp_path / ".env").read_text()
                        .splitlines() if line.startswith("TAP_ZOHOCRM__BETA_REFRESH_TOKEN="))
    sims["beta"].revoke_refresh_token(beta_refresh)
    for sim in sims.values():
        sim.reset_stats()

    env = {k: v for k, v in os.environ.items() if not k.startswith(PLUGIN_ENV_PREFIXES)}
    env.update({
        "MELTANO_ENVIRONMENT": "prod", "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_STATE_BACKEND_URI": f"file://{tmp_path}/state",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path}/meltano.db",
        # The plugins this repository's `meltano install` installed (the tap for every org).
        "MELTANO_SYS_DIR_ROOT": str(ROOT / ".meltano"),
        "TAP_ZOHOCRM__SELECT": json.dumps(["leads.*", "contacts.*", "deals.*"]),
        "TAP_ZOHOCRM_TOKEN_STORE": "memory",
        "TARGET_POSTGRES_HOST": "127.0.0.1", "TARGET_POSTGRES_PORT": "5432",
        "TARGET_POSTGRES_USER": "postgres", "TARGET_POSTGRES_PASSWORD": "",
        "TARGET_POSTGRES_DATABASE": database,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MELTANO_PROJECT_ROOT": str(tmp_path), "MELTANO_BIN": meltano_bin(),
        "ZOHO_LOADER": "target-postgres", "ZOHO_DAG_SCHEDULE": "none", "ZOHO_TASK_RETRIES": "0",
    })
    meltano("install", env={**env, "MELTANO_PROJECT_ROOT": str(ROOT),
                            "MELTANO_SYS_DIR_ROOT": str(ROOT / ".meltano"),
                            "MELTANO_DATABASE_URI": f"sqlite:///{ROOT}/.meltano/meltano.db"})
    airflow("db", "migrate", env=env)
    import_pools(tmp_path, env)

    proc = subprocess.run([str(airflow_bin()), "dags", "test", DAG_ID], env=env,
                          capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    states = json.loads(airflow_python(
        "import json\n"
        "from airflow.models import TaskInstance\n"
        "from airflow.utils.session import create_session\n"
        "with create_session() as s:\n"
        "    print(json.dumps({t.task_id: str(t.state) for t in s.query(TaskInstance)}))\n",
        env).strip().splitlines()[-1])
    assert states == {"acme.meltano_run_sales": "success", "acme.meltano_run_rest": "success",
                      "beta.meltano_run_sales": "failed", "beta.meltano_run_rest": "failed"}, (
        states, output[-6000:])

    engine = sa.create_engine(POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{database}",
                              poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        schemas = set(conn.execute(sa.text(
            "SELECT DISTINCT table_schema FROM information_schema.tables "
            "WHERE table_schema LIKE 'zoho_%' OR table_schema = 'tap_zohocrm'")).scalars())
        assert schemas == {"zoho_acme"}
        for module in ("Leads", "Contacts", "Deals"):
            count = conn.execute(sa.text(f'SELECT count(*) FROM zoho_acme."{module.lower()}"'
                                         )).scalar()
            assert count == len(sims["acme"].records(module)), module
    engine.dispose()
    # acme's state per task, under its own state IDs; none for beta.
    listed = meltano("state", "list", env=env).stdout
    assert "prod:tap-zohocrm--acme-to-target-postgres:sales" in listed
    assert "prod:tap-zohocrm--acme-to-target-postgres:rest" in listed
    assert "tap-zohocrm--beta" not in listed
    # beta's tasks asked its own data center for a token, got none and called nothing; its
    # refresh token is in no log.
    beta = sims["beta"].stats()
    assert beta["token_requests"] > 0 and beta["tokens_issued"] == 0 and beta["api_calls"] == 0
    assert beta_refresh not in output
