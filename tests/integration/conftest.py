"""Fixtures the warehouse tests share: a private Meltano installation, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.helpers import (
    PLUGIN_ENV_PREFIXES,
    meltano,
)
from tests.integration.postgres import PG

# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def meltano_sys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private `.meltano` (plugins, run files, system database), installed once per session.

    Private because `meltano run`s of one project share `.meltano/run/<plugin>/` and delete
    each other's catalog and state files there: runs elsewhere (other tests, a developer's own)
    would make these fail at random. Plugin installs are the slow part, hence once."""
    sys_dir = tmp_path_factory.mktemp("meltano-sys")
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLUGIN_ENV_PREFIXES)}
    env.update(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", MELTANO_SYS_DIR_ROOT=str(sys_dir))
    meltano("install", env=env)
    yield sys_dir
    shutil.rmtree(sys_dir, ignore_errors=True)  # plugin venvs: hundreds of MB


@pytest.fixture(scope="session")
def postgres_server() -> dict[str, str]:
    try:
        with psycopg.connect(dbname="postgres", connect_timeout=5, **PG) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG['host']}:{PG['port']} as {PG['user']}: {exc}\n"
            "Start it (bash .ci/run does) or point PGHOST/PGPORT/PGUSER/PGPASSWORD at one."
        )
    return PG


@pytest.fixture
def pg_database(postgres_server: dict[str, str]) -> Iterator[str]:
    """A database of its own for one test, dropped afterwards."""
    name = f"tap_zohocrm_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **postgres_server) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(dbname="postgres", autocommit=True, **postgres_server) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
