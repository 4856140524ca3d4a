"""Simulator over real HTTP: deleted records, users, org, roles, profiles, the Quoted_Items
subform module, notes and attachments, in v8 and v2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.simulator.tokens import token_headers
from zoho_simulator import Simulator

FULL = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ"
DELETED_KEYS = {"deleted_by", "id", "display_name", "type", "created_by", "deleted_time"}
USER_KEYS = {"id", "first_name", "last_name", "full_name", "email", "status", "role", "profile",
             "time_zone", "locale", "country", "created_time", "Modified_Time", "created_by",
             "Modified_By", "confirm", "zuid"}
ATTACHMENT_KEYS = ["Owner", "Modified_By", "Created_By", "Parent_Id", "id", "Modified_Time",
                   "Created_Time", "File_Name", "Size", "$editable", "$file_id", "$type",
                   "$se_module", "$state", "$link_url"]
QUOTED_ITEM_FIELDS = ["Product_Name", "Quantity", "List_Price", "Discount",
                      "Total_After_Discount", "Tax", "Net_Total", "Total", "Description",
                      "Sequence_Number", "Parent_Id", "Created_Time", "Modified_Time"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=9).start() as s:  # every module at its default size
        yield s


def headers_for(sim: Simulator, scope: str = FULL) -> dict[str, str]:
    return token_headers(sim, scope)


@pytest.fixture(scope="module")
def auth(sim: Simulator) -> dict[str, str]:
    return headers_for(sim)


def get(sim: Simulator, auth: dict[str, str], path: str, headers: dict[str, str] | None = None,
        **params: Any) -> requests.Response:
    return requests.get(f"{sim.url}{path}", params=params, headers={**auth, **(headers or {})},
                        timeout=30)


def code_of(r: requests.Response) -> str:
    return str(r.json()["code"])


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ------------------------------------------------------------------ deleted records
@pytest.mark.parametrize("version", ["v8", "v2"])
def test_deleted_records_shape_order_and_filters(sim: Simulator, auth: dict[str, str],
                                                 version: str) -> None:
    path = f"/crm/{version}/Leads/deleted"
    r = get(sim, auth, path)
    assert r.status_code == 200
    body = r.json()
    rows = body["data"]
    assert body["info"] == {"per_page": 200, "count": len(rows), "page": 1,
                            "more_records": False}
    assert 3 <= len(rows) <= 6 and rows == sim.deleted_records("Leads")
    users = {u["id"]: u["full_name"] for u in sim.users()}
    for row in rows:
        assert set(row) == DELETED_KEYS
        assert row["type"] in ("recycle", "permanent") and row["id"].isdigit()
        assert row["deleted_time"][-6:] in ("-07:00", "-08:00")
        assert users[row["created_by"]["id"]] == row["created_by"]["name"]
        if row["deleted_by"] is not None:
            assert users[row["deleted_by"]["id"]] == row["deleted_by"]["name"]
    times = [ts(row["deleted_time"]) for row in rows]
    assert times == sorted(times, reverse=True)  # newest first by default
    asc = get(sim, auth, path, sort_order="asc").json()["data"]
    assert [x["id"] for x in asc] == [x["id"] for x in reversed(rows)]
    for kind in ("recycle", "permanent"):
        got = get(sim, auth, path, type=kind)
        expected = [x for x in rows if x["type"] == kind]
        assert (got.json()["data"] if got.status_code == 200 else []) == expected
    assert get(sim, auth, path, type="all").json()["data"] == rows
    # Pagination
    first = get(sim, auth, path, per_page=2).json()
    assert first["data"] == rows[:2] and first["info"]["more_records"] is True
    assert first["info"]["count"] == 2 and first["info"]["per_page"] == 2
    second = get(sim, auth, path, per_page=2, page=2).json()
    assert second["data"] == rows[2:4] and second["info"]["page"] == 2
    assert get(sim, auth, path, page=2).status_code == 204
    # If-Modified-Since: deleted_time >= the header (inclusive); 304 when nothing is left
    pivot = rows[1]["deleted_time"]
    got = get(sim, auth, path, headers={"If-Modified-Since": pivot}).json()["data"]
    assert got == rows[:2]
    r = get(sim, auth, path, headers={"If-Modified-Since": "2030-01-01T00:00:00Z"})
    assert r.status_code == 304 and r.content == b""
    for bad in ({"type": "trash"}, {"per_page": "201"}, {"sort_order": "up"}, {"page": "0"}):
        r = get(sim, auth, path, **bad)
        assert r.status_code == 400 and code_of(r) == "INVALID_DATA", bad


def test_deleted_records_modules(sim: Simulator, auth: dict[str, str]) -> None:
    for module in ("Leads", "Contacts", "Accounts", "Deals", "Tasks", "Events", "Calls",
                   "Products", "Price_Books", "Quotes", "Shipments"):
        assert get(sim, auth, f"/crm/v8/{module}/deleted").status_code == 200, module
    # Not in the documented list of modules: Notes, linking and subform modules
    for module in ("Notes", "Contacts_X_Deals", "Quoted_Items"):
        r = get(sim, auth, f"/crm/v8/{module}/deleted")
        assert r.status_code == 400 and code_of(r) == "INVALID_MODULE", module
    assert get(sim, auth, "/crm/v8/Invoices/deleted").status_code == 403
    assert code_of(get(sim, auth, "/crm/v8/Activities/deleted")) == "INVALID_MODULE"
    union = get(sim, auth, "/crm/v2/Activities/deleted").json()["data"]
    parts = [r for m in ("Tasks", "Events", "Calls") for r in sim.deleted_records(m)]
    assert {r["id"] for r in union} == {r["id"] for r in parts}
    restricted = headers_for(sim, "ZohoCRM.modules.contacts.READ")
    assert get(sim, restricted, "/crm/v8/Contacts/deleted").status_code == 200
    r = get(sim, restricted, "/crm/v8/Leads/deleted")
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"


def test_an_unlisted_delete_leaves_no_trace() -> None:
    """`unlisted`: a record gone as a deletion older than Zoho keeps, or a Note (Zoho lists no
    deleted Notes): absent from the module, `/deleted` and the recycle bin."""
    with Simulator(seed=4, sizes={"Leads": 20}).start() as s:
        auth = headers_for(s)
        lead = s.records("Leads")[3]["id"]
        before = [r["id"] for r in s.deleted_records("Leads")]
        requests.delete(f"{s.url}/__sim/records/Leads/{lead}", params={"unlisted": "true"},
                        timeout=10).raise_for_status()
        assert lead not in {r["id"] for r in s.records("Leads")}
        assert [r["id"] for r in s.deleted_records("Leads")] == before
        answer = get(s, auth, "/crm/v8/settings/recycle_bin")
        entries = answer.json()["recycle_bin"] if answer.status_code == 200 else []
        assert lead not in {e["id"] for e in entries}


def test_delete_permanent_and_purge() -> None:
    with Simulator(seed=4, sizes={"Leads": 200}).start() as s:
        auth = headers_for(s)
        leads = s.records("Leads")
        with_att = {a["Parent_Id"]["id"] for a in s.attachments("Leads")}
        a, b = [r for r in leads if r["id"] in with_att][:2]
        before = s.deleted_records("Leads")
        s.delete_record("Leads", a["id"])
        s.delete_record("Leads", b["id"], permanent=True)
        rows = get(s, auth, "/crm/v8/Leads/deleted").json()["data"]
        assert [r["id"] for r in rows[:2]] in ([a["id"], b["id"]], [b["id"], a["id"]])
        got = {r["id"]: r for r in rows}
        assert got[a["id"]]["type"] == "recycle" and got[b["id"]]["type"] == "permanent"
        assert got[a["id"]]["display_name"] == a["Full_Name"]
        assert got[a["id"]]["created_by"] == {"name": a["Created_By"]["name"],
                                              "id": a["Created_By"]["id"]}
        assert got[a["id"]]["deleted_by"] == {"name": "Patricia Boyle",
                                              "id": "5725767000000374001"}
        # The record, and its attachments, are gone from the module
        assert get(s, auth, f"/crm/v8/Leads/{a['id']}").status_code == 204
        assert a["id"] not in {x["Parent_Id"]["id"] for x in s.attachments("Leads")}
        r = get(s, auth, f"/crm/v8/Leads/{a['id']}/Attachments", fields="File_Name")
        assert r.status_code == 204
        # A recycle-bin entry can be deleted permanently; purging empties the recycle bin
        s.delete_record("Leads", a["id"], permanent=True)
        assert {r["id"]: r["type"] for r in s.deleted_records("Leads")}[a["id"]] == "permanent"
        recycled = sum(r["type"] == "recycle" for r in before)
        assert s.purge_recycle_bin("Leads") == recycled
        assert get(s, auth, "/crm/v8/Leads/deleted", type="recycle").status_code == 204
        perm = get(s, auth, "/crm/v8/Leads/deleted", type="permanent").json()["data"]
        assert len(perm) == len(before) + 2
        # Purged entries are dated by the purge, so an incremental read sees them again
        newest = perm[0]["deleted_time"]
        again = get(s, auth, "/crm/v8/Leads/deleted",
                    headers={"If-Modified-Since": newest}).json()["data"]
        # (the purge's second, which may also hold a's and b's deletes on a fast machine)
        at_or_after = [r for r in perm if datetime.fromisoformat(r["deleted_time"])
                       >= datetime.fromisoformat(newest)]
        assert len(again) == len(at_or_after) >= recycled
        with pytest.raises(KeyError):
            s.delete_record("Leads", a["id"])
        # Control API
        c = s.records("Leads")[0]["id"]
        assert requests.delete(f"{s.url}/__sim/records/Leads/{c}",
                               params={"permanent": "true"}, timeout=10).status_code == 200
        ctl = requests.get(f"{s.url}/__sim/deleted/Leads", timeout=10).json()["data"]
        assert ctl[0]["id"] == c and ctl[0]["type"] == "permanent"
        assert requests.post(f"{s.url}/__sim/recycle_bin/Leads/purge",
                             timeout=10).json() == {"purged": 0}


# ------------------------------------------------------------------ users
def test_users_types_and_shape(sim: Simulator, auth: dict[str, str]) -> None:
    everyone = sim.users()
    assert len(everyone) == 12
    r = get(sim, auth, "/crm/v8/users")
    body = r.json()
    assert r.status_code == 200 and set(body) == {"users", "info"}
    assert body["info"] == {"per_page": 200, "count": 11, "page": 1, "more_records": False}
    for u in body["users"]:
        assert set(u) >= USER_KEYS
        assert set(u["role"]) == {"name", "id"} and set(u["profile"]) == {"name", "id"}
        assert u["created_time"][-6:] in ("-07:00", "-08:00")
        assert u["Modified_Time"][-6:] in ("-07:00", "-08:00")
        assert "/" in u["time_zone"]  # IANA
    statuses = {u["status"] for u in everyone}
    assert statuses == {"active", "disabled", "deleted"}

    def ids(kind: str, version: str = "v8") -> list[str]:
        res = get(sim, auth, f"/crm/{version}/users", type=kind)
        return [u["id"] for u in res.json()["users"]] if res.status_code == 200 else []

    by_status = {s: [u["id"] for u in everyone if u["status"] == s] for s in statuses}
    assert ids("AllUsers") == [u["id"] for u in everyone if u["status"] != "deleted"]
    assert ids("ActiveUsers") == by_status["active"]
    assert len(ids("DeactiveUsers")) == 2 and ids("DeactiveUsers") == by_status["disabled"]
    assert len(ids("DeletedUsers")) == 1 and ids("DeletedUsers") == by_status["deleted"]
    admins = [u for u in everyone if u["profile"]["name"] == "Administrator"]
    assert ids("AdminUsers") == [u["id"] for u in admins] and len(admins) == 2
    assert ids("NotConfirmedUsers") == [u["id"] for u in everyone if not u["confirm"]]
    assert set(ids("ActiveConfirmedUsers")) < set(ids("ActiveUsers"))
    assert set(ids("ConfirmedUsers")) | set(ids("NotConfirmedUsers")) == set(ids("AllUsers"))
    assert ids("ActiveConfirmedAdmins") == [u["id"] for u in admins if u["status"] == "active"]
    me = get(sim, auth, "/crm/v8/users", type="CurrentUser").json()["users"]
    assert [u["full_name"] for u in me] == ["Patricia Boyle"]
    assert ids("AllUsers", "v2") == ids("AllUsers")
    v2 = get(sim, auth, "/crm/v2/users", type="DeactiveUsers").json()["users"]
    assert {u["status"] for u in v2} == {"disabled"}
    r = get(sim, auth, "/crm/v8/users", type="Everyone")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    # Single user
    one = get(sim, auth, f"/crm/v8/users/{everyone[3]['id']}").json()["users"]
    assert one == [everyone[3]]
    assert get(sim, auth, "/crm/v8/users/5725767999999999999").status_code == 204


def test_users_paging_ids_and_if_modified_since(sim: Simulator, auth: dict[str, str]) -> None:
    pages = [get(sim, auth, "/crm/v8/users", per_page=5, page=p).json() for p in (1, 2, 3)]
    assert [p["info"]["count"] for p in pages] == [5, 5, 1]
    assert [p["info"]["more_records"] for p in pages] == [True, True, False]
    all_ids = [u["id"] for p in pages for u in p["users"]]
    assert all_ids == [u["id"] for u in get(sim, auth, "/crm/v8/users").json()["users"]]
    assert get(sim, auth, "/crm/v8/users", per_page=5, page=4).status_code == 204
    r = get(sim, auth, "/crm/v8/users", per_page=201)
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    picked = get(sim, auth, "/crm/v8/users", ids=",".join(all_ids[:3])).json()["users"]
    assert [u["id"] for u in picked] == all_ids[:3]
    everyone = sim.users()
    stamps = sorted(ts(u["Modified_Time"]) for u in everyone if u["status"] != "deleted")
    pivot = stamps[len(stamps) // 2]
    got = get(sim, auth, "/crm/v8/users",
              headers={"If-Modified-Since": pivot.isoformat()}).json()["users"]
    assert {u["id"] for u in got} == {u["id"] for u in everyone if u["status"] != "deleted"
                                      and ts(u["Modified_Time"]) >= pivot}
    r = get(sim, auth, "/crm/v8/users", headers={"If-Modified-Since": "2030-01-01T00:00:00Z"})
    assert r.status_code == 304


def test_users_scope_and_record_owners(sim: Simulator, auth: dict[str, str]) -> None:
    for scope in ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL", "ZohoCRM.org.READ"):
        r = get(sim, headers_for(sim, scope), "/crm/v8/users")
        assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH", scope
    for scope in ("ZohoCRM.users.READ", "ZohoCRM.users.ALL"):
        assert get(sim, headers_for(sim, scope), "/crm/v8/users").status_code == 200
    users = {u["id"]: u for u in sim.users()}
    owners: set[str] = set()
    for module in ("Leads", "Contacts", "Deals", "Notes", "Shipments"):
        for rec in sim.records(module):
            for key in ("Owner", "Created_By", "Modified_By"):
                ref = rec[key]
                assert users[ref["id"]]["full_name"] == ref["name"], (module, key)
                assert users[ref["id"]]["email"] == ref["email"]
                owners.add(ref["id"])
    # Records may belong to a deactivated user, never to a deleted one
    assert {users[i]["status"] for i in owners} == {"active", "disabled"}


def test_non_admin_user() -> None:
    with Simulator(seed=3, sizes={"Leads": 5}, user_is_admin=False).start() as s:
        auth = headers_for(s)
        me = get(s, auth, "/crm/v8/users", type="CurrentUser").json()["users"][0]
        assert me["profile"]["name"] != "Administrator"
        for version in ("v8", "v2"):
            r = get(s, auth, f"/crm/{version}/Notes", fields="Note_Title")
            assert r.status_code == 403 and r.json() == {
                "code": "NOT_SUPPORTED", "details": {},
                "message": "This API is supported only for admin users", "status": "error"}
        note = s.records("Notes")[0]
        # Only the org-wide list is admin-only (v7 Get Notes): a single note is readable.
        assert get(s, auth, f"/crm/v8/Notes/{note['id']}").status_code == 200
        lead = s.records("Leads")[0]["id"]
        s.update_record("Leads", lead)
        assert s.records("Leads")[0]["Modified_By"]["id"] == me["id"]


# ------------------------------------------------------------------ org, roles, profiles
@pytest.mark.parametrize("version", ["v8", "v2"])
def test_org(sim: Simulator, auth: dict[str, str], version: str) -> None:
    r = get(sim, auth, f"/crm/{version}/org")
    assert r.status_code == 200 and list(r.json()) == ["org"]
    orgs = r.json()["org"]
    assert len(orgs) == 1
    org = orgs[0]
    for key in ("id", "company_name", "time_zone", "currency", "iso_code", "currency_symbol",
                "country", "primary_email", "zgid", "primary_zuid", "type", "license_details",
                "max_per_page"):
        assert key in org, key
    assert org["type"] == "Production" and org["max_per_page"] == 200
    assert set(org["license_details"]) >= {"paid_type", "trial_type", "users_license_purchased",
                                           "paid", "paid_expiry"}
    admin = next(u for u in sim.users() if u["email"] == org["primary_email"])
    assert admin["zuid"] == org["primary_zuid"]
    for scope, status in (("ZohoCRM.org.READ", 200), ("ZohoCRM.org.ALL", 200),
                          ("ZohoCRM.settings.ALL", 200), ("ZohoCRM.modules.ALL", 401),
                          ("ZohoCRM.users.READ", 401)):
        assert get(sim, headers_for(sim, scope), f"/crm/{version}/org").status_code == status


@pytest.mark.parametrize("version", ["v8", "v2"])
def test_roles_and_profiles(sim: Simulator, auth: dict[str, str], version: str) -> None:
    roles = get(sim, auth, f"/crm/{version}/settings/roles").json()["roles"]
    profiles = get(sim, auth, f"/crm/{version}/settings/profiles").json()["profiles"]
    role_ids = {r["id"] for r in roles}
    for role in roles:
        assert {"id", "name", "display_label", "reporting_to", "admin_user", "share_with_peers",
                "description", "forecast_manager"} <= set(role)
        if role["reporting_to"] is not None:
            assert role["reporting_to"]["id"] in role_ids
    assert [r["name"] for r in roles if r["reporting_to"] is None] == ["CEO"]
    assert ("created_time__s" in roles[0]) == (version == "v8")
    for profile in profiles:
        assert {"id", "name", "display_label", "description", "default", "custom",
                "created_time", "modified_time", "created_by", "modified_by",
                "category"} <= set(profile)
    assert {p["name"] for p in profiles} >= {"Administrator", "Standard"}
    assert [p["name"] for p in profiles if p["default"]] == ["Standard"]
    names = {p["id"]: p["name"] for p in profiles}
    role_names = {r["id"]: r["name"] for r in roles}
    for user in sim.users():  # every user's role and profile exist
        assert names[user["profile"]["id"]] == user["profile"]["name"]
        assert role_names[user["role"]["id"]] == user["role"]["name"]
    one = get(sim, auth, f"/crm/{version}/settings/roles/{roles[1]['id']}").json()
    assert one == {"roles": [roles[1]]}
    assert get(sim, auth, f"/crm/{version}/settings/profiles/1").status_code == 204
    hdr = headers_for(sim, "ZohoCRM.settings.roles.READ")
    assert get(sim, hdr, f"/crm/{version}/settings/roles").status_code == 200
    r = get(sim, hdr, f"/crm/{version}/settings/profiles")
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"
    hdr = headers_for(sim, "ZohoCRM.settings.profiles.READ")
    assert get(sim, hdr, f"/crm/{version}/settings/profiles").status_code == 200


# ------------------------------------------------------------------ subform module
def test_subform_module_metadata(sim: Simulator, auth: dict[str, str]) -> None:
    for version in ("v8", "v2"):
        mods = {m["api_name"]: m for m in
                get(sim, auth, f"/crm/{version}/settings/modules").json()["modules"]}
        qi = mods["Quoted_Items"]
        assert qi["generated_type"] == "subform" and qi["api_supported"] is True
        assert qi["parent_module"]["api_name"] == "Quotes"
    fields = {f["api_name"]: f for f in get(sim, auth, "/crm/v8/settings/fields",
                                            module="Quoted_Items").json()["fields"]}
    expect = {"Product_Name": "lookup", "Quantity": "double", "List_Price": "currency",
              "Discount": "currency", "Total": "formula", "Description": "textarea",
              "Parent_Id": "lookup", "id": "bigint", "Created_Time": "datetime",
              "Modified_Time": "datetime"}
    assert {k: fields[k]["data_type"] for k in expect} == expect
    assert fields["Total"]["formula"]["return_type"] == "currency"
    assert fields["Parent_Id"]["lookup"]["module"]["api_name"] == "Quotes"
    assert fields["Product_Name"]["lookup"]["module"]["api_name"] == "Products"
    quotes = {f["api_name"]: f for f in get(sim, auth, "/crm/v8/settings/fields",
                                            module="Quotes").json()["fields"]}
    assert quotes["Quoted_Items"]["subform"]["module"]["api_name"] == "Quoted_Items"


def test_subform_rows_list_and_single_record_agree(sim: Simulator, auth: dict[str, str]) -> None:
    rows = sim.records("Quoted_Items")
    assert rows and len(rows) >= len(sim.records("Quotes"))
    listed: list[dict[str, Any]] = []
    page = 1
    while True:
        body = get(sim, auth, "/crm/v8/Quoted_Items", fields=",".join(QUOTED_ITEM_FIELDS),
                   per_page=25, page=page, sort_by="id", sort_order="asc").json()
        listed += body["data"]
        if not body["info"]["more_records"]:
            break
        page += 1
    assert listed == rows  # sim.records returns id order
    quote_ids = {q["id"] for q in sim.records("Quotes")}
    for row in listed:
        assert set(row["Parent_Id"]) == {"name", "id"} and row["Parent_Id"]["id"] in quote_ids
        assert set(row) == {*QUOTED_ITEM_FIELDS, "id"}  # no record-level $ keys
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for row in listed:
        by_parent.setdefault(row["Parent_Id"]["id"], []).append(row)
    for quote in sim.records("Quotes")[:10]:
        single = get(sim, auth, f"/crm/v8/Quotes/{quote['id']}").json()["data"][0]
        expected = sorted(by_parent[quote["id"]], key=lambda r: r["Sequence_Number"])
        assert single["Quoted_Items"] == expected
        assert all(r["Parent_Id"]["name"] == quote["Subject"] for r in expected)
    # Same rules as any module: fields mandatory from v3, capped, If-Modified-Since, v2 all
    r = get(sim, auth, "/crm/v8/Quoted_Items")
    assert r.status_code == 400 and code_of(r) == "REQUIRED_PARAM_MISSING"
    v2 = get(sim, auth, "/crm/v2/Quoted_Items", per_page=3).json()
    assert set(v2["data"][0]) == set(QUOTED_ITEM_FIELDS) | {"id"}
    assert "next_page_token" not in v2["info"]
    stamps = sorted(ts(r["Modified_Time"]) for r in rows)
    pivot = stamps[len(stamps) // 2]
    got = get(sim, auth, "/crm/v8/Quoted_Items", headers={"If-Modified-Since": pivot.isoformat()},
              fields="Modified_Time", sort_by="Modified_Time", sort_order="asc").json()["data"]
    assert [r["id"] for r in got] == [r["id"] for r in sorted(
        (r for r in rows if ts(r["Modified_Time"]) >= pivot),
        key=lambda r: (ts(r["Modified_Time"]), int(r["id"])))]
    count = get(sim, auth, "/crm/v8/Quoted_Items/actions/count").json()["count"]
    assert count == str(len(rows))  # a string, as record.json says
    # The parent module's scope is enough for its subform
    hdr = headers_for(sim, "ZohoCRM.modules.quotes.READ")
    assert get(sim, hdr, "/crm/v8/Quoted_Items", fields="Quantity").status_code == 200
    r = get(sim, headers_for(sim, "ZohoCRM.modules.leads.READ"), "/crm/v8/Quoted_Items",
            fields="Quantity")
    assert r.status_code == 401


def test_subform_rows_follow_their_parent() -> None:
    with Simulator(seed=5, sizes={"Leads": 5, "Quotes": 6}).start() as s:
        auth = headers_for(s)
        quote = s.create_record("Quotes", {"Subject": "Ørsted renewal"})
        single = get(s, auth, f"/crm/v8/Quotes/{quote['id']}").json()["data"][0]
        assert single["Quoted_Items"]
        new_ids = {r["id"] for r in single["Quoted_Items"]}
        assert new_ids <= {r["id"] for r in s.records("Quoted_Items")}
        row = single["Quoted_Items"][0]
        assert row["Created_Time"] == quote["Created_Time"]
        s.delete_record("Quotes", quote["id"])
        assert not new_ids & {r["id"] for r in s.records("Quoted_Items")}
        with pytest.raises(KeyError):
            s.create_record("Quoted_Items")


@pytest.mark.parametrize(("module", "parent_module", "parent_key"), [
    ("Quoted_Items", "Quotes", "Parent_Id"),  # a line item: an edit of its quote
    ("Contacts_X_Deals", "Contacts", "Contacts"),  # a link: an edit of the multi-select lookup
])
def test_subform_row_and_link_deleted_by_control(module: str, parent_module: str,
                                                 parent_key: str) -> None:
    """Removed by a control call: gone from Get Records, the parent record edited, and not
    listed anywhere a deletion of an ordinary record is (Zoho lists none for these modules)."""
    with Simulator(seed=6, sizes={"Leads": 5, "Quotes": 6}).start() as s:
        auth = headers_for(s)
        row = s.records(module)[0]
        parent_id = row[parent_key]["id"]
        before = next(r for r in s.records(parent_module) if r["id"] == parent_id)
        s.advance_clock(60)
        r = requests.delete(f"{s.url}/__sim/records/{module}/{row['id']}", timeout=10)
        assert r.status_code == 200
        listed = get(s, auth, f"/crm/v8/{module}", fields="Modified_Time", per_page=200,
                     approved="both").json()
        assert row["id"] not in {r["id"] for r in listed["data"]}
        assert len(listed["data"]) == len(s.records(module))
        after = next(r for r in s.records(parent_module) if r["id"] == parent_id)
        assert ts(after["Modified_Time"]) > ts(before["Modified_Time"])
        assert s.deleted_records(module) == []
        r = get(s, auth, f"/crm/v8/{module}/deleted")
        assert r.status_code == 400 and code_of(r) == "INVALID_MODULE"
        assert parent_id not in {d["id"] for d in s.deleted_records(parent_module)}


# ------------------------------------------------------------------ notes
def test_notes_shape_and_order(sim: Simulator, auth: dict[str, str]) -> None:
    fields = "Note_Title,Note_Content,Parent_Id,Owner,Created_Time,Modified_Time"
    body = get(sim, auth, "/crm/v8/Notes", fields=fields).json()
    notes = body["data"]
    assert len(notes) == len(sim.records("Notes"))
    assert body["info"]["sort_order"] == "asc"
    assert [int(n["id"]) for n in notes] == sorted(int(n["id"]) for n in notes)  # oldest first
    for n in notes:
        parent = n["Parent_Id"]
        assert set(parent) == {"name", "id", "module"}
        assert n["$se_module"] == parent["module"]["api_name"]
        assert parent["module"]["api_name"] in ("Leads", "Contacts", "Accounts", "Deals")
        assert set(n["Owner"]) == {"name", "id", "email"}
        assert n["Note_Content"] and "$approved" not in n and n["$voice_note"] is False
        assert n["Created_Time"][-6:] in ("-07:00", "-08:00")
    parents = {m: {r["id"]: r for r in sim.records(m)} for m in ("Leads", "Contacts",
                                                                   "Accounts", "Deals")}
    for n in notes:
        assert n["Parent_Id"]["id"] in parents[n["$se_module"]]
    desc = get(sim, auth, "/crm/v8/Notes", fields="Note_Title", sort_order="desc").json()
    assert [n["id"] for n in desc["data"]] == [n["id"] for n in reversed(notes)]
    v2 = get(sim, auth, "/crm/v2/Notes").json()["data"]
    assert all(set(n["Parent_Id"]) == {"name", "id"} and n["$se_module"] for n in v2)
    assert {n["id"] for n in v2} == {n["id"] for n in notes}


# ------------------------------------------------------------------ attachments
def test_attachments_seeded_and_listed(sim: Simulator, auth: dict[str, str]) -> None:
    for module in ("Leads", "Contacts", "Deals"):
        recs = sim.records(module)
        atts = sim.attachments(module)
        per_parent: dict[str, int] = {}
        for a in atts:
            per_parent[a["Parent_Id"]["id"]] = per_parent.get(a["Parent_Id"]["id"], 0) + 1
        assert 0.04 * len(recs) <= len(per_parent) <= 0.18 * len(recs), module
        assert set(per_parent.values()) <= {1, 2, 3}
        assert set(per_parent) <= {r["id"] for r in recs}
    assert sim.attachments("Accounts") == []
    atts = sim.attachments("Leads")
    parent = max({a["Parent_Id"]["id"] for a in atts},
                 key=lambda p: sum(a["Parent_Id"]["id"] == p for a in atts))
    mine = [a for a in atts if a["Parent_Id"]["id"] == parent]
    for version in ("v8", "v2"):
        r = get(sim, auth, f"/crm/{version}/Leads/{parent}/Attachments",
                fields=",".join(ATTACHMENT_KEYS))
        body = r.json()
        assert r.status_code == 200
        assert sorted(body["data"], key=lambda a: int(a["id"])) == mine
        times = [ts(a["Created_Time"]) for a in body["data"]]
        assert times == sorted(times, reverse=True)  # newest first
        for a in body["data"]:
            assert list(a) == ATTACHMENT_KEYS
            assert isinstance(a["Size"], str) and a["Size"].isdigit()
            assert a["$type"] == "Attachment" and a["$se_module"] == "Leads"
            assert set(a["Owner"]) == {"name", "id", "email"}
            assert set(a["Parent_Id"]) == {"name", "id"} and a["Parent_Id"]["id"] == parent
        info = body["info"]
        assert info["count"] == len(mine) and info["more_records"] is False
        if version == "v8":
            assert info["next_page_token"] is None and info["page_token_expiry"] is None
        else:
            assert set(info) == {"per_page", "count", "page", "more_records"}
    # fields: only the named keys (and id) come back
    few = get(sim, auth, f"/crm/v8/Leads/{parent}/Attachments", fields="File_Name,Size").json()
    assert all(set(a) == {"File_Name", "Size", "id"} for a in few["data"])
    r = get(sim, auth, f"/crm/v8/Leads/{parent}/Attachments")
    assert r.status_code == 400 and code_of(r) == "REQUIRED_PARAM_MISSING"
    v2 = get(sim, auth, f"/crm/v2/Leads/{parent}/Attachments").json()["data"]
    assert all(list(a) == ATTACHMENT_KEYS for a in v2)
    r = get(sim, auth, f"/crm/v8/Leads/{parent}/Attachments", fields="File_Name,Bogus")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    one = get(sim, auth, f"/crm/v8/Leads/{parent}/Attachments", fields="File_Name",
              ids=mine[0]["id"]).json()["data"]
    assert [a["id"] for a in one] == [mine[0]["id"]]
    if len(mine) > 1:
        paged = get(sim, auth, f"/crm/v8/Leads/{parent}/Attachments", fields="File_Name",
                    per_page=1).json()
        assert paged["info"]["more_records"] is True and paged["info"]["count"] == 1
    bare = next(r["id"] for r in sim.records("Leads") if r["id"] not in
                {a["Parent_Id"]["id"] for a in atts})
    r = get(sim, auth, f"/crm/v8/Leads/{bare}/Attachments", fields="File_Name")
    assert r.status_code == 204 and r.content == b""
    r = get(sim, auth, "/crm/v8/Leads/5725767999999999999/Attachments", fields="File_Name")
    assert r.status_code == 204


def test_attachments_errors_and_scope(sim: Simulator, auth: dict[str, str]) -> None:
    parent = sim.attachments("Contacts")[0]["Parent_Id"]["id"]
    path = f"/crm/v8/Contacts/{parent}/Attachments"
    hdr = headers_for(sim, "ZohoCRM.modules.contacts.READ")
    r = get(sim, hdr, path, fields="File_Name")
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"
    hdr = headers_for(sim, "ZohoCRM.modules.contacts.READ,ZohoCRM.modules.attachments.READ")
    assert get(sim, hdr, path, fields="File_Name").status_code == 200
    hdr = headers_for(sim, "ZohoCRM.modules.attachments.READ")
    assert get(sim, hdr, path, fields="File_Name").status_code == 401
    link = sim.records("Contacts_X_Deals")[0]["id"]
    r = get(sim, auth, f"/crm/v8/Contacts_X_Deals/{link}/Attachments", fields="File_Name")
    assert r.status_code == 400 and code_of(r) == "INVALID_MODULE"
    r = get(sim, auth, "/crm/v8/Invoices/1/Attachments", fields="File_Name")
    assert r.status_code == 403 and code_of(r) == "NO_PERMISSION"
    r = get(sim, auth, "/crm/v8/Contacts/abc/Attachments", fields="File_Name")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    # Zoho has no org-wide attachments list: Attachments is not a module
    r = get(sim, auth, "/crm/v8/Attachments", fields="File_Name")
    assert r.status_code == 400 and code_of(r) == "INVALID_MODULE"


def test_add_attachment() -> None:
    with Simulator(seed=8, sizes={"Leads": 30}).start() as s:
        auth = headers_for(s)
        lead = s.records("Leads")[0]["id"]
        att = s.add_attachment("Leads", lead, {"File_Name": "Angebot-Müller.pdf"})
        assert att["Created_Time"] == att["Modified_Time"] and att["File_Name"].startswith("A")
        assert att["Owner"]["name"] == "Patricia Boyle"
        got = get(s, auth, f"/crm/v8/Leads/{lead}/Attachments", fields="File_Name").json()
        assert got["data"][0] == {"File_Name": "Angebot-Müller.pdf", "id": att["id"]}
        ctl = requests.post(f"{s.url}/__sim/attachments/Leads/{lead}", json={}, timeout=10)
        assert ctl.status_code == 201 and ctl.json()["data"]["Parent_Id"]["id"] == lead
        listed = requests.get(f"{s.url}/__sim/attachments/Leads", timeout=10).json()["data"]
        assert listed == s.attachments("Leads")


# ------------------------------------------------------------------ stats, determinism
def test_stats_count_new_endpoints(sim: Simulator, auth: dict[str, str]) -> None:
    parent = sim.attachments("Leads")[0]["Parent_Id"]["id"]
    calls = [("/crm/v8/users", {}), ("/crm/v2/users", {}), ("/crm/v8/org", {}),
             ("/crm/v8/settings/roles", {}), ("/crm/v8/settings/profiles", {}),
             ("/crm/v8/Notes", {"fields": "Note_Title"}),
             ("/crm/v8/Quoted_Items", {"fields": "Quantity"}),
             (f"/crm/v8/Leads/{parent}/Attachments", {"fields": "File_Name"}),
             ("/crm/v8/Leads/deleted", {}), ("/crm/v2/Contacts/deleted", {})]
    sim.reset_stats()
    for path, params in calls:
        assert get(sim, auth, path, **params).status_code == 200, path
    st = sim.stats()
    assert st["api_calls"] == len(calls)
    assert st["credits_used"] == len(calls) + 2  # deleted records: 2 credits each
    assert st["by_endpoint"] == {f"GET {p}": 1 for p, _ in calls}


def test_deterministic() -> None:
    a, b = Simulator(seed=13), Simulator(seed=13)
    for module in ("Leads", "Quotes", "Shipments"):
        assert a.deleted_records(module) == b.deleted_records(module)
    assert a.attachments("Deals") == b.attachments("Deals")
    assert a.records("Quoted_Items") == b.records("Quoted_Items")
    assert a.users() == b.users() == Simulator(seed=14, sizes={"Leads": 3}).users()
    assert a.deleted_records("Leads") != Simulator(seed=14).deleted_records("Leads")


def test_v8_user_types_only_switch() -> None:
    with Simulator(seed=3, sizes={"Leads": 5}, v8_user_types_only=True).start() as s:
        tok = requests.post(f"{s.url}/oauth/v2/token", data={
            **{k: v for k, v in s.credentials.items()}, "grant_type": "refresh_token"},
            timeout=30).json()["access_token"]
        headers = {"Authorization": f"Zoho-oauthtoken {tok}"}

        def status(version: str, kind: str) -> int:
            return requests.get(f"{s.url}/crm/{version}/users", params={"type": kind},
                                headers=headers, timeout=30).status_code

        assert status("v8", "AllUsers") == status("v8", "DeletedUsers") == 400
        assert status("v8", "ActiveUsers") == status("v8", "CurrentUser") == 200
        assert status("v7", "AllUsers") == status("v7", "DeletedUsers") == 200
        s.set_config(v8_user_types_only=False)
        assert status("v8", "AllUsers") == 200


def test_computed_values_change_without_modified_time(make_simulator) -> None:
    sim = make_simulator(seed=3)
    before = {m: {r["id"]: r for r in sim.records(m)} for m in ("Leads", "Contacts")}
    changed = requests.post(f"{sim.url}/__sim/computed_values",
                            json={"seed": 4, "renamed_records": 3, "renamed_users": 1},
                            timeout=30).json()
    assert changed["recomputed"]["Leads"] == len(before["Leads"])
    user = changed["renamed_users"][0]
    assert next(u for u in sim.users() if u["id"] == user["id"])["full_name"] == user["name"]
    renamed = {r["id"]: r["name"] for r in changed["renamed_records"]}
    for module, old in before.items():
        for record in sim.records(module):
            prior = old[record["id"]]
            if record["id"] not in renamed:  # a renamed record itself was edited
                assert record["Modified_Time"] == prior["Modified_Time"]
            if record["Owner"]["id"] == user["id"]:
                assert record["Owner"]["name"] == user["name"] != prior["Owner"]["name"]
            for value in record.values():
                if isinstance(value, dict) and value.get("id") in renamed:
                    assert value["name"] == renamed[value["id"]]
    leads = sim.records("Leads")
    assert sum(r["Expected_Value"] != before["Leads"][r["id"]]["Expected_Value"]
               for r in leads) > len(leads) / 2


def test_recycle_bin_lists_every_modules_recycled_records_newest_first() -> None:
    with Simulator(seed=4, sizes={"Leads": 60, "Contacts": 60}).start() as s:
        auth = headers_for(s)
        s.delete_record("Contacts", s.records("Contacts")[0]["id"])
        s.delete_record("Leads", s.records("Leads")[0]["id"], permanent=True)
        want = sorted(((m, d) for m in s.org.modules for d in s.org.modules[m].deleted
                       if d.type == "recycle"), key=lambda e: (-e[1].ts, e[1].id))
        got: list[dict] = []
        page = 1
        while True:
            r = get(s, auth, "/crm/v8/settings/recycle_bin", page=str(page), per_page="7")
            assert r.status_code == 200
            got += r.json()["recycle_bin"]
            if not r.json()["info"]["more_records"]:
                break
            page += 1
        assert [(e["module"]["api_name"], e["id"]) for e in got] == \
            [(m, str(d.id)) for m, d in want]
        assert got[0]["module"]["api_name"] == "Contacts"  # the newest deletion
        assert set(got[0]) == {"display_name", "deleted_time", "owner", "module", "deleted_by",
                               "id"}
        asc = get(s, auth, "/crm/v8/settings/recycle_bin", sort_order="asc", per_page="200")
        assert asc.json()["recycle_bin"][-1]["id"] == got[0]["id"]
        assert get(s, auth, "/crm/v5/settings/recycle_bin").status_code == 404
        r = get(s, headers_for(s, "ZohoCRM.modules.ALL"), "/crm/v8/settings/recycle_bin")
        assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"


def test_recycle_bin_of_a_user_who_is_not_an_administrator() -> None:
    # Zoho's API docs are silent: the switch shows such a user only their own deletions.
    for own in (False, True):
        with Simulator(seed=4, sizes={"Leads": 60}, user_is_admin=False,
                       recycle_bin_own_deletions=own).start() as s:
            auth = headers_for(s)
            ids = [r["id"] for r in s.records("Leads")[:2]]
            s.delete_record("Leads", ids[0])  # by the API user
            api_user, s.org.current_user = s.org.current_user, 0  # another user deletes
            s.delete_record("Leads", ids[1])
            s.org.current_user = api_user
            listed = {e["id"] for e in get(s, auth, "/crm/v8/settings/recycle_bin",
                                           per_page="200").json()["recycle_bin"]}
            assert ids[0] in listed and (ids[1] not in listed) == own
