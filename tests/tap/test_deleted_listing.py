"""The deleted-records listing: past Zoho's page limit, filtered on deleted_time by the tap, and
no delete markers for records a first sync never emitted."""

from __future__ import annotations

from collections.abc import Callable

from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator


def _deleted_calls(sim: Simulator) -> list[dict]:
    return [r for r in sim.requests() if r["path"].endswith("/Leads/deleted")]


def test_listing_goes_past_the_page_limit(make_simulator: Callable[..., Simulator]) -> None:
    sim = make_simulator(seed=71, sizes={"Leads": 1200}, deleted_page_cap=400)
    ids = [r["id"] for r in sim.records("Leads")]
    for record_id in ids[:350]:
        sim.delete_record("Leads", record_id)
    for record_id in ids[350:650]:
        sim.delete_record("Leads", record_id, permanent=True)
    sim.advance_clock(60)
    sim.delete_record("Leads", ids[660])  # the deleted_records bookmark: a later second
    config = tap_config(sim, modules=["Leads"])
    catalog = select_streams(discover(config), {"leads", "deleted_records"})
    first = run_tap(config, catalog=catalog)
    got = [r["id"] for r in first.records("deleted_records")]
    want = {d["id"] for d in sim.deleted_records("Leads")}
    assert len(got) == len(set(got)) and set(got) == want and len(want) > 650
    assert not any("If-Modified-Since" in r["headers"] for r in _deleted_calls(sim))

    sim.advance_clock(60)
    gone = ids[700:705]
    for record_id in gone:
        sim.delete_record("Leads", record_id)
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=first.last_state)
    # The bookmark's own second comes again (inclusive), nothing older.
    assert {r["id"] for r in second.records("deleted_records")} == {*gone, ids[660]}
    # Newest first: the read stops at the first page that reaches older deletions.
    assert len(_deleted_calls(sim)) == 1


def test_first_sync_emits_no_markers_for_earlier_deletions(
    make_simulator: Callable[..., Simulator],
) -> None:
    sim = make_simulator(seed=53, sizes={"Leads": 400})
    assert sim.deleted_records("Leads")  # the org has deletions from before the first sync
    config = tap_config(sim, modules=["Leads"], emit_deletes=True, full_rich_text=False)
    catalog = select_streams(discover(config), {"leads", "deleted_records"})
    first = run_tap(config, catalog=catalog)
    assert not [r for r in first.records("leads") if r.get("_sdc_deleted_at")]
    listed = {r["id"] for r in first.records("deleted_records")}
    assert listed == {d["id"] for d in sim.deleted_records("Leads")}

    gone = [r["id"] for r in sim.records("Leads")[10:13]]
    for record_id in gone:
        sim.delete_record("Leads", record_id)
    second = run_tap(config, catalog=catalog, state=first.last_state)
    markers = {r["id"] for r in second.records("leads") if r.get("_sdc_deleted_at")}
    assert markers == set(gone)


def test_deleted_records_and_fields_alone_cover_every_module_of_the_catalog(
    make_simulator: Callable[..., Simulator],
) -> None:
    # A catalog that selects these streams and no module stream.
    sim = make_simulator(seed=53, sizes={"Leads": 300, "Contacts": 200})
    config = tap_config(sim, modules=["Leads", "Contacts"], full_rich_text=False)
    catalog = select_streams(discover(config), {"deleted_records", "fields"})
    run = run_tap(config, catalog=catalog)
    listed = {(r["module"], r["id"]) for r in run.records("deleted_records")}
    want = {(module, d["id"]) for module in ("Leads", "Contacts")
            for d in sim.deleted_records(module)}
    assert want and listed == want
    # Contacts' linking module comes with it (its first parent): its fields too.
    assert {r["module"] for r in run.records("fields")} == {"Leads", "Contacts",
                                                            "Contacts_X_Deals"}
    assert run.streams() == {"deleted_records", "fields"}
