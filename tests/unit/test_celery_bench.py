"""The configuration bench/celery_orgs.py gives its Airflow deployment and Meltano project (the
run itself is too slow for CI: docs/benchmarks.md has its figures)."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def bench() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("celery_orgs_under_test",
                                                  ROOT / "bench" / "celery_orgs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_component_gets_one_celery_and_postgresql_configuration(tmp_path: Path) -> None:
    settings = bench().airflow_settings(
        metadata_db="postgresql+psycopg://postgres@127.0.0.1:5432/af", broker_url="redis://r/0",
        api_port=8123, queue="q1", jwt_secret="s3", dags_folder=tmp_path, home=tmp_path)
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert settings["AIRFLOW__CELERY__BROKER_URL"] == "redis://r/0"
    # One PostgreSQL database: Airflow's (psycopg2 driver) and Celery's results (db+ prefix).
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://postgres@127.0.0.1:5432/af")
    assert settings["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql://postgres@127.0.0.1:5432/af")
    assert settings["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://127.0.0.1:8123/execution/")
    assert settings["AIRFLOW__API_AUTH__JWT_SECRET"] == "s3"
    assert settings["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] == "q1"


def test_the_bench_project_has_two_groups_and_rest_per_org() -> None:
    module = bench()
    data = yaml.safe_load(module.bench_meltano_yml((ROOT / "meltano.yml").read_text()))
    tap = next(p for p in data["plugins"]["extractors"] if p["name"] == "tap-zohocrm")
    airflow = tap["annotations"]["airflow"]
    assert airflow["module_groups"] == {"leads": ["Leads"], "contacts": ["Contacts"]}
    assert airflow["task_concurrency"] == 5
    assert sum(module.sizes(20_000).values()) == 20_000
