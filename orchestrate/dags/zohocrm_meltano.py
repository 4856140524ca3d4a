"""Airflow 3 DAG: Zoho CRM to the warehouse, one `meltano run` per org and module group, in
parallel.

Many orgs (docs/multi-org.md): every extractor of meltano.yml that inherits from tap-zohocrm
(`tap-zohocrm--acme`, `inherit_from: tap-zohocrm`) is an org, with a task group of its own (task
ids `acme.meltano_run_<group>`): `meltano run --state-id-suffix <group> tap-zohocrm--acme
<loader>` into its schema (its `load_schema`, default zoho_acme), in a pool of its own
(`zoho_crm_acme`, sized to its edition or `org_concurrency`), so one org's tasks never take
another's Zoho concurrency and a failing org fails its own tasks only. Its `annotations.airflow`
override the base extractor's key by key (module groups, task_concurrency); an org whose
annotations are wrong gets one failing task saying so, the other orgs run. With no such
extractor, tap-zohocrm itself is the one org, as below.

The groups come from the tap-zohocrm extractor's `annotations.airflow` in meltano.yml (Meltano
ignores annotations; they are for tools like this one):

    annotations:
      airflow:
        module_groups:            # group name -> Zoho module API names
          sales: [Leads, Contacts, Accounts, Deals]
          activities: [Tasks, Events, Calls]
        org_concurrency: 15       # the org's Zoho API concurrency (edition: 5/10/15/20/25)
        edition: professional     # instead of org_concurrency: free, standard, professional,
                                  # enterprise or ultimate
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

(one pool per org with many orgs: run it again after adding an org).

Environment (of the Airflow workers):
  MELTANO_PROJECT_ROOT  the Meltano project (default: two levels above this file)
  MELTANO_BIN           the meltano executable (default: `meltano` on PATH)
  ZOHO_LOADER           the loader (default target-postgres)
  ZOHO_AIRFLOW_POOL     the pool name (default zoho_crm)
  ZOHO_DAG_SCHEDULE     the schedule (default @daily; "none" for manual runs only)
  ZOHO_TASK_RETRIES     retries of a failed task (default 1, after 5 minutes)
  ZOHO_DAG_MAX_ACTIVE_TASKS  tasks of one DAG run at once (default: all of them, at least
                        16; the pools bound each org, the workers' slots the machines)
  MELTANO_CLI_LOG_FORMAT  `json` for task logs a machine can read: the tap's run report is then
                        the `run_report` object of its line (the default text log shows the
                        readable report only)
plus the tap's and loader's settings (TAP_ZOHOCRM_*, TARGET_POSTGRES_*), MELTANO_ENVIRONMENT and
MELTANO_STATE_BACKEND_URI. With tasks on several machines, set TAP_ZOHOCRM_TOKEN_STORE to a
database they share so they all use one access token (docs/operations.md#the-token-store).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser when PyYAML has it: meltano.yml with 100 orgs parses in a fraction of the
# pure-Python time, and Airflow parses this file often.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

EXTRACTOR = "tap-zohocrm"
ORG_PREFIX = f"{EXTRACTOR}--"  # tap-zohocrm--acme is the org acme
DAG_ID = "zohocrm_meltano"
PROJECT_ROOT = Path(os.environ.get("MELTANO_PROJECT_ROOT")
                    or Path(__file__).resolve().parent.parent.parent)
LOADER = os.environ.get("ZOHO_LOADER", "target-postgres")
POOL = os.environ.get("ZOHO_AIRFLOW_POOL", "zoho_crm")
MELTANO = os.environ.get("MELTANO_BIN", "meltano")
SCHEDULE = os.environ.get("ZOHO_DAG_SCHEDULE", "@daily")
RETRIES = int(os.environ.get("ZOHO_TASK_RETRIES", "1"))
MAX_ACTIVE_TASKS = os.environ.get("ZOHO_DAG_MAX_ACTIVE_TASKS")
DEFAULT_ORG_CONCURRENCY = 10  # Zoho Standard edition; Free 5, Professional 15, Enterprise 20
# Zoho's API concurrency per org by edition.
EDITIONS = {"free": 5, "standard": 10, "professional": 15, "enterprise": 20, "ultimate": 25}
DEFAULT_TASK_CONCURRENCY = 5  # the tap's default max_concurrency
_GROUP_NAME = re.compile(r"[A-Za-z0-9_]+")
_ORG_NAME = re.compile(r"[A-Za-z0-9_-]+")  # an Airflow task group id and pool name part
REST = "rest"  # the task of the modules no group names
ALL = "all"  # the one task when no groups are set
# The tap's streams that do not depend on the modules read (tap_zohocrm/streams/org.py
# ORG_STREAM_TYPES): one task reads them, so each of their tables has one writer and one state.
ORG_STREAMS = ("users", "org", "roles", "profiles", "modules")


@functools.cache
def _extractors(meltano_yml: Path, _mtime_ns: int) -> dict[str, dict[str, Any]]:
    data = yaml.load(meltano_yml.read_text(), Loader=_YAML_LOADER) or {}
    plugins = (data.get("plugins") or {}).get("extractors") or []
    return {str(p["name"]): p for p in plugins if isinstance(p, dict) and p.get("name")}


def extractors(project_root: Path = PROJECT_ROOT) -> dict[str, dict[str, Any]]:
    """meltano.yml's extractors by name, read once per version of the file."""
    meltano_yml = project_root / "meltano.yml"
    return _extractors(meltano_yml, meltano_yml.stat().st_mtime_ns)


def lineage(project_root: Path, extractor: str) -> list[str]:
    """The extractor and what it inherits from, nearest first (tap-zohocrm last for an org)."""
    plugins = extractors(project_root)
    chain = [extractor]
    while (parent := (plugins.get(chain[-1]) or {}).get("inherit_from")) and (
            parent not in chain):
        chain.append(str(parent))
    return chain


def org_extractors(project_root: Path = PROJECT_ROOT) -> list[str]:
    """The orgs: every extractor that inherits from tap-zohocrm, in meltano.yml's order; []
    when there is none (tap-zohocrm itself is then the one org)."""
    return [name for name in extractors(project_root)
            if name != EXTRACTOR and EXTRACTOR in lineage(project_root, name)[1:]]


def org_name(extractor: str) -> str:
    """The org of an extractor: acme for tap-zohocrm--acme (the extractor's name otherwise)."""
    name = extractor.removeprefix(ORG_PREFIX)
    if not _ORG_NAME.fullmatch(name):
        raise ValueError(f"extractor {extractor!r}: name an org's extractor tap-zohocrm--<org>, "
                         "the org in letters, digits, _ and -")
    return name


def extractor_annotations(project_root: Path = PROJECT_ROOT,
                          extractor: str = EXTRACTOR) -> dict[str, Any]:
    """The extractor's `annotations.airflow` in meltano.yml ({} when it has none), over those
    of what it inherits from, key by key (org_concurrency and edition as one key)."""
    meltano_yml = project_root / "meltano.yml"
    plugins = extractors(project_root)
    if extractor not in plugins:
        raise ValueError(f"{meltano_yml} has no extractor named {extractor}")
    merged: dict[str, Any] = {}
    for name in reversed(lineage(project_root, extractor)):
        annotations = ((plugins.get(name) or {}).get("annotations") or {}).get("airflow") or {}
        if not isinstance(annotations, dict):
            raise ValueError(f"{meltano_yml}: annotations.airflow of {name} must be a mapping")
        if {"org_concurrency", "edition"} & set(annotations):
            merged.pop("org_concurrency", None)
            merged.pop("edition", None)
        merged.update(annotations)
    return merged


def module_groups(project_root: Path = PROJECT_ROOT,
                  extractor: str = EXTRACTOR) -> dict[str, list[str]]:
    """Group name -> module API names; one group `all` (every module) when none are set."""
    groups = extractor_annotations(project_root, extractor).get("module_groups") or {}
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


def task_settings(project_root: Path = PROJECT_ROOT,
                  extractor: str = EXTRACTOR) -> dict[str, dict[str, list[str]]]:
    """Task name -> what it reads: `modules` and `exclude_modules` (the tap's settings), and
    `select_filter` (Meltano's) to leave the org-wide streams to the `rest` task."""
    groups = module_groups(project_root, extractor)
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


def concurrency(project_root: Path = PROJECT_ROOT,
                extractor: str = EXTRACTOR) -> tuple[int, int]:
    """(pool slots, slots per task): the org's API concurrency (org_concurrency, else its
    edition's) and one task's share of it."""
    plugin = extractor_annotations(project_root, extractor)
    edition = plugin.get("edition")
    if edition is not None and str(edition).lower() not in EDITIONS:
        raise ValueError(f"edition {edition!r} of {extractor}: use one of {', '.join(EDITIONS)}")
    try:
        org = int(plugin.get("org_concurrency") or EDITIONS.get(str(edition).lower(), 0)
                  or DEFAULT_ORG_CONCURRENCY)
        per_task = int(plugin.get("task_concurrency") or DEFAULT_TASK_CONCURRENCY)
    except (TypeError, ValueError):
        raise ValueError(f"org_concurrency and task_concurrency of {extractor} must be "
                         "numbers") from None
    if org < 1 or per_task < 1:
        raise ValueError("org_concurrency and task_concurrency must be at least 1")
    return org, min(per_task, org)


def pool_name(extractor: str = EXTRACTOR) -> str:
    return POOL if extractor == EXTRACTOR else f"{POOL}_{org_name(extractor)}"


def load_schema(project_root: Path, extractor: str) -> str:
    """An org's schema: its own `load_schema` in meltano.yml, else zoho_<org>."""
    own = extractors(project_root)[extractor].get("load_schema")
    return str(own) if own else "zoho_" + re.sub(r"[^a-z0-9_]", "_", org_name(extractor).lower())


def pool_spec(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The pools (one per org), in the format of `airflow pools import`. An org whose
    annotations are wrong has none: its one task says what to fix."""
    spec: dict[str, Any] = {}
    for extractor in org_extractors(project_root) or [EXTRACTOR]:
        try:
            slots, _ = concurrency(project_root, extractor)
            pool = pool_name(extractor)
        except ValueError as exc:
            if extractor == EXTRACTOR:
                raise
            print(f"no pool for {extractor}: {exc}", file=sys.stderr)
            continue
        org = "the org" if extractor == EXTRACTOR else org_name(extractor)
        spec[pool] = {"slots": slots, "description": f"Zoho CRM API concurrency of {org}",
                      "include_deferred": False}
    return spec


def env_prefix(extractor: str) -> str:
    """Meltano's prefix of the extractor's setting variables: TAP_ZOHOCRM__ACME for
    tap-zohocrm--acme (an org reads its own only, not tap-zohocrm's TAP_ZOHOCRM_*)."""
    return re.sub(r"[^A-Za-z0-9]", "_", extractor).upper()


def meltano_command(group: str, extractor: str = EXTRACTOR) -> str:
    """The task's shell command.

    Meltano 4 writes a tap's catalog and state to `.meltano/run/<plugin>/` whatever the state
    ID, so two `meltano run` of one tap in one project overwrite each other's files. Each task
    therefore runs with its own `.meltano` (MELTANO_SYS_DIR_ROOT) that links to the installed
    plugins and keeps the project's system database.
    """
    q = shlex.quote
    # Per org and group with many orgs; per group (as before) with one.
    run_dir = group if extractor == EXTRACTOR else f"{org_name(extractor)}/{group}"
    return "\n".join([
        "set -eu",
        f"cd {q(str(PROJECT_ROOT))}",
        'shared="${MELTANO_SYS_DIR_ROOT:-$PWD/.meltano}"',
        f'own="$shared/airflow/{run_dir}"',
        'mkdir -p "$own"',
        "for kind in extractors loaders mappers utilities transformers files; do",
        '  if [ -e "$shared/$kind" ]; then ln -sfn "$shared/$kind" "$own/$kind"; fi',
        "done",
        'export MELTANO_DATABASE_URI="${MELTANO_DATABASE_URI:-sqlite:///$shared/meltano.db}"',
        'export MELTANO_SYS_DIR_ROOT="$own"',
        f"exec {q(MELTANO)} run --state-id-suffix {q(group)} {q(extractor)} {q(LOADER)}",
    ])


def task_env(settings: dict[str, list[str]], per_task: int, extractor: str = EXTRACTOR,
             schema: str | None = None) -> dict[str, str]:
    """The task's variables, in the extractor's names: Meltano gives an org's settings its own
    variables only (TAP_ZOHOCRM__ACME_MODULES), never another org's."""
    prefix = env_prefix(extractor)
    env = {"MELTANO_PROJECT_ROOT": str(PROJECT_ROOT),
           f"{prefix}_MAX_CONCURRENCY": str(per_task)}
    for key, variable in (("modules", f"{prefix}_MODULES"),
                          ("exclude_modules", f"{prefix}_EXCLUDE_MODULES"),
                          ("select_filter", f"{prefix}__SELECT_FILTER")):
        if settings.get(key):
            env[variable] = json.dumps(settings[key])
    if schema:
        env[f"{prefix}__LOAD_SCHEMA"] = schema  # the loader's default_target_schema
    return env


def org_tasks(project_root: Path, extractor: str) -> dict[str, Any]:
    """What build_dag makes of one org: its pool, slots per task, schema and tasks."""
    _, per_task = concurrency(project_root, extractor)
    return {"extractor": extractor, "pool": pool_name(extractor), "pool_slots": per_task,
            "schema": load_schema(project_root, extractor),
            "tasks": task_settings(project_root, extractor)}


def build_dag() -> Any:
    import pendulum
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.sdk import DAG, TaskGroup

    # Org -> its tasks, or the line saying what is wrong with its annotations.
    orgs: dict[str, dict[str, Any] | str] = {}
    for extractor in org_extractors():
        try:
            orgs[extractor] = org_tasks(PROJECT_ROOT, extractor)
        except ValueError as exc:
            orgs[extractor] = str(exc)
    if not orgs:
        _, per_task = concurrency()
        single = task_settings()
    count = sum(len(o["tasks"]) if isinstance(o, dict) else 1 for o in orgs.values())
    with DAG(
        dag_id=DAG_ID,
        description="Zoho CRM to the warehouse with Meltano, one task per module group and "
        "one for the other modules (per org)",
        schedule=None if SCHEDULE.lower() == "none" else SCHEDULE,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # a group's runs never overlap: its state stays consistent
        default_args={"retries": RETRIES, "retry_delay": timedelta(minutes=5)},
        tags=["zoho", "meltano"],
        # Airflow's default (16 per DAG) would hold many orgs' tasks back: the pools bound them.
        max_active_tasks=int(MAX_ACTIVE_TASKS) if MAX_ACTIVE_TASKS else max(16, count),
    ) as dag:
        if not orgs:
            for task, settings in single.items():
                BashOperator(
                    task_id=f"meltano_run_{task}",
                    bash_command=meltano_command(task),
                    env=task_env(settings, per_task),
                    append_env=True,
                    pool=POOL,
                    pool_slots=per_task,
                    execution_timeout=timedelta(hours=12),
                )
        for extractor, org in orgs.items():
            with TaskGroup(group_id=org_name(extractor), tooltip=extractor):
                if isinstance(org, str):
                    # This org's annotations are wrong: one task fails saying so, the other
                    # orgs run.
                    BashOperator(task_id="meltano_yml",
                                 bash_command=f"echo {shlex.quote(org)} >&2; exit 1",
                                 retries=0)
                    continue
                for task, settings in org["tasks"].items():
                    BashOperator(
                        task_id=f"meltano_run_{task}",
                        bash_command=meltano_command(task, extractor),
                        env=task_env(settings, org["pool_slots"], extractor, org["schema"]),
                        append_env=True,
                        pool=org["pool"],
                        pool_slots=org["pool_slots"],
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
    elif sys.argv[1:] == ["--orgs"]:
        print(json.dumps({org_name(e): org_tasks(PROJECT_ROOT, e)
                          for e in org_extractors()}, indent=2))
    else:
        sys.exit("usage: zohocrm_meltano.py --pool-json | --groups | --tasks | --orgs")
else:
    dag = build_dag()
