"""Deletes, users and org metadata, subforms and linking modules, notes, attachments (v8, v2)."""

from __future__ import annotations

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config, utc

ORG_STREAMS = {"users", "org", "roles", "profiles", "modules", "fields", "deleted_records"}


@pytest.fixture(params=["v8", "v2"])
def version(request) -> str:
    return request.param


def _sync(sim, streams: set[str], **overrides):
    config = tap_config(sim, full_rich_text=False, **overrides)
    catalog = select_streams(discover(config), streams)
    return run_tap(config, catalog=catalog), catalog


def test_discover_shows_every_new_stream_with_typed_schemas(sim) -> None:
    catalog = discover(tap_config(sim))
    schemas = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    assert ORG_STREAMS | {"attachments", "quoted_items", "contacts_x_deals", "notes"} <= set(
        schemas
    )
    assert schemas["users"]["Modified_Time"]["format"] == "date-time"
    assert schemas["deleted_records"]["deleted_time"]["format"] == "date-time"
    assert schemas["attachments"]["Size"]["type"][0] == "integer"
    assert schemas["quoted_items"]["Quantity"]["type"][0] == "number"
    assert "id" in schemas["quoted_items"]["Parent_Id"]["properties"]


def test_metadata_streams_match_the_org(make_simulator, version) -> None:
    sim = make_simulator(seed=43, sizes={"Leads": 60})
    run, _ = _sync(sim, ORG_STREAMS | {"leads"}, api_version=version)
    users = {u["id"]: u for u in run.records("users")}
    assert set(users) == {u["id"] for u in sim.users()}
    assert {u["status"] for u in users.values()} >= {"active", "disabled", "deleted"}
    assert all(u["Modified_Time"].endswith("+00:00") for u in users.values() if u["Modified_Time"])
    assert len(run.records("org")) == 1 and run.records("org")[0]["company_name"]
    assert len(run.records("roles")) == 5 and len(run.records("profiles")) == 3
    modules = {m["api_name"] for m in run.records("modules")}
    assert {"Leads", "Shipments", "Quoted_Items"} <= modules
    fields = [f for f in run.records("fields") if f["module"] == "Leads"]
    assert len(fields) >= 110
    picklists = [f for f in fields if f["data_type"] == "picklist"]
    assert picklists and all(f["pick_list_values"] for f in picklists)


def test_users_where_zoho_serves_only_the_documented_types(make_simulator, version) -> None:
    """v8's OpenAPI lists neither AllUsers nor DeletedUsers; an org refusing them still gives
    every active and deactivated user, and the run goes on."""
    sim = make_simulator(seed=43, sizes={"Leads": 30}, v8_user_types_only=True)
    run, _ = _sync(sim, {"users", "leads"}, api_version=version)
    users = {u["id"]: u for u in run.records("users")}
    assert run.records("leads")
    if version == "v2":  # every type served: deleted users too, no warning
        assert set(users) == {u["id"] for u in sim.users()}
        assert "Zoho refused users?type" not in run.stderr
        return
    assert set(users) == {u["id"] for u in sim.users() if u["status"] != "deleted"}
    assert "Zoho refused users?type=AllUsers" in run.stderr
    assert "ActiveUsers, DeactiveUsers" in run.stderr
    assert "Zoho refused users?type=DeletedUsers" in run.stderr


def test_deleted_records_stream_is_complete_and_incremental(make_simulator, version) -> None:
    sim = make_simulator(seed=47, sizes={"Leads": 300, "Deals": 80})
    config = tap_config(sim, modules=["Leads", "Deals"], api_version=version)
    catalog = select_streams(discover(config), {"leads", "deals", "deleted_records"})
    first = run_tap(config, catalog=catalog)
    got = {(r["module"], r["id"]) for r in first.records("deleted_records")}
    want = {("Leads", d["id"]) for d in sim.deleted_records("Leads")} | {
        ("Deals", d["id"]) for d in sim.deleted_records("Deals")
    }
    assert got == want and want
    assert all(r["deleted_time"].endswith("+00:00") for r in first.records("deleted_records"))
    gone = [r["id"] for r in sim.records("Leads")[:4]]
    for record_id in gone:
        sim.delete_record("Leads", record_id)
    second = run_tap(config, catalog=catalog, state=first.last_state)
    new = {r["id"] for r in second.records("deleted_records")}
    assert set(gone) <= new
    assert len(new) <= len(gone) + 2  # the bookmark's own second may repeat


def test_delete_markers_on_module_streams(make_simulator) -> None:
    sim = make_simulator(seed=53, sizes={"Leads": 400})
    config = tap_config(sim, modules=["Leads"], emit_deletes=True, full_rich_text=False)
    catalog = select_streams(discover(config), {"leads"})
    first = run_tap(config, catalog=catalog)
    gone = [r["id"] for r in sim.records("Leads")[10:20]]
    for record_id in gone:
        sim.delete_record("Leads", record_id)
    second = run_tap(config, catalog=catalog, state=first.last_state)
    markers = {r["id"]: r for r in second.records("leads") if r.get("_sdc_deleted_at")}
    assert set(gone) <= set(markers)
    deleted = {d["id"]: d for d in sim.deleted_records("Leads")}
    for record_id in gone:
        assert markers[record_id]["_sdc_deleted_at"] == utc(deleted[record_id]["deleted_time"])
    # the bookmark still comes from real records, not from the markers
    assert second.last_state["bookmarks"]["leads"]["replication_key_value"]


def test_subform_rows_and_linking_modules(make_simulator, version) -> None:
    sim = make_simulator(seed=59, sizes={"Quotes": 40, "Contacts": 50, "Deals": 40})
    run, _ = _sync(sim, {"quoted_items", "contacts_x_deals"}, api_version=version)
    rows = run.records("quoted_items")
    assert {r["id"] for r in rows} == {r["id"] for r in sim.records("Quoted_Items", version)}
    quote_ids = {q["id"] for q in sim.records("Quotes")}
    assert rows and all(r["Parent_Id"]["id"] in quote_ids for r in rows)
    links = run.records("contacts_x_deals")
    assert {r["id"] for r in links} == {r["id"] for r in sim.records("Contacts_X_Deals")}


def test_notes_for_admins_and_a_clear_skip_for_others(make_simulator) -> None:
    admin = make_simulator(seed=61)
    run, _ = _sync(admin, {"notes"})
    assert {r["id"] for r in run.records("notes")} == {r["id"] for r in admin.records("Notes")}
    assert all(r["Parent_Id"]["id"] for r in run.records("notes"))
    user = make_simulator(seed=61, user_is_admin=False)
    run, _ = _sync(user, {"notes", "accounts"})
    assert run.returncode == 0
    assert not run.records("notes") and run.records("accounts")
    assert "Skipping stream notes" in run.stderr and "admin" in run.stderr


def test_a_non_admin_token_is_named_once_and_never_stops_the_run(make_simulator,
                                                                   version) -> None:
    admin = make_simulator(seed=61, sizes={"Leads": 30})
    run, _ = _sync(admin, {"leads"}, api_version=version)
    assert "not Administrator" not in run.stderr
    assert "an administrator" in run.stderr
    user = make_simulator(seed=61, sizes={"Leads": 30}, user_is_admin=False)
    run, catalog = _sync(user, {"leads"}, api_version=version)
    warnings = [line for line in run.stderr.splitlines() if "not Administrator" in line]
    assert len(warnings) == 1 and "Self Client of an administrator" in warnings[0]
    assert "Sales Profile" in warnings[0]
    assert [r for r in user.requests() if r["path"].endswith("/users")
            and r["params"].get("type") == "CurrentUser"]
    # Zoho refusing the question (a user without the permission) is no reason to stop.
    user.add_fault(r"/users$", status=403, count=None)
    config = tap_config(user, full_rich_text=False, api_version=version)
    run = run_tap(config, catalog=catalog)
    assert run.records("leads") and "not Administrator" not in run.stderr


def test_attachment_metadata_for_selected_modules(make_simulator, version) -> None:
    sim = make_simulator(seed=67, sizes={"Leads": 200, "Contacts": 80})
    run, _ = _sync(sim, {"leads", "contacts", "attachments"}, api_version=version,
                   attachment_modules=["Leads"])
    got = {a["id"]: a for a in run.records("attachments")}
    want = {a["id"]: a for a in sim.attachments("Leads")}
    assert set(got) == set(want) and want
    for attachment_id, row in got.items():
        assert row["File_Name"] == want[attachment_id]["File_Name"]
        assert row["Size"] == int(want[attachment_id]["Size"])
        assert row["record_id"] == want[attachment_id]["Parent_Id"]["id"]
    assert {a["module"] for a in got.values()} == {"Leads"}


def test_converted_leads_carry_their_converted_ids(make_simulator, version) -> None:
    sim = make_simulator(seed=71, sizes={"Leads": 300})
    run, _ = _sync(sim, {"leads"}, api_version=version)
    leads = run.records("leads")
    assert len(leads) == 300
    if version == "v8":
        converted = [r for r in leads if r.get("Converted__s")]
        assert converted and all(r["Converted_Contact"]["id"] for r in converted)
    else:
        converted = [r for r in leads if r.get("$converted")]
        assert converted and all(r["$converted_detail"].get("contact") for r in converted)


def test_activities_per_version(sim) -> None:
    v2 = {s["tap_stream_id"] for s in discover(tap_config(sim, api_version="v2"))["streams"]}
    v8 = {s["tap_stream_id"] for s in discover(tap_config(sim))["streams"]}
    assert "activities" in v2 and "activities" not in v8
    assert {"tasks", "events", "calls"} <= v8
