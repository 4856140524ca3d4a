"""Deleted rows in PostgreSQL: emit_deletes markers and the deleted-records check (subform rows,
links and hard values: test_warehouse_rows.py; these runs are long, and a file runs on one test
worker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers import (
    meltano,
    meltano_env,
)
from tests.integration.postgres import (
    pg_rows,
    target_postgres_env,
)
from zoho_simulator import Simulator

# --- deletes: emit_deletes flags exactly the deleted rows -------------------------------------


def test_postgres_flags_exactly_the_deleted_leads(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path) -> None:
    sim = make_simulator(seed=37, sizes={"Leads": 200})
    env = meltano_env(sim, tmp_path, ["Leads"], **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir),
                      TAP_ZOHOCRM_EMIT_DELETES="true")
    meltano("run", "tap-zohocrm", "target-postgres", env=env)
    # Deleted before the first run (in the recycle bin at start) are flagged from the start.
    flagged_before = {r["id"] for r in pg_rows(pg_database, "leads") if r["_sdc_deleted_at"]}
    gone = [r["id"] for r in sim.records("Leads")[20:30]]
    for record_id in gone:
        sim.delete_record("Leads", record_id)
    meltano("run", "tap-zohocrm", "target-postgres", env=env)
    rows = pg_rows(pg_database, "leads")
    assert len({r["id"] for r in rows}) == len(rows)
    flagged_now = {r["id"] for r in rows if r["_sdc_deleted_at"]}
    assert flagged_now - flagged_before == set(gone)  # exactly those 10
    live = {r["id"] for r in rows if not r["_sdc_deleted_at"]}
    assert live == {r["id"] for r in sim.records("Leads")}


def test_postgres_flags_deleted_notes_and_purged_records_with_their_last_values(
        make_simulator: Callable[..., Simulator], tmp_path: Path, pg_database: str,
        meltano_sys_dir: Path) -> None:
    """Notes (Zoho lists no deleted Notes) and a lead gone from Zoho's deleted listing are
    flagged by the deleted-records check (a full read ending in ACTIVATE_VERSION), keeping their
    last values; a lead the listing shows gets a delete marker, which nulls its other columns."""
    sim = make_simulator(seed=39, sizes={"Leads": 40, "Notes": 30})
    env = meltano_env(sim, tmp_path, ["Leads", "Notes"], **target_postgres_env(pg_database),
                      MELTANO_SYS_DIR_ROOT=str(meltano_sys_dir),
                      TAP_ZOHOCRM_EMIT_DELETES="true",
                      # Due a second after the last check: every run after the first.
                      TAP_ZOHOCRM_DELETED_ID_CHECK_HOURS="0.0003")
    meltano("run", "tap-zohocrm", "target-postgres", env=env)
    notes = {n["id"] for n in sim.records("Notes")[5:8]}
    listed, purged = (lead["id"] for lead in sim.records("Leads")[10:12])
    sim.advance_clock(60)
    for note in notes:
        sim.delete_record("Notes", note, permanent=True)
    sim.delete_record("Leads", listed)
    sim.delete_record("Leads", purged, permanent=True, unlisted=True)
    sim.advance_clock(60)
    time.sleep(2)  # the check's interval, and a later table version
    meltano("run", "tap-zohocrm", "target-postgres", env=env)

    rows = {r["id"]: r for r in pg_rows(pg_database, "notes")}
    assert {i for i, r in rows.items() if not r["_sdc_deleted_at"]} == {
        n["id"] for n in sim.records("Notes")}
    assert {i for i, r in rows.items() if r["_sdc_deleted_at"]} == notes
    assert all(rows[i]["Note_Content"] and rows[i]["Parent_Id"] for i in notes)
    rows = {r["id"]: r for r in pg_rows(pg_database, "leads")}
    assert {i for i, r in rows.items() if not r["_sdc_deleted_at"]} == {
        lead["id"] for lead in sim.records("Leads")}
    assert rows[purged]["_sdc_deleted_at"] and rows[purged]["Last_Name"]  # kept
    assert rows[listed]["_sdc_deleted_at"] and rows[listed]["Last_Name"] is None  # a marker
