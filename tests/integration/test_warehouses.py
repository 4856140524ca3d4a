"""Into real warehouses: what users load the tap into, checked by querying the result.

- PostgreSQL: `meltano run tap-zohocrm target-postgres` (a fresh database per test on the server at
  PGHOST/PGPORT/PGUSER/PGPASSWORD, default 127.0.0.1:5432 as postgres with no password).
- DuckDB: `meltano run tap-zohocrm target-duckdb`, rows counted: with duckdb >= 1.3 target-duckdb
  0.8.0 silently drops the first row of every batch (zero rows for a one-row batch).
- Parquet: the tap's own `batch_config`, read back with pyarrow and with DuckDB.
- The ready-made `target_configs/*.json` with plain pipes, as the README shows them.

A missing PostgreSQL or Meltano is a failure, not a skip: CI provides both (.ci/run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from tests.helpers import (
    PLUGIN_ENV_PREFIXES,
    ROOT,
    TapRun,
    discover,
    expected_record,
    meltano,
    meltano_env,
    run_tap,
    select_dollar_keys,
    select_streams,
    tap_config,
)
from tests.integration.postgres import (
    PG,
    SCHEMA,
    SMALL_ORG,
    STATE_ID,
    pg_columns,
    pg_query,
    pg_rows,
    pg_tables,
    target_postgres_env,
)
from zoho_simulator import Simulator


def json_types(prop: dict[str, Any]) -> set[str]:
    """A property's JSON types without null (`type` may be a string or a list)."""
    declared = prop.get("type") or ["object"]
    return {declared} - {"null"} if isinstance(declared, str) else set(declared) - {"null"}


def expected_pg_type(prop: dict[str, Any]) -> str:
    """What target-postgres makes of a property's JSON Schema (see its type mapping)."""
    types = json_types(prop)
    if len(types) > 1:
        return "jsonb"  # open values of any JSON type
    kind = types.pop()
    if kind == "array":
        return "text[]" if json_types(prop.get("items") or {}) == {"string"} else "jsonb[]"
    if kind == "string":
        return {"date-time": "timestamp without time zone", "date": "date"}.get(
            prop.get("format", ""), "text")
    return {"integer": "bigint", "number": "numeric", "boolean": "boolean",
            "object": "jsonb"}[kind]


def from_pg(value: Any) -> Any:
    """A PostgreSQL value as the tap emitted it: datetimes in UTC (the loader stores them
    without time zone), dates as ISO text, numerics as the JSON numbers they came from."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [from_pg(v) for v in value]
    return value


def assert_rows_match(rows: list[dict[str, Any]], module_records: list[dict[str, Any]],
                      schema: dict[str, Any], where: str,
                      convert: Callable[[Any], Any] = from_pg) -> None:
    """Every row equals the simulator's record, field by field (one id each, none missing)."""
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(rows), f"{where}: duplicate ids"
    assert set(by_id) == {r["id"] for r in module_records}, f"{where}: ids differ"
    for api_record in module_records:
        row = by_id[api_record["id"]]
        for name, want in expected_record(api_record, schema).items():
            got = convert(row[name])
            assert_same(got, want, f"{where} id={api_record['id']} {name}")


def assert_same(got: Any, want: Any, where: str) -> None:
    """Equal values; a struct read from Parquet may carry extra keys (other rows') as None."""
    if isinstance(want, dict | list) and isinstance(got, str):
        got = json.loads(got)  # an object kept as JSON text (free-form values in Parquet)
    if isinstance(want, dict) and isinstance(got, dict):
        for key in set(got) | set(want):
            if key in want:
                assert key in got, f"{where}: key {key!r} missing in {got!r}"
                assert_same(got[key], want[key], f"{where}.{key}")
            else:
                assert got[key] is None, f"{where}: unexpected {key}={got[key]!r}"
        return
    if isinstance(want, list) and isinstance(got, list):
        assert len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
        return
    assert (got == want and type(got) is type(want)) or (
        isinstance(want, float) and isinstance(got, int | float) and got == want
    ), f"{where}: {got!r} != {want!r}"


# --- the tap's streams as discovery reports them ---------------------------------------------


def stream_schemas(sim: Simulator, modules: list[str] | None = None, *,
                   by_default: bool = False) -> dict[str, dict[str, Any]]:
    """Each stream's schema; `by_default`: as a run without a catalog selects it (Meltano's
    `'*.*'` selects every property)."""
    overrides = {"modules": modules} if modules else {}
    catalog = discover(tap_config(sim, **overrides))
    return {e["tap_stream_id"]: default_schema(e) if by_default else e["schema"]
            for e in catalog["streams"]}


def default_schema(entry: dict[str, Any]) -> dict[str, Any]:
    """A catalog entry's schema as a run that selects the stream emits it: without the
    properties discovery marks `selected-by-default: false` (the `$` keys)."""
    left_out = {md["breadcrumb"][1] for md in entry["metadata"] if len(md["breadcrumb"]) == 2
                and md["metadata"].get("selected-by-default") is False}
    schema = entry["schema"]
    return {**schema, "properties": {k: v for k, v in schema["properties"].items()
                                     if k not in left_out}}


def module_of(sim: Simulator, stream: str) -> str | None:
    """The Zoho module a stream reads, None for the tap's other streams (org metadata...)."""
    return next((m for m in sim.org.modules if m.lower() == stream), None)


def module_streams_run(sim: Simulator, modules: list[str], **overrides: Any) -> TapRun:
    """The tap's CLI with exactly the streams of `modules` selected in its catalog."""
    config = tap_config(sim, modules=modules, **overrides)
    catalog = select_streams(discover(config), {m.lower() for m in modules})
    return run_tap(config, catalog=catalog, check=False)


# --- PostgreSQL ------------------------------------------------------------------------------


def test_postgres_typed_tables_hold_the_simulator_data(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path) -> None:
    sim = make_simulator(seed=31, sizes=SMALL_ORG)
    env = meltano_env(sim, tmp_path, **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir))
    meltano("run", "tap-zohocrm", "target-postgres", env=env)

    schemas = stream_schemas(sim)
    tables = pg_tables(pg_database)
    module_streams = {s for s in schemas if module_of(sim, s) is not None}
    assert module_streams <= tables, "one table per module stream"
    assert tables <= set(schemas)
    seen_types: set[str] = set()
    for stream in sorted(tables):
        schema, columns = schemas[stream], pg_columns(pg_database, stream)
        # No column silently dropped, each with the type its JSON Schema asks for.
        assert set(schema["properties"]) <= set(columns), (
            stream, sorted(set(schema["properties"]) - set(columns)))
        for name, prop in schema["properties"].items():
            assert columns[name] == expected_pg_type(prop), (stream, name, prop, columns[name])
            seen_types.add(columns[name])
        module = module_of(sim, stream)
        if module is not None:  # a module: every row equals the simulator's record
            assert_rows_match(pg_rows(pg_database, stream), sim.records(module), schema, stream)
    assert {"numeric", "bigint", "boolean", "date", "timestamp without time zone", "jsonb",
            "jsonb[]", "text[]", "text"} <= seen_types
    # Spelled out for the common Leads fields (what analysts query).
    leads = pg_columns(pg_database, "leads")
    assert leads["Annual_Revenue"] == "numeric"  # currency
    assert leads["External_Ref_Id"] == "bigint"  # Zoho bigint (sent as a string), as integer
    assert leads["Email_Opt_Out"] == "boolean"
    assert leads["Follow_Up_Date"] == "date"
    assert leads["Modified_Time"] == "timestamp without time zone"  # UTC
    assert leads["Owner"] == "jsonb"  # lookup {id, name, email}
    assert leads["Tag"] == "jsonb[]"
    assert leads["Interests"] == "text[]"  # multi-select picklist


def test_default_environment_passes_exported_settings_through(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path) -> None:
    # A user exports TAP_ZOHOCRM_* and runs `meltano run` with no MELTANO_ENVIRONMENT: the
    # default environment must hand their settings to the tap unchanged.
    sim = make_simulator(seed=37, sizes={"Leads": 300, "Contacts": 40})
    env = meltano_env(sim, tmp_path, ["Leads", "Contacts"], **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir))
    for key in ("MELTANO_ENVIRONMENT", "ZOHO_SIMULATOR_URL"):
        env.pop(key)
    env.update(TAP_ZOHOCRM_API_URL=sim.url, TAP_ZOHOCRM_ACCOUNTS_URL=sim.url,
               TAP_ZOHOCRM_START_DATE="", TAP_ZOHOCRM_RETRY_BACKOFF_SECONDS="0.5")
    meltano("run", "tap-zohocrm", "target-postgres", env=env)
    rows = pg_rows(pg_database, "leads")
    assert {r["id"] for r in rows} == {r["id"] for r in sim.records("Leads")}

    # In the simulator's environment, an exported URL still wins over the environment's.
    sim.update_record("Leads", sim.records("Leads")[0]["id"])
    dev = dict(env, MELTANO_ENVIRONMENT="dev", ZOHO_SIMULATOR_URL="http://127.0.0.1:9")
    meltano("run", "tap-zohocrm", "target-postgres", env=dev)
    assert len(pg_rows(pg_database, "contacts")) == len(sim.records("Contacts"))


def test_postgres_second_run_upserts_changes_and_new_field(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path) -> None:
    sim = make_simulator(seed=32, sizes={"Leads": 150, "Contacts": 40})
    env = meltano_env(sim, tmp_path, ["Leads", "Contacts"], **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir))
    meltano("run", "tap-zohocrm", "target-postgres", env=env)
    state = json.loads(meltano("state", "get", STATE_ID, env=env).stdout)
    assert "leads" in json.dumps(state), state  # Meltano kept the tap's bookmarks
    last_modified = {m: max(r["Modified_Time"] for r in sim.records(m))
                     for m in ("Leads", "Contacts")}
    ids_at_bookmark = {m.lower(): {r["id"] for r in sim.records(m)
                                   if r["Modified_Time"] == last_modified[m]}
                       for m in ("Leads", "Contacts")}
    first_ids = {r["id"] for r in sim.records("Leads")}

    # A field added in Zoho, then updates, inserts and a delete.
    sim.add_field("Leads", {"api_name": "Loyalty_Points__c", "data_type": "integer",
                            "field_label": "Loyalty Points"})
    lead_ids = sorted(first_ids)
    updated = sim.update_record("Leads", lead_ids[0], {"City": "Zürich", "Annual_Revenue": 4242.5})
    created = sim.create_record("Leads", {"Company": "Ørsted ApS", "Loyalty_Points__c": 77})
    changed = {"leads": {
        updated["id"], created["id"],
        sim.update_record("Leads", lead_ids[1])["id"],
        sim.create_record("Leads")["id"],
    }, "contacts": {sim.update_record("Contacts", sim.records("Contacts")[0]["id"])["id"]}}
    deleted = lead_ids[2]
    sim.delete_record("Leads", deleted)
    meltano("run", "tap-zohocrm", "target-postgres", env=env)

    schemas = stream_schemas(sim, ["Leads", "Contacts"])
    assert "Loyalty_Points__c" in schemas["leads"]["properties"]
    for stream in ("leads", "contacts"):
        schema, module = schemas[stream], module_of(sim, stream)
        assert module is not None
        rows = pg_rows(pg_database, stream)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), f"{stream}: duplicate ids after the second run"
        current = {r["id"] for r in sim.records(module)}
        # Without emit_deletes the deleted row may stay; nothing else may.
        assert current <= set(ids) <= current | {deleted}, stream
        columns = pg_columns(pg_database, stream)
        assert set(schema["properties"]) <= set(columns), stream  # the new field is a column
        # Updated and inserted records arrived with their new values.
        assert_rows_match([r for r in rows if r["id"] in changed[stream]],
                          [r for r in sim.records(module) if r["id"] in changed[stream]],
                          schema, f"{stream} (changed)")
        # The second run was incremental: only changed records, plus those at the bookmark's
        # second (Zoho's If-Modified-Since is inclusive), were loaded again.
        last_sync = max(r["_sdc_sync_started_at"] for r in rows)
        reloaded = {r["id"] for r in rows if r["_sdc_sync_started_at"] == last_sync}
        assert changed[stream] <= reloaded <= (
            changed[stream] | ids_at_bookmark[stream] | {deleted}), stream
    assert pg_columns(pg_database, "leads")["Loyalty_Points__c"] == "bigint"
    leads = {r["id"]: r for r in pg_rows(pg_database, "leads")}
    assert (leads[updated["id"]]["City"], leads[updated["id"]]["Annual_Revenue"]) == (
        "Zürich", Decimal("4242.5"))
    assert (leads[created["id"]]["Company"], leads[created["id"]]["Loyalty_Points__c"]) == (
        "Ørsted ApS", 77)


# --- DuckDB ----------------------------------------------------------------------------------


def test_duckdb_loads_every_row(make_simulator: Callable[..., Simulator], tmp_path: Path,
                                meltano_sys_dir: Path) -> None:
    sim = make_simulator(seed=33, sizes=SMALL_ORG)
    db_path = tmp_path / "zohocrm.duckdb"
    modules = ["Leads", "Contacts", "Accounts", "Deals", "Notes", "Shipments"]
    env = meltano_env(sim, tmp_path, modules, TARGET_DUCKDB_PATH=str(db_path),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir))
    meltano("run", "tap-zohocrm", "target-duckdb", env=env)

    with duckdb.connect(str(db_path), read_only=True) as con:
        for module in modules:
            table = f"{SCHEMA}.{module.lower()}"
            want = {r["id"]: r for r in sim.records(module)}
            # A count catches the duckdb >= 1.3 trap: first row of each batch silently lost.
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(len(want),)], \
                table
            rows = con.sql(f'SELECT id, "owner" FROM {table}').fetchall()
            assert {r[0] for r in rows} == set(want), table
            for rid, owner in rows:  # lookups are JSON columns
                assert (owner and json.loads(owner)) == want[rid]["Owner"], (table, rid)


# --- Parquet (the tap's batch_config) --------------------------------------------------------


def parquet_batch_config(folder: Path, batch_size: int = 10_000) -> dict[str, Any]:
    return {"encoding": {"format": "parquet", "compression": "gzip"},
            "storage": {"root": folder.as_uri(), "prefix": ""}, "batch_size": batch_size}


def batch_files(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Stream -> local paths of its Parquet files, from the BATCH messages' manifests."""
    files: dict[str, list[str]] = {}
    for m in messages:
        if m["type"] == "BATCH":
            assert m["encoding"] == {"format": "parquet", "compression": "gzip"}
            files.setdefault(m["stream"], []).extend(
                unquote(urlparse(url).path) for url in m["manifest"])
    return files


def duckdb_rows(files: list[str]) -> list[dict[str, Any]]:
    """The analysts' recipe: DuckDB's read_parquet over every file of a stream."""
    rel = duckdb.sql("SELECT * FROM read_parquet($files, union_by_name = true)",
                     params={"files": files})
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def pyarrow_rows(files: list[str]) -> list[dict[str, Any]]:
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def from_parquet(value: Any) -> Any:
    """A Parquet value as the tap emitted it: timestamps (UTC) and dates as ISO text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat() if isinstance(value, date) else value


def test_parquet_batch_files_match_simulator(make_simulator: Callable[..., Simulator],
                                             tmp_path: Path) -> None:
    sim = make_simulator(seed=34, sizes=SMALL_ORG)
    # Modules whose every record has the same keys (the tests below cover records that differ).
    modules = ["Leads", "Contacts", "Accounts", "Deals", "Products", "Quotes", "Shipments",
               "Contacts_X_Deals"]
    folder = tmp_path / "parquet"
    run = module_streams_run(sim, modules,
                             batch_config=parquet_batch_config(folder, batch_size=100))
    assert run.returncode == 0, run.stderr[-3000:]
    files = batch_files(run.messages)
    assert set(files) == {m.lower() for m in modules}
    assert len(files["leads"]) == 3  # 250 leads in files of 100
    assert not run.records("leads")  # records went to files, not to stdout
    for stream, paths in files.items():
        assert all(Path(p).parent == folder for p in paths), paths
        schema = run.schema(stream)
        module = module_of(sim, stream)
        assert module is not None
        api_records = sim.records(module)
        assert_rows_match(pyarrow_rows(paths), api_records, schema, f"pyarrow {stream}",
                          from_parquet)
        assert_rows_match(duckdb_rows(paths), api_records, schema, f"duckdb {stream}",
                          from_parquet)
    # Nested values stay nested: lookups are structs, tags lists of structs.
    leads_schema = pq.read_schema(files["leads"][0])
    assert pa.types.is_struct(leads_schema.field("Owner").type)
    assert pa.types.is_list(leads_schema.field("Tag").type)
    assert pa.types.is_list(leads_schema.field("Interests").type)


# The SDK's ParquetBatcher (singer_sdk/contrib/batch_encoder_parquet.py) builds each file with
# `pa.Table.from_pylist(records)`, which takes the columns from the FIRST record and infers each
# column's type from the values. These tests provoke the shapes it gets wrong on its own; the
# tap builds its Parquet rows from the schema (tap_zohocrm/batch_files/parquet.py).


def test_parquet_keeps_keys_missing_from_first_record(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_simulator(seed=35, sizes={"Leads": 40, "Tasks": 40, "Events": 30})
    # A value that does not fit its field goes to _zoho_mismatched_values (one record only).
    lead = sim.update_record("Leads", sim.records("Leads")[5]["id"], {"Annual_Revenue": "n/a"})
    modules = ["Leads", "Tasks", "Events"]
    plain = module_streams_run(sim, modules)
    batched = module_streams_run(sim, modules,
                                 batch_config=parquet_batch_config(tmp_path / "parquet"))
    assert plain.returncode == batched.returncode == 0, batched.stderr[-3000:]
    for stream, paths in batch_files(batched.messages).items():
        keys = {k for r in plain.records(stream) for k in r}
        columns = set(pyarrow_rows(paths)[0])
        assert keys <= columns, (stream, sorted(keys - columns))
    rows = {r["id"]: r for r in pyarrow_rows(batch_files(batched.messages)["leads"])}
    # Values whose type varies are written as JSON text.
    assert_same(json.loads(rows[lead["id"]]["_zoho_mismatched_values"]),
                {"Annual_Revenue": "n/a"}, "lead")


def test_parquet_keeps_mismatched_values_of_different_types(
        make_simulator: Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_simulator(seed=36, sizes={"Leads": 30})
    ids = [r["id"] for r in sim.records("Leads")]
    sim.update_record("Leads", ids[0], {"Annual_Revenue": "n/a"})
    sim.update_record("Leads", ids[1], {"Annual_Revenue": {"amount": 5}})
    run = module_streams_run(sim, ["Leads"],
                             batch_config=parquet_batch_config(tmp_path / "parquet"))
    assert run.returncode == 0, run.stderr[-3000:]
    rows = pyarrow_rows(batch_files(run.messages)["leads"])
    assert sum(r.get("_zoho_mismatched_values") is not None for r in rows) == 2


def test_parquet_writes_empty_objects(make_simulator: Callable[..., Simulator],
                                      tmp_path: Path) -> None:
    sim = make_simulator(seed=5, sizes={"Leads": 4})
    assert not any(r["Converted__s"] for r in sim.records("Leads"))
    run = module_streams_run(sim, ["Leads"], api_version="v3",
                             batch_config=parquet_batch_config(tmp_path / "parquet"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(pyarrow_rows(batch_files(run.messages)["leads"])) == 4


# --- target_configs/ with plain pipes ----------------------------------------------------------


def tap_cli(args: list[str], env: dict[str, str], cwd: Path, stdout: Any) -> subprocess.Popen:
    """`tap-zohocrm ARGS`, its log in cwd/tap.log."""
    with open(cwd / "tap.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "tap_zohocrm", *args], cwd=cwd, env=env,
                                stdout=stdout, stderr=log)


def pipe(tap_args: list[str], target_cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    """`tap-zohocrm ARGS | TARGET` as in the README, both failing loudly."""
    tap = tap_cli(tap_args, env, cwd, subprocess.PIPE)
    target = subprocess.run(target_cmd, cwd=cwd, env=env, stdin=tap.stdout,
                            capture_output=True, text=True, timeout=600)
    assert tap.stdout is not None
    tap.stdout.close()
    tap_rc = tap.wait(timeout=600)
    assert target.returncode == 0, target.stderr[-4000:]  # first: a dead target kills the tap
    assert tap_rc == 0, (cwd / "tap.log").read_text()[-4000:]


def loader(sys_dir: Path, name: str) -> str:
    """A loader's executable as `meltano install` put it in the `.meltano` folder `sys_dir`."""
    path = sys_dir / "loaders" / name / "venv" / "bin" / name
    assert path.exists(), f"{path} missing: `meltano install` should have installed it"
    return str(path)


def tap_env(sim: Simulator, modules: list[str]) -> dict[str, str]:
    """The tap configured from the environment (`--config ENV`), as the README's recipes do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLUGIN_ENV_PREFIXES)}
    env.update({f"TAP_ZOHOCRM_{k.upper()}": v for k, v in sim.credentials.items()})
    env.update({"TAP_ZOHOCRM_API_URL": sim.url, "TAP_ZOHOCRM_ACCOUNTS_URL": sim.url,
                "TAP_ZOHOCRM_MODULES": json.dumps(modules)})
    return env


CONFIGS = ROOT / "target_configs"
RECIPES = ["postgres", "duckdb", "jsonl", "parquet", "parquet-to-postgres",
           "jsonl-batch-to-postgres"]


@pytest.mark.parametrize("recipe", RECIPES)
def test_target_configs_with_plain_pipes(
        recipe: str, make_simulator: Callable[..., Simulator], tmp_path: Path,
        meltano_sys_dir: Path, request: pytest.FixtureRequest) -> None:
    sim = make_simulator(seed=37, sizes={"Leads": 60, "Shipments": 15})
    env = tap_env(sim, ["Leads", "Shipments"])
    want = {"leads": {r["id"] for r in sim.records("Leads")},
            "shipments": {r["id"] for r in sim.records("Shipments")}}
    # Relative paths in the configs land under the working directory, as for a user.
    output = tmp_path / "output"
    got: dict[str, set[str]]

    if recipe in ("postgres", "parquet-to-postgres", "jsonl-batch-to-postgres"):
        database = request.getfixturevalue("pg_database")
        env.update(target_postgres_env(database))  # the password never sits in a file
        if recipe == "parquet-to-postgres":
            # BATCH to a loader: the storage root must be a file:// URL (see the README).
            env["TAP_ZOHOCRM_BATCH_CONFIG"] = json.dumps({
                "encoding": {"format": "parquet", "compression": "gzip"},
                "storage": {"root": (output / "parquet").as_uri()}})
        elif recipe == "jsonl-batch-to-postgres":
            # Plain JSONL files (the SDK's own JSONL batcher gzips them whatever is asked).
            env["TAP_ZOHOCRM_BATCH_CONFIG"] = json.dumps({
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": {"root": (output / "jsonl").as_uri()}, "batch_size": 25})
        pipe(["--config", "ENV"], [loader(meltano_sys_dir, "target-postgres"), "--config",
                                   str(CONFIGS / "postgres.json"), "--config", "ENV"],
             env, tmp_path)
        got = {t: {r["id"] for r in pg_rows(database, t)} for t in want}
        # Every value as the simulator holds it, whichever way it came. From Parquet the
        # loader gets UTC datetimes and dates, from records ISO text it parses: both UTC.
        schemas = stream_schemas(sim, ["Leads", "Shipments"], by_default=True)
        for table, module in (("leads", "Leads"), ("shipments", "Shipments")):
            assert_rows_match(pg_rows(database, table), sim.records(module), schemas[table],
                              f"{recipe} {table}")
        if recipe == "parquet-to-postgres":  # the rows came through Parquet files
            assert list(output.glob("parquet/tap-zohocrm--leads-*.parquet.gz"))
        elif recipe == "jsonl-batch-to-postgres":  # 60 leads in files of 25
            assert len(list(output.glob("jsonl/tap-zohocrm--leads-*.jsonl"))) == 3
    elif recipe == "duckdb":
        pipe(["--config", "ENV"], [loader(meltano_sys_dir, "target-duckdb"), "--config",
                                   str(CONFIGS / "duckdb.json")], env, tmp_path)
        with duckdb.connect(str(tmp_path / "zohocrm.duckdb"), read_only=True) as con:
            got = {t: {r[0] for r in con.sql(f"SELECT id FROM {SCHEMA}.{t}").fetchall()}
                   for t in want}
    elif recipe == "jsonl":
        pipe(["--config", "ENV"], [loader(meltano_sys_dir, "target-jsonl"), "--config",
                                   str(CONFIGS / "jsonl.json")], env, tmp_path)
        got = {t: {json.loads(line)["id"] for line in
                   (output / f"{t}.jsonl").read_text().splitlines()} for t in want}
    else:  # the analysts' Parquet dump: no loader, the tap writes the files
        with open(tmp_path / "messages.jsonl", "w") as messages:
            tap = tap_cli(["--config", "ENV", "--config", str(CONFIGS / "parquet.json")],
                          env, tmp_path, messages)
            assert tap.wait(timeout=600) == 0, (tmp_path / "tap.log").read_text()[-4000:]
        got = {t: {r["id"] for r in duckdb_rows(
            [str(p) for p in output.glob(f"parquet/tap-zohocrm--{t}-*.parquet.gz")])}
            for t in want}
    assert got == want


# --- one org through every path: the same rows -------------------------------------------------
# Records, JSONL BATCH, Parquet BATCH and a Bulk Read backfill into Parquet, each into its own
# PostgreSQL schema (target-postgres, target_configs/postgres.json) and into DuckDB (records by
# target-duckdb, the files read by DuckDB itself), then compared cell by cell with the record path.

PATH_MODULES = ["Leads", "Notes", "Quotes", "Quoted_Items"]
BATCH_PATHS = {
    "jsonl": {"encoding": {"format": "jsonl", "compression": "none"}},
    "parquet": {"encoding": {"format": "parquet", "compression": "gzip"}},
    "bulk_parquet": {"encoding": {"format": "parquet", "compression": "gzip"}},
}
BULK_THRESHOLD = 12  # Leads (40) and Quoted_Items (17) go through Bulk Read; Quotes (8) not
# What a Bulk Read export carries differently from Get Records (docs/loading.md): a lookup's id
# only, a tag's name only, no `$` system keys. Every other column must be equal.
BULK_ONLY_ID = "lookup: the export's id, other keys null"
BULK_TAG_NAME = "tag: the export's name, other keys null"
BULK_NO_KEY = "`$` key: not in the export"
BULK_EMPTY_LIST = "multi-select: no value is an empty cell, null"


def run_path(sim: Simulator, catalog: dict[str, Any], folder: Path, path: str) -> Path:
    """The tap's messages for one path, in a file (its BATCH files in folder/path)."""
    config = tap_config(sim, modules=PATH_MODULES)
    if path in BATCH_PATHS:
        config["batch_config"] = {**BATCH_PATHS[path], "batch_size": 25,
                                  "storage": {"root": (folder / path).as_uri()}}
    if path == "bulk_parquet":
        config["bulk_read_threshold"] = BULK_THRESHOLD
    files = {name: folder / f"{path}-{name}.json" for name in ("config", "catalog")}
    files["config"].write_text(json.dumps(config))
    files["catalog"].write_text(json.dumps(catalog))
    messages = folder / f"{path}.jsonl"
    with messages.open("w") as out, (folder / f"{path}-tap.log").open("w") as log:
        proc = subprocess.run([sys.executable, "-m", "tap_zohocrm", "--config",
                               str(files["config"]), "--catalog", str(files["catalog"])],
                              stdout=out, stderr=log, timeout=600)
    assert proc.returncode == 0, (folder / f"{path}-tap.log").read_text()[-4000:]
    return messages


def load(target: list[str], messages: Path, cwd: Path) -> None:
    with messages.open("rb") as source:
        proc = subprocess.run(target, stdin=source, capture_output=True, text=True, cwd=cwd,
                              timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def pg_table(database: str, schema: str, table: str) -> dict[str, dict[str, Any]]:
    """id -> row, the loader's `_sdc_*` columns left out."""
    rows = pg_query(database, sql.SQL("SELECT * FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier(table)).as_string())
    return {r["id"]: {k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in rows}


def differences(want: dict[str, dict[str, Any]], got: dict[str, dict[str, Any]]
                ) -> dict[str, int]:
    """Column -> how many rows differ (`<ids>`: rows only on one side)."""
    diff: dict[str, int] = {}
    if set(want) != set(got):
        diff["<ids>"] = len(set(want) ^ set(got))
    for rid in sorted(set(want) & set(got)):
        for column in set(want[rid]) | set(got[rid]):
            if want[rid].get(column, KeyError) != got[rid].get(column, KeyError):
                diff[column] = diff.get(column, 0) + 1
                if diff[column] == 1:  # the first one, for the failure message
                    print(f"{column} id={rid}: {want[rid].get(column, KeyError)!r} != "
                          f"{got[rid].get(column, KeyError)!r}")
    return diff


def from_duckdb(value: Any, type_name: str) -> Any:
    """A DuckDB value as the same value whatever the column's type: JSON parsed, times as UTC
    instants, dates as ISO text (target-duckdb keeps dates as text), numbers as numbers."""
    if value is None:
        return None
    if type_name == "JSON":
        return json.loads(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: from_duckdb(v, "") for k, v in value.items()}
    if isinstance(value, list):
        return [from_duckdb(v, "") for v in value]
    return value


def duckdb_table(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
                 ) -> dict[str, dict[str, Any]]:
    """id -> row, column names in lower case (target-duckdb's), `_sdc_*` columns left out."""
    rel = con.sql(query, params=params)
    names = [c.lower() for c in rel.columns]
    types = [str(t) for t in rel.types]
    rows = {}
    for row in rel.fetchall():
        values = {n: from_duckdb(v, t) for n, v, t in zip(names, row, types, strict=True)
                  if not n.startswith("_sdc_")}
        rows[values["id"]] = values
    return rows


def test_every_path_lands_the_same_rows(make_simulator: Callable[..., Simulator],
                                        tmp_path: Path, pg_database: str,
                                        meltano_sys_dir: Path) -> None:
    """`$approval`, `$review_process`, file and image uploads, lookups, tags, multi-select
    values, datetimes, dates, a subform and notes: the same cells whichever way they travel."""
    sim = make_simulator(seed=41, sizes={"Leads": 40, "Quotes": 8}, bulk_job_seconds=0.2)
    catalog = select_dollar_keys(select_streams(discover(tap_config(sim, modules=PATH_MODULES)),
                                                {m.lower() for m in PATH_MODULES}))
    streams = [m.lower() for m in PATH_MODULES]
    paths = ["records", *BATCH_PATHS]
    # Side by side: the runs wait on HTTP and process start-up more than on the CPU.
    with ThreadPoolExecutor(len(paths) + 1) as pool:
        messages = dict(zip(paths, pool.map(
            lambda path: run_path(sim, catalog, tmp_path, path), paths), strict=True))
        base = json.loads((CONFIGS / "postgres.json").read_text())
        loads = []
        for path in paths:
            config = tmp_path / f"target-postgres-{path}.json"
            config.write_text(json.dumps({**base, **PG, "port": int(PG["port"]),
                                          "database": pg_database,
                                          "default_target_schema": f"path_{path}"}))
            loads.append(([loader(meltano_sys_dir, "target-postgres"), "--config", str(config)],
                          messages[path]))
        (tmp_path / "target-duckdb.json").write_text(json.dumps(
            {"path": str(tmp_path / "records.duckdb"), "default_target_schema": "path_records"}))
        loads.append(([loader(meltano_sys_dir, "target-duckdb"), "--config",
                       str(tmp_path / "target-duckdb.json")], messages["records"]))
        for done in [pool.submit(load, target, source, tmp_path) for target, source in loads]:
            done.result()

    schema = {m["stream"]: m["schema"] for m in
              map(json.loads, messages["records"].read_text().splitlines())
              if m["type"] == "SCHEMA"}
    bulk_streams = {str(job["module"]).lower() for job in sim.bulk_jobs()}
    failures: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(tmp_path / "records.duckdb"), read_only=True) as con:
        for stream in streams:
            want = pg_table(pg_database, "path_records", stream)
            assert len(want) == len(sim.records(PATH_MODULES[streams.index(stream)])), stream
            duck_want = duckdb_table(con, f"SELECT * FROM path_records.{stream}")
            assert duck_want.keys() == want.keys(), stream
            for path in BATCH_PATHS:
                got = pg_table(pg_database, f"path_{path}", stream)
                diff = differences(want, got)
                if path == "bulk_parquet" and stream in bulk_streams:
                    diff = bulk_differences(diff, want, got, schema[stream], stream)
                if diff:
                    failures[f"postgres {path} {stream}"] = diff
                if path == "jsonl":
                    continue  # DuckDB reads Parquet files; JSONL files are for loaders
                files = sorted(str(p) for p in (tmp_path / path).glob(
                    f"tap-zohocrm--{stream}-*.parquet*"))
                assert files, (path, stream)
                got = duckdb_table(con, "SELECT * FROM read_parquet(?)", [files])
                diff = differences(duck_want, got)
                if path == "bulk_parquet" and stream in bulk_streams:
                    diff = bulk_differences(diff, duck_want, got, {"properties": {
                        k.lower(): v for k, v in schema[stream]["properties"].items()}}, stream)
                if diff:
                    failures[f"duckdb {path} {stream}"] = diff
    assert bulk_streams == {"leads", "quoted_items"}, bulk_streams  # exports, not REST
    assert not failures, json.dumps(failures, indent=1, sort_keys=True)


def bulk_differences(diff: dict[str, int], want: dict[str, dict[str, Any]],
                     got: dict[str, dict[str, Any]], schema: dict[str, Any], stream: str
                     ) -> dict[str, int]:
    """The differences left once those a Bulk Read export makes by design are checked: a
    lookup holds the export's id only, a tag its name only, an empty multi-select or tag list
    is null, a `$` key is null."""
    left = {}
    for column, count in diff.items():
        prop = schema["properties"].get(column, {})
        keys = set(prop.get("properties") or {})
        items = set((prop.get("items") or {}).get("properties") or {})
        if column.startswith("$"):
            expect = BULK_NO_KEY
        elif {"id", "name"} <= keys:
            expect = BULK_ONLY_ID
        elif column.lower() == "tag" and "name" in items:
            expect = BULK_TAG_NAME
        elif (prop.get("items") or {}).get("type") == "string":
            expect = BULK_EMPTY_LIST
        else:
            left[column] = count
            continue
        for rid, row in want.items():
            value = row[column]
            if expect == BULK_ONLY_ID:
                value = value and {k: value["id"] if k == "id" else None for k in keys}
            elif expect == BULK_TAG_NAME:
                value = [{k: t["name"] if k == "name" else None for k in items}
                         for t in value] if value else None  # no tags: an empty cell
            elif expect == BULK_EMPTY_LIST:
                value = value or None
            else:
                value = None
            if got[rid][column] != value:
                left[f"{column} (not as documented: {expect})"] = count
                break
    return left
