"""Airflow 3 DAG: Zoho CRM to the warehouse, one `meltano run` per module group, in parallel.

The groups come from the tap-zohocrm extractor's `annotations.airflow` in meltano.yml (Meltano
ignores annotations; they are for tools like this one):

    annotations:
      airflow:
        module_groups:            # group name -> Zoho module API names
          sales: [Leads, Contacts, Accounts, Deals]
          activities: [Tasks, Events, Calls]
        org_concurrency: 15       # the org's Zoho API concurrency (edition: 5/10/15/20/25)
        task_concurrency: 5       # API calls in flight per task (the tap's max_concurrency)

Each group is one task: `meltano run --state-id-suffix <group> tap-zohocrm <loader>` with
TAP_ZOHOCRM_MODULES set to the group's modules, so every group keeps its own bookmarks. The tap
reads a group's subform and linking modules with it (Quoted_Items with Quotes; a linking module
with its first parent), unless another group names them (TAP_ZOHOCRM_EXCLUDE_MODULES).

One more task, `rest` (state-id suffix `rest`), reads every module no group names, with
TAP_ZOHOCRM_EXCLUDE_MODULES set to the modules the groups name: the tap works that out from
Zoho at run time (this file never calls Zoho), so a module added in Zoho later is read without
editing meltano.yml. The org-wide streams (users, org, roles, profiles, modules) are read by
`rest` only (the groups deselect them with TAP_ZOHOCRM__SELECT_FILTER); `fields`,
`deleted_records` and `attachments` rows come from the task that reads their module. With no
groups set, one task `all` reads everything.

All tasks run in the Airflow pool `zoho_crm`, sized to the org's concurrency; each task takes
`task_concurrency` slots and the tap is told to keep that many calls in flight at most, so the
tasks together never exceed what Zoho allows the org. Create the pool once with

    python orchestrate/dags/zohocrm_meltano.py --pool-json > pool.json
    airflow pools import pool.json

Environment (of the Airflow workers):
  MELTANO_PROJECT_ROOT  the Meltano project (default: two levels above this file)
  MELTANO_BIN           the meltano executable (default: `meltano` on PATH)
  ZOHO_LOADER           the loader (default target-postgres)
  ZOHO_AIRFLOW_POOL     the pool name (default zoho_crm)
  ZOHO_DAG_SCHEDULE     the schedule (default @daily; "none" for manual runs only)
  ZOHO_TASK_RETRIES     retries of a failed task (default 1, after 5 minutes)
  MELTANO_CLI_LOG_FORMAT  `json` for task logs a machine can read: the tap's run report is then
                        the `run_report` object of its line (the default text log shows the
                        readable report only)
plus the tap's and loader's settings (TAP_ZOHOCRM_*, TARGET_POSTGRES_*), MELTANO_ENVIRONMENT and
MELTANO_STATE_BACKEND_URI. With tasks on several machines, set TAP_ZOHOCRM_TOKEN_STORE to a
database they share so they all use one access token (docs/operations.md#the-token-store).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

EXTRACTOR = "tap-zohocrm"
DAG_ID = "zohocrm_meltano"
PROJECT_ROOT = Path(os.environ.get("MELTANO_PROJECT_ROOT")
                    or Path(__file__).resolve().parent.parent.parent)
LOADER = os.environ.get("ZOHO_LOADER", "target-postgres")
POOL = os.environ.get("ZOHO_AIRFLOW_POOL", "zoho_crm")
MELTANO = os.environ.get("MELTANO_BIN", "meltano")
SCHEDULE = os.environ.get("ZOHO_DAG_SCHEDULE", "@daily")
RETRIES = int(os.environ.get("ZOHO_TASK_RETRIES", "1"))
DEFAULT_ORG_CONCURRENCY = 10  # Zoho Standard edition; Free 5, Professional 15, Enterprise 20
DEFAULT_TASK_CONCURRENCY = 5  # the tap's default max_concurrency
_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")
REST = "rest"  # the task of the modules no group names
ALL = "all"  # the one task when no groups are set
# The tap's streams that do not depend on the modules read (tap_zohocrm/streams/org.py
# ORG_STREAM_TYPES): one task reads them, so each of their tables has one writer and one state.
ORG_STREAMS = ("users", "org", "roles", "profiles", "modules")


def extractor_annotations(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The extractor's `annotations.airflow` in meltano.yml ({} when it has none)."""
    meltano_yml = project_root / "meltano.yml"
    data = yaml.safe_load(meltano_yml.read_text())
    for plugin in (data.get("plugins") or {}).get("extractors") or []:
        if plugin.get("name") == EXTRACTOR:
            annotations = (plugin.get("annotations") or {}).get("airflow") or {}
            if not isinstance(annotations, dict):
                raise ValueError(f"{meltano_yml}: annotations.airflow must be a mapping")
            return annotations
    raise ValueError(f"{meltano_yml} has no extractor named {EXTRACTOR}")


def module_groups(project_root: Path = PROJECT_ROOT) -> dict[str, list[str]]:
    """Group name -> module API names; one group `all` (every module) when none are set."""
    groups = extractor_annotations(project_root).get("module_groups") or {}
    if not isinstance(groups, dict):
        raise ValueError("module_groups in meltano.yml must map group names to module lists")
    checked: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for name, modules in groups.items():
        if not _GROUP_NAME.fullmatch(str(name)):
            raise ValueError(f"module group name {name!r}: use letters, digits and _ only")
        if str(name) == REST:
            raise ValueError(f"module group name {REST!r} is the task of the modules no group "
                             "names: rename the group")
        if not isinstance(modules, list) or not modules or not all(
                isinstance(m, str) and m for m in modules):
            raise ValueError(f"module group {name!r} must be a non-empty list of module names")
        for module in modules:
            if module in seen:  # two groups writing one table with two bookmarks
                raise ValueError(f"module {module} is in groups {seen[module]!r} and {name!r}")
            seen[module] = str(name)
        checked[str(name)] = list(modules)
    return checked or {ALL: []}


def task_settings(project_root: Path = PROJECT_ROOT) -> dict[str, dict[str, list[str]]]:
    """Task name -> what it reads: `modules` and `exclude_modules` (the tap's settings), and
    `select_filter` (Meltano's) to leave the org-wide streams to the `rest` task."""
    groups = module_groups(project_root)
    if list(groups) == [ALL] and not groups[ALL]:
        return {ALL: {}}
    named = [m for modules in groups.values() for m in modules]
    tasks: dict[str, dict[str, list[str]]] = {}
    for group, modules in groups.items():
        others = [m for m in named if m not in modules]
        tasks[group] = {"modules": modules,
                        "select_filter": [f"!{stream}" for stream in ORG_STREAMS]}
        if others:
            tasks[group]["exclude_modules"] = others
    tasks[REST] = {"exclude_modules": named}
    return tasks


def concurrency(project_root: Path = PROJECT_ROOT) -> tuple[int, int]:
    """(pool slots, slots per task): the org's API concurrency and one task's share of it."""
    plugin = extractor_annotations(project_root)
    org = int(plugin.get("org_concurrency") or DEFAULT_ORG_CONCURRENCY)
    per_task = int(plugin.get("task_concurrency") or DEFAULT_TASK_CONCURRENCY)
    if org < 1 or per_task < 1:
        raise ValueError("org_concurrency and task_concurrency must be at least 1")
    return org, min(per_task, org)


def pool_spec(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The pool, in the format of `airflow pools import`."""
    slots, _ = concurrency(project_root)
    return {POOL: {"slots": slots, "description": "Zoho CRM API concurrency of the org",
                   "include_deferred": False}}


def meltano_command(group: str) -> str:
    """The task's shell command.

    Meltano 4 writes a tap's catalog and state to `.meltano/run/<plugin>/` whatever the state
    ID, so two `meltano run` of one tap in one project overwrite each other's files. Each task
    therefore runs with its own `.meltano` (MELTANO_SYS_DIR_ROOT) that links to the installed
    plugins and keeps the project's system database.
    """
    q = shlex.quote
    return "\n".join([
        "set -eu",
        f"cd {q(str(PROJECT_ROOT))}",
        'shared="${MELTANO_SYS_DIR_ROOT:-$PWD/.meltano}"',
        f'own="$shared/airflow/{group}"',
        'mkdir -p "$own"',
        "for kind in extractors loaders mappers utilities transformers files; do",
        '  if [ -e "$shared/$kind" ]; then ln -sfn "$shared/$kind" "$own/$kind"; fi',
        "done",
        'export MELTANO_DATABASE_URI="${MELTANO_DATABASE_URI:-sqlite:///$shared/meltano.db}"',
        'export MELTANO_SYS_DIR_ROOT="$own"',
        f"exec {q(MELTANO)} run --state-id-suffix {q(group)} {EXTRACTOR} {q(LOADER)}",
    ])


def task_env(settings: dict[str, list[str]], per_task: int) -> dict[str, str]:
    env = {"MELTANO_PROJECT_ROOT": str(PROJECT_ROOT),
           "TAP_ZOHOCRM_MAX_CONCURRENCY": str(per_task)}
    for key, variable in (("modules", "TAP_ZOHOCRM_MODULES"),
                          ("exclude_modules", "TAP_ZOHOCRM_EXCLUDE_MODULES"),
                          ("select_filter", "TAP_ZOHOCRM__SELECT_FILTER")):
        if settings.get(key):
            env[variable] = json.dumps(settings[key])
    return env


def build_dag() -> Any:
    import pendulum
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG

    _, per_task = concurrency()
    with DAG(
        dag_id=DAG_ID,
        description="Zoho CRM to the warehouse with Meltano, one task per module group and "
        "one for the other modules",
        schedule=None if SCHEDULE.lower() == "none" else SCHEDULE,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # a group's runs never overlap: its state stays consistent
        default_args={"retries": RETRIES, "retry_delay": timedelta(minutes=5)},
        tags=["zoho", "meltano"],
    ) as dag:
        for task, settings in task_settings().items():
            BashOperator(
                task_id=f"meltano_run_{task}",
                bash_command=meltano_command(task),
                env=task_env(settings, per_task),
                append_env=True,
                pool=POOL,
                pool_slots=per_task,
                execution_timeout=timedelta(hours=12),
            )
    return dag


if __name__ == "__main__":
    if sys.argv[1:] == ["--pool-json"]:
        print(json.dumps(pool_spec(), indent=2))
    elif sys.argv[1:] == ["--groups"]:
        print(json.dumps(module_groups(), indent=2))
    elif sys.argv[1:] == ["--tasks"]:
        print(json.dumps(task_settings(), indent=2))
    else:
        sys.exit("usage: zohocrm_meltano.py --pool-json | --groups | --tasks")
else:
    dag = build_dag()
