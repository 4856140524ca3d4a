"""Tests of the Zoho CRM simulator over real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from zoho_simulator import Simulator

SIZES = {"Leads": 2600, "Contacts": 150, "Accounts": 60}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, sizes=SIZES).start() as s:
        yield s


@pytest.fixture
def fresh(sim: Simulator) -> Iterator[Simulator]:
    """The shared simulator with faults and config restored after the test."""
    yield sim
    sim.clear_faults()
    sim.set_config(latency_ms=0, page_token_cap=100_000, token_lifetime=3600,
                   token_throttle_limit=10, token_throttle_window=600.0)


def token_for(sim: Simulator, refresh_token: str | None = None) -> str:
    creds = dict(sim.credentials)
    if refresh_token:
        creds["refresh_token"] = refresh_token
    r = requests.post(f"{sim.url}/oauth/v2/token", data={"grant_type": "refresh_token", **creds})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def auth(sim: Simulator) -> dict[str, str]:
    # A fresh refresh token per test: tests move the clock and the throttle is per token.
    rt = sim.issue_refresh_token("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL")
    return {"Authorization": f"Zoho-oauthtoken {token_for(sim, rt)}"}


def get(sim: Simulator, auth: dict[str, str], path: str, headers: dict[str, str] | None = None,
        **params: Any) -> requests.Response:
    return requests.get(f"{sim.url}{path}", params=params, headers={**auth, **(headers or {})},
                        timeout=30)


def code_of(r: requests.Response) -> str:
    return str(r.json()["code"])


# ------------------------------------------------------------------ OAuth
def test_token_grant_and_errors(sim: Simulator) -> None:
    url = f"{sim.url}/oauth/v2/token"
    c = sim.credentials
    r = requests.post(url, data={"grant_type": "refresh_token", **c})
    body = r.json()
    assert r.status_code == 200
    assert body["access_token"].startswith("1000.")
    assert body["api_domain"] == sim.url and body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and "ZohoCRM.modules.ALL" in body["scope"]
    # Query-string parameters work as in Zoho's docs.
    assert "access_token" in requests.post(url, params={"grant_type": "refresh_token",
                                                        **c}).json()
    bad = [({"client_id": "nope"}, "invalid_client"),
           ({"client_secret": "nope"}, "invalid_client_secret"),
           ({"refresh_token": "1000.x.y"}, "invalid_code")]
    for override, err in bad:
        r = requests.post(url, data={"grant_type": "refresh_token", **{**c, **override}})
        assert r.status_code == 200 and r.json() == {"error": err}


def test_token_throttle(fresh: Simulator) -> None:
    fresh.set_config(token_throttle_limit=3, token_throttle_window=600.0)
    rt = fresh.issue_refresh_token("ZohoCRM.modules.ALL")
    for _ in range(3):
        token_for(fresh, rt)
    creds = {**fresh.credentials, "refresh_token": rt}
    r = requests.post(f"{fresh.url}/oauth/v2/token", data={"grant_type": "refresh_token",
                                                           **creds})
    assert r.status_code == 400
    assert r.json()["error"] == "Access Denied" and r.json()["status"] == "failure"
    fresh.advance_clock(601)  # rolling window
    token_for(fresh, rt)


def test_grant_code_single_use(sim: Simulator) -> None:
    code = sim.issue_grant_code()
    data = {"grant_type": "authorization_code", "client_id": sim.credentials["client_id"],
            "client_secret": sim.credentials["client_secret"], "code": code}
    first = requests.post(f"{sim.url}/oauth/v2/token", data=data).json()
    assert first["refresh_token"].startswith("1000.") and first["access_token"]
    assert requests.post(f"{sim.url}/oauth/v2/token", data=data).json() == {
        "error": "invalid_code"}
    assert token_for(sim, first["refresh_token"])
    expired = sim.issue_grant_code()
    sim.advance_clock(181)
    r = requests.post(f"{sim.url}/oauth/v2/token", data={**data, "code": expired})
    assert r.json() == {"error": "invalid_code"}


def test_auth_failures(fresh: Simulator) -> None:
    r = requests.get(f"{fresh.url}/crm/v8/Leads", params={"fields": "Last_Name"})
    assert r.status_code == 401 and code_of(r) == "AUTHENTICATION_FAILURE"
    r = get(fresh, {"Authorization": "Zoho-oauthtoken 1000.bad.bad"}, "/crm/v8/Leads",
            fields="Last_Name")
    assert r.status_code == 401
    assert r.json() == {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token",
                        "status": "error"}
    fresh.set_config(token_lifetime=60)
    short = {"Authorization": f"Zoho-oauthtoken {token_for(fresh)}"}
    assert get(fresh, short, "/crm/v8/Leads", fields="Last_Name").status_code == 200
    fresh.advance_clock(61)
    assert code_of(get(fresh, short, "/crm/v8/Leads", fields="Last_Name")) == "INVALID_TOKEN"
    restricted = token_for(fresh, fresh.issue_refresh_token("ZohoCRM.modules.contacts.READ"))
    hdr = {"Authorization": f"Zoho-oauthtoken {restricted}"}
    assert get(fresh, hdr, "/crm/v8/Contacts", fields="Last_Name").status_code == 200
    r = get(fresh, hdr, "/crm/v8/Leads", fields="Last_Name")
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"
    r = get(fresh, hdr, "/crm/v8/settings/modules")
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"


def test_expire_tokens() -> None:
    with Simulator(seed=1, sizes={"Leads": 10}).start() as s:
        hdr = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}
        assert get(s, hdr, "/crm/v8/Leads", fields="Last_Name").status_code == 200
        s.expire_tokens()
        r = get(s, hdr, "/crm/v8/Leads", fields="Last_Name")
        assert r.status_code == 401 and code_of(r) == "INVALID_TOKEN"
        assert s.stats()["tokens_issued"] == 1 and s.stats()["token_requests"] == 1


# ------------------------------------------------------------------ metadata
def test_modules_shape(sim: Simulator, auth: dict[str, str]) -> None:
    v8 = {m["api_name"]: m for m in get(sim, auth, "/crm/v8/settings/modules").json()["modules"]}
    v2 = {m["api_name"]: m for m in get(sim, auth, "/crm/v2/settings/modules").json()["modules"]}
    for name in ("Leads", "Contacts", "Accounts", "Deals", "Tasks", "Events", "Calls",
                 "Products", "Price_Books", "Quotes", "Notes", "Activities", "Shipments",
                 "Contacts_X_Deals", "Home", "Reports", "Feeds", "Invoices"):
        assert name in v8 and name in v2
    assert v8["Leads"]["status"] == "visible" and "visible" not in v8["Leads"]
    assert v2["Leads"]["visible"] is True and "status" not in v2["Leads"]
    assert v2["Activities"]["api_supported"] is True
    assert v8["Activities"]["api_supported"] is False
    assert v8["Shipments"]["generated_type"] == "custom"
    assert v8["Contacts_X_Deals"]["generated_type"] == "linking"
    assert not any(v8[m]["api_supported"] for m in ("Home", "Reports", "Feeds"))
    for key in ("api_name", "module_name", "singular_label", "plural_label", "id",
                "generated_type", "viewable", "visibility", "creatable", "editable",
                "deletable", "parent_module", "modified_time"):
        assert key in v8["Leads"]
    r = get(sim, auth, "/crm/v8/Home", fields="id")
    assert r.status_code == 400
    assert r.json()["message"] == "The given module is not supported in API"
    r = get(sim, auth, "/crm/v8/Activities", fields="Subject")
    assert r.status_code == 400 and code_of(r) == "INVALID_MODULE"
    assert get(sim, auth, "/crm/v2/Activities", per_page=5).status_code == 200
    r = get(sim, auth, "/crm/v8/Nope", fields="id")
    assert r.status_code == 400 and r.json()["message"].startswith("The module name given")
    r = get(sim, auth, "/crm/v8/Invoices", fields="Subject")
    assert r.status_code == 403 and code_of(r) == "NO_PERMISSION"


def test_fields_shapes_and_types(sim: Simulator, auth: dict[str, str]) -> None:
    seen: set[str] = set()
    returns: set[tuple[str, str]] = set()
    for module in ("Leads", "Contacts", "Accounts", "Deals", "Tasks", "Events", "Calls",
                   "Products", "Quotes", "Notes", "Shipments", "Contacts_X_Deals"):
        r = get(sim, auth, "/crm/v8/settings/fields", module=module)
        assert r.status_code == 200, module
        for f in r.json()["fields"]:
            for key in ("api_name", "field_label", "display_label", "data_type", "json_type",
                        "length", "decimal_place", "read_only", "field_read_only",
                        "system_mandatory", "custom_field", "visible", "virtual_field", "id",
                        "lookup", "pick_list_values", "formula", "rollup_summary"):
                assert key in f, (module, f["api_name"], key)
            seen.add(f["data_type"])
            if f["data_type"] in ("formula", "rollup_summary"):
                returns.add((f["data_type"], f[f["data_type"]]["return_type"]))
    expected = {"text", "textarea", "email", "phone", "website", "picklist",
                "multiselectpicklist", "integer", "bigint", "double", "currency", "percent",
                "boolean", "date", "datetime", "lookup", "ownerlookup", "userlookup",
                "multiselectlookup", "multiuserlookup", "subform", "fileupload", "imageupload",
                "autonumber", "formula", "rollup_summary", "profileimage", "event_reminder",
                "RRULE", "ALARM", "consent_lookup", "multi_module_lookup", "long", "mediumtext",
                "zia_magic"}
    assert expected <= seen, expected - seen
    assert {("formula", t) for t in ("double", "currency", "text", "date", "datetime",
                                     "boolean")} <= returns
    assert {("rollup_summary", t) for t in ("double", "currency", "integer")} <= returns
    leads = get(sim, auth, "/crm/v8/settings/fields", module="Leads").json()["fields"]
    assert 110 <= len(leads) <= 140
    names = {f["api_name"]: f for f in leads}
    assert names["id"]["data_type"] == "bigint" and names["id"]["json_type"] == "string"
    assert names["Modified_Time"]["field_read_only"] is True
    assert names["Tag"]["json_type"] == "jsonarray"
    v2 = {f["api_name"] for f in get(sim, auth, "/crm/v2/settings/fields",
                                     module="Leads").json()["fields"]}
    assert "id" not in v2 and "Converted__s" not in v2
    r = get(sim, auth, "/crm/v8/settings/fields", module="Invoices")
    assert r.status_code == 403
    assert r.json()["details"] == {"permissions": ["Crm_Implied_View_Invoices"]}


# ------------------------------------------------------------------ Get Records params
def test_fields_param_rules(sim: Simulator, auth: dict[str, str]) -> None:
    r = get(sim, auth, "/crm/v8/Leads")
    assert r.status_code == 400 and code_of(r) == "REQUIRED_PARAM_MISSING"
    assert r.json()["details"] == {"param_name": "fields"}
    v2 = get(sim, auth, "/crm/v2/Leads", per_page=2).json()
    assert len(v2["data"][0]) > 100  # all fields
    assert set(v2["info"]) >= {"per_page", "count", "page", "more_records"}
    assert "next_page_token" not in v2["info"]
    assert "$converted" in v2["data"][0] and "$converted_detail" in v2["data"][0]
    all_names = [f["api_name"] for f in get(sim, auth, "/crm/v8/settings/fields",
                                            module="Leads").json()["fields"]]
    r = get(sim, auth, "/crm/v8/Leads", fields=",".join(all_names[:51]))
    assert r.status_code == 400 and code_of(r) == "LIMIT_EXCEEDED"
    assert r.json()["message"] == "Fields limit exceeded"
    r = get(sim, auth, "/crm/v8/Leads", fields=",".join(all_names[:50]))
    assert r.status_code == 200
    r = get(sim, auth, "/crm/v8/Leads", fields="Last_Name,Bogus_Field")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    rec = get(sim, auth, "/crm/v8/Leads", fields="Last_Name", per_page=1).json()["data"][0]
    assert rec["id"].isdigit() and len(rec["id"]) == 19 and "Email" not in rec
    r = get(sim, auth, "/crm/v8/Leads", fields="Last_Name", per_page=201)
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    r = get(sim, auth, "/crm/v8/Leads", fields="Last_Name", sort_by="Last_Name")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    ids = ",".join(str(5725767000000000000 + i) for i in range(101))
    r = get(sim, auth, "/crm/v8/Leads", ids=ids)
    assert r.status_code == 400 and code_of(r) == "LIMIT_EXCEEDED"


def test_single_only_values(sim: Simulator, auth: dict[str, str]) -> None:
    listed = get(sim, auth, "/crm/v8/Quotes", fields="Subject,Quoted_Items").json()["data"][0]
    assert "Quoted_Items" not in listed
    single = get(sim, auth, f"/crm/v8/Quotes/{listed['id']}").json()["data"][0]
    assert isinstance(single["Quoted_Items"], list) and single["Quoted_Items"]
    contact = get(sim, auth, "/crm/v8/Contacts", fields="Related_Deals").json()["data"][0]
    assert "Related_Deals" not in contact
    assert isinstance(get(sim, auth, f"/crm/v8/Contacts/{contact['id']}").json()["data"][0][
        "Related_Deals"], list)
    assert get(sim, auth, "/crm/v8/Leads/5725767999999999999").status_code == 204


def test_get_rich_text_fields(sim: Simulator, auth: dict[str, str]) -> None:
    full = {r["id"]: r["Rich_Summary"] for r in sim.records("Leads")}
    long_ids = [i for i, text in full.items() if text and len(text) > 500][:250]
    assert len(long_ids) > 200
    listed = get(sim, auth, "/crm/v8/Leads", fields="Rich_Summary", ids=",".join(long_ids[:100]))
    assert all(len(r["Rich_Summary"]) == 500 for r in listed.json()["data"])  # the list cut
    # v8, many records: whole values, only id and the asked fields; unknown ids left out.
    r = get(sim, auth, "/crm/v8/Leads/actions/fetch_full_data",
            ids=",".join([*long_ids[:200], "5725767999999999999"][1:]), fields="Rich_Summary")
    assert r.status_code == 200
    data = r.json()["data"]
    assert {d["id"] for d in data} == set(long_ids[1:200])
    assert all(set(d) == {"id", "Rich_Summary"} and d["Rich_Summary"] == full[d["id"]]
               for d in data)
    too_many = get(sim, auth, "/crm/v8/Leads/actions/fetch_full_data",
                   ids=",".join(long_ids[:201]), fields="Rich_Summary")
    assert (too_many.status_code, code_of(too_many)) == (400, "LIMIT_EXCEEDED")
    for params in ({"ids": long_ids[0]}, {"fields": "Rich_Summary"}):
        missing = get(sim, auth, "/crm/v8/Leads/actions/fetch_full_data", **params)
        assert (missing.status_code, code_of(missing)) == (400, "REQUIRED_PARAM_MISSING")
    not_rich = get(sim, auth, "/crm/v8/Leads/actions/fetch_full_data", ids=long_ids[0],
                   fields="Rich_Summary,Last_Name")
    assert (not_rich.status_code, code_of(not_rich)) == (400, "INVALID_DATA")
    assert not_rich.json()["details"]["api_name"] == "Last_Name"
    # Many records at once is v8 only; one record works from v6, every rich-text field.
    v7 = get(sim, auth, "/crm/v7/Leads/actions/fetch_full_data", ids=long_ids[0],
             fields="Rich_Summary")
    assert v7.status_code == 404
    one = get(sim, auth, f"/crm/v7/Leads/{long_ids[0]}/actions/fetch_full_data").json()["data"]
    assert one == [{"id": long_ids[0], "Rich_Summary": full[long_ids[0]]}]
    gone = get(sim, auth, "/crm/v8/Leads/5725767999999999999/actions/fetch_full_data")
    assert gone.status_code == 204


def test_discrete_pagination_cap(sim: Simulator, auth: dict[str, str]) -> None:
    r = get(sim, auth, "/crm/v8/Leads", fields="Last_Name", page=10, per_page=200)
    assert r.status_code == 200 and r.json()["info"]["next_page_token"]
    for version in ("v8", "v2"):
        r = get(sim, auth, f"/crm/{version}/Leads", fields="Last_Name", page=11, per_page=200)
        assert r.status_code == 400 and code_of(r) == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
        assert r.json()["message"] == ("You can only get the first 2000 records without "
                                       "using page_token param.")


def chain(sim: Simulator, auth: dict[str, str], version: str = "v8",
          headers: dict[str, str] | None = None, **params: Any) -> list[list[dict[str, Any]]]:
    pages = []
    token = None
    while True:
        p = dict(params)
        if token:
            p["page_token"] = token
        r = get(sim, auth, f"/crm/{version}/Leads", headers=headers, **p)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body["data"])
        if not body["info"]["more_records"]:
            assert body["info"]["next_page_token"] is None
            return pages
        token = body["info"]["next_page_token"]
        assert body["info"]["page_token_expiry"]


def test_page_token_chain_complete(sim: Simulator, auth: dict[str, str]) -> None:
    pages = chain(sim, auth, fields="Modified_Time", sort_by="Modified_Time", sort_order="asc",
                  converted="both", approved="both", per_page=200)
    ids = [r["id"] for page in pages for r in page]
    assert len(ids) == len(set(ids)) == SIZES["Leads"]
    assert set(ids) == {r["id"] for r in sim.records("Leads")}
    times = [datetime.fromisoformat(r["Modified_Time"]) for page in pages for r in page]
    assert times == sorted(times)
    # Ties straddle page boundaries: the last row of a page shares its second with the next.
    straddles = sum(pages[i][-1]["Modified_Time"] == pages[i + 1][0]["Modified_Time"]
                    for i in range(len(pages) - 1))
    assert straddles >= 3
    offsets = {r["Modified_Time"][-6:] for page in pages for r in page}
    assert offsets == {"-08:00", "-07:00"}


def test_page_token_rules(fresh: Simulator, auth: dict[str, str]) -> None:
    base = {"fields": "Last_Name", "sort_by": "Modified_Time", "sort_order": "asc"}
    first = get(fresh, auth, "/crm/v8/Leads", **base).json()["info"]
    tok = first["next_page_token"]
    r = get(fresh, auth, "/crm/v8/Leads", **{**base, "fields": "Last_Name,Email"},
            page_token=tok)
    assert r.status_code == 400 and code_of(r) == "TOKEN_BOUND_DATA_MISMATCH"
    r = get(fresh, auth, "/crm/v8/Leads", headers={"If-Modified-Since": "2024-01-01T00:00:00Z"},
            **base, page_token=tok)
    assert code_of(r) == "TOKEN_BOUND_DATA_MISMATCH"
    r = get(fresh, auth, "/crm/v8/Leads", **base, page_token=tok, page=2)
    assert r.status_code == 400 and code_of(r) == "AMBIGUITY_DURING_PROCESSING"
    r = get(fresh, auth, "/crm/v8/Leads", **base, page_token="nonsense")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    r = get(fresh, auth, "/crm/v2/Leads", **base, page_token=tok)
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    ok = get(fresh, auth, "/crm/v8/Leads", **base, page_token=tok)
    assert ok.status_code == 200 and ok.json()["info"]["page"] == 2
    fresh.set_config(page_token_cap=400)
    tok2 = ok.json()["info"]["next_page_token"]
    r = get(fresh, auth, "/crm/v8/Leads", **base, page_token=tok2)
    assert r.status_code == 400 and code_of(r) == "PAGINATION_LIMIT_EXCEEDED"
    assert r.json()["message"] == "You can only get up to first 400 records using page_token param."
    fresh.advance_clock(24 * 3600 + 1)
    rt = fresh.issue_refresh_token("ZohoCRM.modules.ALL")
    auth = {"Authorization": f"Zoho-oauthtoken {token_for(fresh, rt)}"}
    r = get(fresh, auth, "/crm/v8/Leads", **base, page_token=tok)
    assert r.status_code == 400 and code_of(r) == "EXPIRED_VALUE"


def test_converted_and_approved_filters(sim: Simulator, auth: dict[str, str]) -> None:
    recs = sim.records("Leads")
    conv = sum(r["Converted__s"] for r in recs)
    pending = sum(not r["$approved"] for r in recs)
    assert 0.05 * len(recs) < conv < 0.15 * len(recs)
    assert 0 < pending < 0.05 * len(recs)

    def count(**p: str) -> int:
        return int(get(sim, auth, "/crm/v8/Leads/actions/count", **p).json()["count"])

    assert count() == sum(not r["Converted__s"] and r["$approved"] for r in recs)
    assert count(converted="true") == sum(r["Converted__s"] and r["$approved"] for r in recs)
    assert count(converted="both", approved="both") == len(recs)
    assert count(converted="both", approved="false") == pending
    page = get(sim, auth, "/crm/v8/Leads", fields="Converted__s,Converted_Contact",
               converted="true", per_page=50).json()["data"]
    assert all(r["Converted__s"] and r["Converted_Contact"]["id"] for r in page)
    v2 = get(sim, auth, "/crm/v2/Leads", converted="true", per_page=5).json()["data"]
    assert all(r["$converted"] and r["$converted_detail"]["contact"] for r in v2)


def test_if_modified_since(sim: Simulator, auth: dict[str, str]) -> None:
    recs = sorted(sim.records("Contacts"), key=lambda r: r["Modified_Time"])
    pivot = recs[len(recs) // 2]["Modified_Time"]
    since = datetime.fromisoformat(pivot)
    hdr = {"If-Modified-Since": pivot}
    got = get(sim, auth, "/crm/v8/Contacts", headers=hdr, fields="Modified_Time",
              approved="both").json()["data"]
    expected = [r for r in recs if datetime.fromisoformat(r["Modified_Time"]) >= since]
    assert {r["id"] for r in got} == {r["id"] for r in expected}  # inclusive
    # In Modified_Time order either way: the same records, in that order.
    for order in ("asc", "desc"):
        got = get(sim, auth, "/crm/v8/Contacts", headers=hdr, fields="Modified_Time",
                  approved="both", sort_by="Modified_Time", sort_order=order).json()["data"]
        want = sorted(expected, key=lambda r: (datetime.fromisoformat(r["Modified_Time"]),
                                               -int(r["id"]) if order == "desc" else int(r["id"])),
                      reverse=order == "desc")
        assert [r["id"] for r in got] == [r["id"] for r in want], order
    utc = since.astimezone(datetime.now().astimezone().tzinfo).isoformat()
    got_utc = get(sim, auth, "/crm/v8/Contacts", headers={"If-Modified-Since": utc},
                  fields="Modified_Time", approved="both").json()["data"]
    assert len(got_utc) == len(got)
    r = get(sim, auth, "/crm/v8/Contacts", headers={"If-Modified-Since": "2030-01-01T00:00:00Z"},
            fields="Last_Name")
    assert r.status_code == 304 and r.content == b""
    r = get(sim, auth, "/crm/v8/Contacts", ids="5725767999999999999", fields="Last_Name")
    assert r.status_code == 204 and r.content == b""
    r = get(sim, auth, "/crm/v8/Contacts", headers={"If-Modified-Since": "yesterday"},
            fields="Last_Name")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"


def test_notes_admin_only() -> None:
    with Simulator(seed=3, sizes={"Leads": 5}, user_is_admin=False).start() as s:
        hdr = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}
        r = get(s, hdr, "/crm/v8/Notes", fields="Note_Title")
        assert r.status_code == 403 and code_of(r) == "NOT_SUPPORTED"


# ------------------------------------------------------------------ control API
def test_control_api_mutations(sim: Simulator, auth: dict[str, str]) -> None:
    ctl = f"{sim.url}/__sim"
    created = requests.post(f"{ctl}/records/Contacts", json={"Last_Name": "Ñandú"}).json()["data"]
    rid = created["id"]
    hdr = {"If-Modified-Since": created["Modified_Time"]}
    got = get(sim, auth, "/crm/v8/Contacts", headers=hdr, fields="Last_Name").json()["data"]
    assert rid in {r["id"] for r in got}
    assert next(r for r in got if r["id"] == rid)["Last_Name"] == "Ñandú"
    updated = requests.patch(f"{ctl}/records/Contacts/{rid}", json={"Title": "CTO"}).json()
    assert updated["data"]["Title"] == "CTO"
    assert requests.delete(f"{ctl}/records/Contacts/{rid}").status_code == 200
    assert get(sim, auth, f"/crm/v8/Contacts/{rid}").status_code == 204
    deleted = get(sim, auth, "/crm/v8/Contacts/deleted").json()["data"]
    assert deleted[0]["id"] == rid
    field = {"api_name": "Loyalty_Tier", "data_type": "picklist", "field_label": "Loyalty Tier",
             "pick_list_values": [{"actual_value": "Gold"}, {"actual_value": "Silver"}]}
    assert requests.post(f"{ctl}/fields/Contacts", json=field).status_code == 200
    meta = get(sim, auth, "/crm/v8/settings/fields", module="Contacts").json()["fields"]
    assert any(f["api_name"] == "Loyalty_Tier" for f in meta)
    rows = get(sim, auth, "/crm/v8/Contacts", fields="Loyalty_Tier", per_page=50).json()["data"]
    assert {r["Loyalty_Tier"] for r in rows} <= {"Gold", "Silver", None}
    assert any(r["Loyalty_Tier"] for r in rows)
    creds = requests.get(f"{ctl}/credentials").json()
    assert creds["refresh_token"] == sim.credentials["refresh_token"]
    assert creds["api_url"] == sim.url
    code = requests.post(f"{ctl}/grant_codes", json={}).json()["code"]
    assert code.startswith("1000.")


def test_python_mutations_and_determinism() -> None:
    a = Simulator(seed=11, sizes={"Leads": 40, "Contacts": 10})
    b = Simulator(seed=11, sizes={"Leads": 40, "Contacts": 10})
    assert a.records("Leads") == b.records("Leads")
    assert a.records("Leads") != Simulator(seed=12, sizes={"Leads": 40}).records("Leads")
    rec = a.create_record("Leads", {"Last_Name": "Zoë"})
    assert rec["Last_Name"] == "Zoë" and rec["Created_Time"] == rec["Modified_Time"]
    before = next(r for r in a.records("Leads") if r["id"] == a.records("Leads")[0]["id"])
    after = a.update_record("Leads", before["id"])
    assert after["Modified_Time"] > before["Modified_Time"] or \
        datetime.fromisoformat(after["Modified_Time"]) > datetime.fromisoformat(
            before["Modified_Time"])
    a.delete_record("Leads", before["id"])
    assert before["id"] not in {r["id"] for r in a.records("Leads")}
    all_ids = [r["id"] for m in ("Leads", "Contacts", "Accounts") for r in a.records(m)]
    assert len(all_ids) == len(set(all_ids))


# ------------------------------------------------------------------ faults and stats
def test_faults(fresh: Simulator, auth: dict[str, str]) -> None:
    fresh.add_fault(r"^/crm/v8/Leads$", status=500, count=1)
    r = get(fresh, auth, "/crm/v8/Leads", fields="Last_Name")
    assert r.status_code == 500 and code_of(r) == "INTERNAL_ERROR"
    assert get(fresh, auth, "/crm/v8/Leads", fields="Last_Name").status_code == 200
    requests.post(f"{fresh.url}/__sim/faults", json={"path_regex": "Contacts", "status": 429,
                                                     "count": 2, "retry_after": 7})
    for _ in range(2):
        r = get(fresh, auth, "/crm/v8/Contacts", fields="Last_Name")
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        assert code_of(r) == "TOO_MANY_REQUESTS"
    assert get(fresh, auth, "/crm/v8/Contacts", fields="Last_Name").status_code == 200
    fresh.add_fault("Accounts", truncate=True)
    with pytest.raises(requests.exceptions.RequestException):
        get(fresh, auth, "/crm/v8/Accounts", fields="Account_Name").json()
    fresh.add_fault("Accounts", delay=0.3)
    t0 = time.monotonic()
    assert get(fresh, auth, "/crm/v8/Accounts", fields="Account_Name").status_code == 200
    assert time.monotonic() - t0 >= 0.3
    fresh.add_fault("Deals", count=None)
    assert get(fresh, auth, "/crm/v8/Deals", fields="Deal_Name").status_code == 500
    assert requests.delete(f"{fresh.url}/__sim/faults").status_code == 200
    assert get(fresh, auth, "/crm/v8/Deals", fields="Deal_Name").status_code == 200


def test_stats_and_request_log(sim: Simulator, auth: dict[str, str]) -> None:
    sim.reset_stats()
    get(sim, auth, "/crm/v8/Leads", headers={"If-Modified-Since": "2025-01-01T00:00:00-08:00"},
        fields="Last_Name", per_page=5)
    get(sim, auth, "/crm/v8/settings/fields", module="Leads")
    st = requests.get(f"{sim.url}/__sim/stats").json()
    assert st["api_calls"] == 2 and st["credits_used"] == 2 and st["max_concurrent"] >= 1
    assert st["by_endpoint"] == {"GET /crm/v8/Leads": 1, "GET /crm/v8/settings/fields": 1}
    log = sim.requests()
    assert log[0]["params"] == {"fields": "Last_Name", "per_page": "5"}
    assert log[0]["headers"]["If-Modified-Since"] == "2025-01-01T00:00:00-08:00"
    assert log[0]["status"] == 200


def test_latency_and_page_speed() -> None:
    with Simulator(seed=5, sizes={"Leads": 5000}).start() as s:
        hdr = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}
        names = [f["api_name"] for f in get(s, hdr, "/crm/v8/settings/fields",
                                             module="Leads").json()["fields"]][:50]
        session = requests.Session()
        slowest = 0.0
        token = None
        for _ in range(6):
            params: dict[str, Any] = {"fields": ",".join(names), "sort_by": "Modified_Time",
                                      "sort_order": "asc", "converted": "both"}
            if token:
                params["page_token"] = token
            t0 = time.monotonic()
            r = session.get(f"{s.url}/crm/v8/Leads", params=params, headers=hdr)
            slowest = max(slowest, time.monotonic() - t0)
            token = r.json()["info"]["next_page_token"]
        assert slowest < 0.25  # generous: CI machines are slow and shared
        s.set_config(latency_ms=200)
        t0 = time.monotonic()
        session.get(f"{s.url}/crm/v8/Leads", params={"fields": "Last_Name"}, headers=hdr)
        assert time.monotonic() - t0 >= 0.2


def test_cli_starts_and_stops() -> None:
    # `python -m zoho_simulator` from the installed simulator distribution (simulator/).
    proc = subprocess.Popen([sys.executable, "-m", "zoho_simulator", "--port", "0", "--size",
                             "Leads=20"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("zoho-simulator listening on http://127.0.0.1:")
        info = json.loads(proc.stdout.readline())
        assert {"client_id", "client_secret", "refresh_token", "api_url",
                "accounts_url"} <= set(info)
        r = requests.post(f"{info['accounts_url']}/oauth/v2/token",
                          data={"grant_type": "refresh_token", **{
                              k: info[k] for k in ("client_id", "client_secret",
                                                   "refresh_token")}})
        assert r.json()["api_domain"] == info["api_url"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_unservable_system_modules_are_listed_and_refused_behind_a_switch() -> None:
    from zoho_simulator.system_modules import REFUSALS

    with Simulator(seed=3, sizes={"Leads": 5}).start() as s:
        headers = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}
        names = {m["api_name"] for m in get(s, headers, "/crm/v8/settings/modules")
                 .json()["modules"]}
        assert not names & set(REFUSALS)  # off by default
        s.set_config(unservable_modules=True)
        listed = {m["api_name"]: m for m in get(s, headers, "/crm/v8/settings/modules")
                  .json()["modules"]}
        for name, (status, code, _) in REFUSALS.items():
            assert listed[name]["api_supported"] is True
            assert get(s, headers, "/crm/v8/settings/fields", module=name).status_code == 200
            r = get(s, headers, f"/crm/v8/{name}", fields="Name")
            assert (r.status_code, r.json()["code"]) == (status, code), name


def test_rejected_token_code_switch() -> None:
    with Simulator(seed=3, sizes={"Leads": 5}).start() as s:
        headers = {"Authorization": "Zoho-oauthtoken 1000.not.a.token"}
        assert get(s, headers, "/crm/v8/Leads").json()["code"] == "INVALID_TOKEN"
        s.set_config(rejected_token_code="AUTHENTICATION_FAILURE")
        r = get(s, headers, "/crm/v8/Leads")
        assert (r.status_code, r.json()["code"]) == (401, "AUTHENTICATION_FAILURE")


def test_credit_window_header_exhaustion_and_a_new_day() -> None:
    with Simulator(seed=3, sizes={"Leads": 5}, daily_credits=4).start() as s:
        headers = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}
        answers = [get(s, headers, "/crm/v8/Leads", fields="Last_Name") for _ in range(5)]
        assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
        assert "X-API-CREDITS-REMAINING" not in answers[0].headers  # before half the day
        assert [r.headers.get("X-API-CREDITS-REMAINING") for r in answers[1:4]] == ["2", "1", "0"]
        assert answers[4].json()["code"] == "TOO_MANY_REQUESTS"
        assert "Retry-After" not in answers[4].headers
        assert requests.post(f"{s.url}/__sim/credits/new_day", timeout=30).status_code == 200
        assert get(s, headers, "/crm/v8/Leads", fields="Last_Name").status_code == 200
        for _ in range(3):
            get(s, headers, "/crm/v8/Leads", fields="Last_Name")
        assert get(s, headers, "/crm/v8/Leads", fields="Last_Name").status_code == 429
        s.advance_clock(24 * 3600)  # 24 hours later the window has rolled over
        headers = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}  # the old one expired
        assert get(s, headers, "/crm/v8/Leads", fields="Last_Name").status_code == 200


def test_concurrency_limit_answers_a_bare_429() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with Simulator(seed=3, sizes={"Leads": 5}, latency_ms=300, concurrency_limit=1).start() as s:
        headers = {"Authorization": f"Zoho-oauthtoken {token_for(s)}"}
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: get(s, headers, "/crm/v8/Leads",
                                                  fields="Last_Name"), range(4)))
        refused = [r for r in answers if r.status_code == 429]
        assert refused and any(r.status_code == 200 for r in answers)
        assert all(r.json()["code"] == "TOO_MANY_REQUESTS" and "Retry-After" not in r.headers
                   for r in refused)
