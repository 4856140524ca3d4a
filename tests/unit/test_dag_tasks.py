"""The Airflow DAG's tasks as it computes them from meltano.yml, without Zoho or Airflow: one
task per module group, one `rest` task for every module no group names, and the org-wide
streams read by one task only. (tests/integration/test_airflow.py runs the DAG for real.)"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_zohocrm.streams.org import ORG_STREAM_TYPES

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "orchestrate" / "dags" / "zohocrm_meltano.py"


class _Dag:
    """What the DAG file uses of airflow.sdk.DAG: a context that collects its operators."""

    current: _Dag | None = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.tasks: list[Any] = []

    def __enter__(self) -> _Dag:
        _Dag.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        _Dag.current = None


class _TaskGroup:
    """airflow.sdk.TaskGroup: its tasks' ids get its group_id and a dot in front."""

    current: _TaskGroup | None = None

    def __init__(self, group_id: str, **kwargs: Any) -> None:
        self.group_id = group_id
        self.kwargs = kwargs

    def __enter__(self) -> _TaskGroup:
        assert _Dag.current is not None and _TaskGroup.current is None
        _TaskGroup.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        _TaskGroup.current = None


class _BashOperator:
    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)
        if _TaskGroup.current is not None:
            self.task_id = f"{_TaskGroup.current.group_id}.{self.task_id}"
        assert _Dag.current is not None
        _Dag.current.tasks.append(self)


def _stand_ins() -> dict[str, types.ModuleType]:
    modules = {name: types.ModuleType(name) for name in (
        "pendulum", "airflow", "airflow.sdk", "airflow.providers",
        "airflow.providers.standard", "airflow.providers.standard.operators",
        "airflow.providers.standard.operators.bash")}
    modules["pendulum"].datetime = lambda *a, **k: None  # type: ignore[attr-defined]
    modules["airflow.sdk"].DAG = _Dag  # type: ignore[attr-defined]
    modules["airflow.sdk"].TaskGroup = _TaskGroup  # type: ignore[attr-defined]
    modules["airflow.providers.standard.operators.bash"].BashOperator = (  # type: ignore[attr-defined]
        _BashOperator)
    return modules


def load_dag(monkeypatch: pytest.MonkeyPatch, project: Path) -> types.ModuleType:
    """The DAG file imported as Airflow would, its project `project`."""
    for name, module in _stand_ins().items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("MELTANO_PROJECT_ROOT", str(project))
    spec = importlib.util.spec_from_file_location("zohocrm_meltano_under_test", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project_with(tmp_path: Path, groups: dict[str, list[str]] | None) -> Path:
    airflow: dict[str, Any] = {"org_concurrency": 10, "task_concurrency": 5}
    if groups is not None:
        airflow["module_groups"] = groups
    extractor = {"name": "tap-zohocrm", "annotations": {"airflow": airflow}}
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(
        {"plugins": {"extractors": [extractor]}}, sort_keys=False))
    return tmp_path


def task_envs(dag_module: types.ModuleType) -> dict[str, dict[str, str]]:
    return {t.task_id.removeprefix("meltano_run_"): t.env for t in dag_module.dag.tasks}


def test_every_group_is_a_task_and_rest_reads_the_modules_no_group_names(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    groups = {"sales": ["Leads", "Contacts"], "products": ["Products", "Quotes"]}
    dag = load_dag(monkeypatch, project_with(tmp_path, groups))
    envs = task_envs(dag)
    assert list(envs) == ["sales", "products", "rest"]
    assert json.loads(envs["sales"]["TAP_ZOHOCRM_MODULES"]) == ["Leads", "Contacts"]
    # A subform or linking module named in another group is not read twice.
    assert json.loads(envs["sales"]["TAP_ZOHOCRM_EXCLUDE_MODULES"]) == ["Products", "Quotes"]
    assert json.loads(envs["products"]["TAP_ZOHOCRM_EXCLUDE_MODULES"]) == ["Leads", "Contacts"]
    # rest: no module list (decided by the tap at run time), every grouped module excluded.
    assert "TAP_ZOHOCRM_MODULES" not in envs["rest"]
    assert json.loads(envs["rest"]["TAP_ZOHOCRM_EXCLUDE_MODULES"]) == [
        "Leads", "Contacts", "Products", "Quotes"]
    for task in dag.dag.tasks:
        name = task.task_id.removeprefix("meltano_run_")
        assert f"--state-id-suffix {name} tap-zohocrm" in task.bash_command
        assert task.pool_slots == 5 and task.env["TAP_ZOHOCRM_MAX_CONCURRENCY"] == "5"


def test_org_wide_streams_are_read_by_the_rest_task_only(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    dag = load_dag(monkeypatch, project_with(tmp_path, {"a": ["Leads"], "b": ["Deals"]}))
    envs = task_envs(dag)
    org_streams = {cls.name for cls in ORG_STREAM_TYPES}
    assert set(dag.ORG_STREAMS) == org_streams  # the DAG cannot import the tap: kept in step
    for group in ("a", "b"):
        assert set(json.loads(envs[group]["TAP_ZOHOCRM__SELECT_FILTER"])) == {
            f"!{s}" for s in org_streams}
    assert "TAP_ZOHOCRM__SELECT_FILTER" not in envs["rest"]


def test_no_groups_is_one_task_reading_everything(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    envs = task_envs(load_dag(monkeypatch, project_with(tmp_path, None)))
    assert list(envs) == ["all"]
    assert not {"TAP_ZOHOCRM_MODULES", "TAP_ZOHOCRM_EXCLUDE_MODULES",
                "TAP_ZOHOCRM__SELECT_FILTER"} & set(envs["all"])


def test_a_group_named_rest_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'rest'"):
        load_dag(monkeypatch, project_with(tmp_path, {"rest": ["Leads"]}))


def test_the_shipped_groups_leave_a_module_to_the_rest_task(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """meltano.yml names standard modules only: the simulator org's custom module Shipments
    is read by `rest`, its linking modules with their first parent's group."""
    dag = load_dag(monkeypatch, ROOT)
    named = {m for modules in dag.module_groups(ROOT).values() for m in modules}
    assert "Shipments" not in named
    assert not {"Quoted_Items", "Contacts_X_Deals", "Deals_X_Users"} & named
