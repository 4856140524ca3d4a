"""PostgreSQL for the warehouse tests: the server's settings, a database per test, queries."""

from __future__ import annotations

import os
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

SCHEMA = "tap_zohocrm"  # default_target_schema of both loaders: the extractor's namespace
STATE_ID = "dev:tap-zohocrm-to-target-postgres"
# Small orgs: a few hundred records, every module at its (small) default size unless named.
SMALL_ORG = {"Leads": 250}
PG = {
    "host": os.environ.get("PGHOST", "127.0.0.1"),
    "port": os.environ.get("PGPORT", "5432"),
    "user": os.environ.get("PGUSER", "postgres"),
    "password": os.environ.get("PGPASSWORD", ""),
}


# --- PostgreSQL helpers ----------------------------------------------------------------------


def target_postgres_env(database: str) -> dict[str, str]:
    """The loader's settings as Meltano (and `--config ENV`) read them from the environment.

    No TARGET_POSTGRES_PASSWORD for a passwordless (trust-auth) server, as its user sets none:
    the shipped configurations must work without it."""
    env = {
        "TARGET_POSTGRES_HOST": PG["host"],
        "TARGET_POSTGRES_PORT": PG["port"],
        "TARGET_POSTGRES_USER": PG["user"],
        "TARGET_POSTGRES_DATABASE": database,
    }
    if PG["password"]:
        env["TARGET_POSTGRES_PASSWORD"] = PG["password"]
    return env


def pg_query(database: str, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(dbname=database, row_factory=dict_row, **PG) as conn:
        return conn.execute(query, params).fetchall()


def pg_tables(database: str) -> set[str]:
    rows = pg_query(database, "SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = %s", (SCHEMA,))
    return {r["table_name"] for r in rows}


def pg_columns(database: str, table: str) -> dict[str, str]:
    """Column name -> type as information_schema tells it (`text[]` for arrays of text)."""
    rows = pg_query(database, "SELECT column_name, data_type, udt_name FROM "
                              "information_schema.columns WHERE table_schema = %s "
                              "AND table_name = %s", (SCHEMA, table))
    return {r["column_name"]: f"{r['udt_name'][1:]}[]" if r["data_type"] == "ARRAY"
            else r["data_type"] for r in rows}


def pg_rows(database: str, table: str) -> list[dict[str, Any]]:
    return pg_query(database, sql.SQL("SELECT * FROM {}.{}").format(
        sql.Identifier(SCHEMA), sql.Identifier(table)).as_string())
