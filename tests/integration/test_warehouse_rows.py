"""Rows in PostgreSQL that are hard to get right: subform rows and links read whole, and values
that are hard to carry (a file of its own beside test_warehouse_deletes.py: these runs are long,
and a file runs on one test worker)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import (
    meltano,
    meltano_env,
)
from tests.integration.postgres import (
    STATE_ID,
    pg_columns,
    pg_rows,
    target_postgres_env,
)
from zoho_simulator import Simulator
from zoho_simulator.hard_values import LONG_TEXT

# --- subform rows and links: no deletions listed, read whole with ACTIVATE_VERSION -----------


@pytest.mark.parametrize("hard_delete", [False, True], ids=["flagged", "deleted"])
def test_postgres_drops_deleted_subform_rows_and_links(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path, hard_delete: bool) -> None:
    """A line item and a link removed in Zoho are gone from the warehouse after the next run
    (hard_delete) or carry `_sdc_deleted_at` (the loader's default); a sum over the line items
    then equals Zoho's. The parent modules stay incremental."""
    sim = make_simulator(seed=38, sizes={"Leads": 5, "Quotes": 15, "Contacts": 30})
    env = meltano_env(sim, tmp_path, ["Quotes", "Quoted_Items", "Contacts", "Contacts_X_Deals"],
                      **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir),
                      TARGET_POSTGRES_HARD_DELETE=str(hard_delete).lower())
    meltano("run", "tap-zohocrm", "target-postgres", env=env)
    tables = {"quoted_items": "Quoted_Items", "contacts_x_deals": "Contacts_X_Deals"}
    for table, module in tables.items():
        assert {r["id"] for r in pg_rows(pg_database, table)} == {
            r["id"] for r in sim.records(module)}
    gone = {"quoted_items": sim.records("Quoted_Items")[4]["id"],
            "contacts_x_deals": sim.records("Contacts_X_Deals")[3]["id"]}
    sim.advance_clock(60)
    for table, module in tables.items():
        sim.delete_record(module, gone[table])
    time.sleep(1)  # the stream version is the run's start in seconds
    meltano("run", "tap-zohocrm", "target-postgres", env=env)

    for table, module in tables.items():
        rows = pg_rows(pg_database, table)
        live = {r["id"] for r in rows if not r["_sdc_deleted_at"]}
        assert live == {r["id"] for r in sim.records(module)}, table
        if hard_delete:
            assert {r["id"] for r in rows} == live
        else:
            assert {r["id"] for r in rows if r["_sdc_deleted_at"]} == {gone[table]}
    total = sum(r["Total"] for r in pg_rows(pg_database, "quoted_items")
                if not r["_sdc_deleted_at"])
    assert total == sum(Decimal(str(r["Total"])) for r in sim.records("Quoted_Items"))
    bookmarks = json.loads(meltano("state", "get", STATE_ID, env=env).stdout)[
        "singer_state"]["bookmarks"]
    assert bookmarks["quotes"]["replication_key_value"]  # incremental
    assert not any(bookmarks.get(table, {}).get("replication_key_value") for table in tables)


# --- hard values: every digit and character the loader can hold ------------------------------


def test_postgres_holds_hard_values(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path) -> None:
    """Integers near 2**63, decimals with more digits than a double, booleans sent as text,
    datetimes in other offsets, emoji, right-to-left text and a 60 KB text area land as Zoho
    sent them; NUL (PostgreSQL text cannot hold it) and a lone surrogate as U+FFFD."""
    sim = make_simulator(seed=41, sizes={"Leads": 6})
    ids = sim.seed_hard_values("Leads")
    env = meltano_env(sim, tmp_path, ["Leads"], **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir))
    meltano("run", "tap-zohocrm", "target-postgres", env=env)

    rows = {r["id"]: r for r in pg_rows(pg_database, "leads")}
    assert set(rows) == {r["id"] for r in sim.records("Leads")}
    first, second, third, fourth = (rows[i] for i in ids)
    columns = pg_columns(pg_database, "leads")
    assert (columns["External_Ref_Id"], columns["Weight_Kg"]) == ("bigint", "numeric")
    assert [r["External_Ref_Id"] for r in (first, second, third, fourth)] == [
        2**63 - 1, 2**53 + 1, -(2**63), 2**63 - 2]
    assert [r["Lifetime_Events"] for r in (first, third)] == [2**63 - 1, -(2**63)]
    # The tap writes every digit (tests/tap/test_hard_values.py); with use_copy (shipped)
    # target-postgres 0.8.1 binds numeric values through SQLAlchemy's float processor: a
    # numeric column gets the double.
    decimals = ((0, "Weight_Kg", "12345678901234.567891"),
                (2, "Weight_Kg", "3.14159265358979323846264338327950288"),
                (0, "Budget", "9999999999999999.99"),
                (3, "Budget", "100000000000000000000.5"),
                (1, "Budget", "12345678901234.56"))
    for index, column, sent in decimals:
        assert rows[ids[index]][column] == Decimal(repr(float(sent))), (column, sent)
    assert second["Budget"] == Decimal("12345678901234.56")  # 16 digits: still exact
    assert (first["Is_Partner"], second["Is_Partner"]) == (True, False)
    assert third["Next_Call_At"] == datetime(2025, 3, 4, 9, 59, 59)  # +14:00, held in UTC
    assert first["Next_Call_At"] == datetime(2025, 3, 4, 11, 45, 2)  # +05:30
    assert first["Region_Code"] == "emoji 😀👍🏽 🇯🇵 👨‍👩‍👧 end"
    assert third["Region_Code"] == "שלום עולם — مرحبا بالعالم"
    assert len(first["Description"].encode()) >= 60 * 1024
    assert first["Description"] == LONG_TEXT
    assert second["Region_Code"] == "NUL \ufffd inside"  # the loader's sanitize_null_text_...
    assert fourth["Region_Code"] == "lone \ufffd surrogate"

    # Without COPY, target-postgres keeps every digit (docs/loading.md#column-types-by-loader).
    meltano("run", "--full-refresh", "tap-zohocrm", "target-postgres",
            env=dict(env, TARGET_POSTGRES_USE_COPY="false"))
    rows = {r["id"]: r for r in pg_rows(pg_database, "leads")}
    for index, column, sent in decimals:
        assert rows[ids[index]][column] == Decimal(sent), (column, sent)
