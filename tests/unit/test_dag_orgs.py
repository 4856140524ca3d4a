"""The Airflow DAG with many orgs (docs/multi-org.md), as it computes them from meltano.yml
without Zoho or Airflow: a task group per org, its module groups and `rest` task, each task a
`meltano run` of the org's extractor into the org's schema, in the org's pool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_dag_tasks import load_dag

BASE = {
    "name": "tap-zohocrm",
    "annotations": {"airflow": {
        "module_groups": {"sales": ["Leads", "Deals"], "products": ["Products"]},
        "org_concurrency": 10, "task_concurrency": 5}},
}
ORGS: list[dict[str, Any]] = [
    # Professional edition: a pool of 15; the base's groups and task_concurrency.
    {"name": "tap-zohocrm--acme", "inherit_from": "tap-zohocrm", "load_schema": "zoho_acme",
     "annotations": {"airflow": {"edition": "professional"}}},
    # Free edition, a group of its own, more per task than the edition allows; no load_schema.
    {"name": "tap-zohocrm--beta", "inherit_from": "tap-zohocrm",
     "annotations": {"airflow": {"edition": "free", "task_concurrency": 10,
                                 "module_groups": {"crm": ["Leads", "Contacts"]}}}},
    # Nothing of its own but a schema: the base's pool size (org_concurrency 10).
    {"name": "tap-zohocrm--gamma", "inherit_from": "tap-zohocrm", "load_schema": "zoho_gamma_eu"},
]


def project(tmp_path: Path, orgs: list[dict[str, Any]]) -> Path:
    other = {"name": "tap-other", "namespace": "tap_other"}  # not an org
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(
        {"plugins": {"extractors": [BASE, *orgs, other]}}, sort_keys=False))
    return tmp_path


def tasks_by_id(dag_module: Any) -> dict[str, Any]:
    return {t.task_id: t for t in dag_module.dag.tasks}


def test_three_orgs_task_groups_commands_schemas_and_pools(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dag = load_dag(monkeypatch, project(tmp_path, ORGS))
    tasks = tasks_by_id(dag)
    assert list(tasks) == [
        "acme.meltano_run_sales", "acme.meltano_run_products", "acme.meltano_run_rest",
        "beta.meltano_run_crm", "beta.meltano_run_rest",
        "gamma.meltano_run_sales", "gamma.meltano_run_products", "gamma.meltano_run_rest",
    ]  # tap-zohocrm itself is the orgs' base, not an org; tap-other is not a Zoho org
    expected = {  # org -> (pool, slots per task, schema)
        "acme": ("zoho_crm_acme", 5, "zoho_acme"),
        "beta": ("zoho_crm_beta", 5, "zoho_beta"),
        "gamma": ("zoho_crm_gamma", 5, "zoho_gamma_eu"),
    }
    for task_id, task in tasks.items():
        org, name = task_id.split(".")
        group = name.removeprefix("meltano_run_")
        pool, slots, schema = expected[org]
        prefix = f"TAP_ZOHOCRM__{org.upper()}"
        assert (task.pool, task.pool_slots) == (pool, slots), task_id
        assert task.bash_command.endswith(
            f" run --state-id-suffix {group} tap-zohocrm--{org} target-postgres")
        assert f'own="$shared/airflow/{org}/{group}"' in task.bash_command
        assert task.env[f"{prefix}__LOAD_SCHEMA"] == schema
        assert task.env[f"{prefix}_MAX_CONCURRENCY"] == str(slots)
        # Only the org's own variables: another org's (or the base's TAP_ZOHOCRM_*) would
        # not be read for it, or worse, be read for the wrong org.
        assert {k for k in task.env if k.startswith("TAP_")} <= {
            f"{prefix}{suffix}" for suffix in ("__LOAD_SCHEMA", "_MAX_CONCURRENCY", "_MODULES",
                                               "_EXCLUDE_MODULES", "__SELECT_FILTER")}
    assert json.loads(tasks["acme.meltano_run_sales"].env["TAP_ZOHOCRM__ACME_MODULES"]) == [
        "Leads", "Deals"]
    assert json.loads(tasks["beta.meltano_run_crm"].env["TAP_ZOHOCRM__BETA_MODULES"]) == [
        "Leads", "Contacts"]
    assert json.loads(tasks["beta.meltano_run_rest"].env[
        "TAP_ZOHOCRM__BETA_EXCLUDE_MODULES"]) == ["Leads", "Contacts"]
    assert "TAP_ZOHOCRM__GAMMA__SELECT_FILTER" in tasks["gamma.meltano_run_sales"].env
    # One pool per org, sized to its edition (or org_concurrency): what --pool-json prints.
    assert {name: spec["slots"] for name, spec in dag.pool_spec(tmp_path).items()} == {
        "zoho_crm_acme": 15, "zoho_crm_beta": 5, "zoho_crm_gamma": 10}
    # Every org's tasks may run at once: Airflow's 16 per DAG would hold most of them back.
    assert dag.dag.kwargs["max_active_tasks"] >= len(tasks)


def test_an_org_with_wrong_annotations_fails_alone(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    broken = {"name": "tap-zohocrm--delta", "inherit_from": "tap-zohocrm",
              "annotations": {"airflow": {"edition": "gold"}}}
    dag = load_dag(monkeypatch, project(tmp_path, [ORGS[0], broken, ORGS[2]]))
    tasks = tasks_by_id(dag)
    assert [t for t in tasks if t.startswith("delta.")] == ["delta.meltano_yml"]
    failing = tasks["delta.meltano_yml"]
    ran = subprocess.run(["bash", "-c", failing.bash_command], capture_output=True, text=True,
                         timeout=30)
    assert ran.returncode == 1 and failing.retries == 0
    assert ran.stderr == ("edition 'gold' of tap-zohocrm--delta: use one of free, standard, "
                          "professional, enterprise, ultimate\n")
    assert len([t for t in tasks if t.startswith(("acme.", "gamma."))]) == 6
    assert set(dag.pool_spec(tmp_path)) == {"zoho_crm_acme", "zoho_crm_gamma"}


def test_an_org_of_an_org_and_the_single_org_project(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """A sandbox inheriting from an org is an org too (with the nearer annotations); with no
    org at all, tap-zohocrm is the one org, its tasks as before."""
    sandbox = {"name": "tap-zohocrm--acme_sandbox", "inherit_from": "tap-zohocrm--acme",
               "annotations": {"airflow": {"org_concurrency": 7}}}
    dag = load_dag(monkeypatch, project(tmp_path, [ORGS[0], sandbox]))
    assert dag.org_extractors(tmp_path) == ["tap-zohocrm--acme", "tap-zohocrm--acme_sandbox"]
    # org_concurrency of the sandbox replaces the edition it would inherit from acme.
    assert dag.concurrency(tmp_path, "tap-zohocrm--acme_sandbox") == (7, 5)
    assert dag.load_schema(tmp_path, "tap-zohocrm--acme_sandbox") == "zoho_acme_sandbox"

    single = tmp_path / "single"
    single.mkdir()
    dag = load_dag(monkeypatch, project(single, []))
    tasks = tasks_by_id(dag)
    assert list(tasks) == ["meltano_run_sales", "meltano_run_products", "meltano_run_rest"]
    assert {t.pool for t in tasks.values()} == {"zoho_crm"}
    assert "TAP_ZOHOCRM_MODULES" in tasks["meltano_run_sales"].env
    assert "--state-id-suffix sales tap-zohocrm target-postgres" in \
        tasks["meltano_run_sales"].bash_command


def docs_project(folder: Path) -> Path:
    """The three-org meltano.yml of docs/multi-org.md, as a project."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "multi-org.md").read_text()
    (folder / "meltano.yml").write_text(doc.split("```yaml\n", 1)[1].split("```", 1)[0])
    return folder


def test_the_documented_three_org_project(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    dag = load_dag(monkeypatch, docs_project(tmp_path))
    tasks = tasks_by_id(dag)
    assert sorted(tasks) == sorted([
        "acme.meltano_run_sales", "acme.meltano_run_activities", "acme.meltano_run_rest",
        "globex.meltano_run_pipeline", "globex.meltano_run_people", "globex.meltano_run_rest",
        "initech.meltano_run_sales", "initech.meltano_run_activities", "initech.meltano_run_rest",
    ])
    assert {name: spec["slots"] for name, spec in dag.pool_spec(tmp_path).items()} == {
        "zoho_crm_acme": 20, "zoho_crm_globex": 15, "zoho_crm_initech": 10}
    assert {t.pool_slots for i, t in tasks.items() if i.startswith("initech.")} == {2}
    assert tasks["globex.meltano_run_people"].env["TAP_ZOHOCRM__GLOBEX__LOAD_SCHEMA"] == \
        "zoho_globex"
