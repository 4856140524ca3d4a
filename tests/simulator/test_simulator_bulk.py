"""Bulk Read in the simulator over real HTTP: create job, job states, the zipped CSV,
criteria, pagination (page / page_token), the download rate limit and credits."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.simulator.tokens import token_headers
from zoho_simulator import Simulator

SIZES = {"Leads": 600, "Contacts": 80, "Accounts": 40}
BULK = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.bulk.READ"
JOB_KEYS = ["id", "operation", "state", "query", "created_by", "created_time", "file_type"]
RESULT_KEYS = {"page", "per_page", "count", "download_url", "more_records", "next_page_token"}
NO_COLUMN = {"subform", "multiselectlookup", "multiuserlookup", "fileupload", "imageupload"}
LOOKUPS = {"lookup", "ownerlookup", "userlookup", "consent_lookup", "multi_module_lookup"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=11, sizes=SIZES, bulk_job_seconds=0).start() as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh_minute(sim: Simulator) -> Iterator[None]:
    """Each test starts a new download minute and leaves the bulk config as it found it."""
    sim.advance_clock(61)
    yield
    sim.set_config(bulk_job_seconds=0, bulk_page_size=200_000)
    sim.clear_faults()


def headers_for(sim: Simulator, scope: str = BULK) -> dict[str, str]:
    return token_headers(sim, scope)


@pytest.fixture
def auth(sim: Simulator) -> dict[str, str]:
    return headers_for(sim)


def create(sim: Simulator, auth: dict[str, str], query: dict[str, Any] | None = None,
           version: str = "v8", **body: Any) -> requests.Response:
    payload = {"query": query, **body} if query is not None else body
    return requests.post(f"{sim.url}/crm/bulk/{version}/read", json=payload, headers=auth,
                         timeout=30)


def job_id(r: requests.Response) -> str:
    assert r.status_code == 201, r.text
    return str(r.json()["data"][0]["details"]["id"])


def details(sim: Simulator, auth: dict[str, str], jid: str, version: str = "v8"
            ) -> dict[str, Any]:
    r = requests.get(f"{sim.url}/crm/bulk/{version}/read/{jid}", headers=auth, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 1
    return dict(data[0])


def download(sim: Simulator, auth: dict[str, str], url: str) -> list[dict[str, str]]:
    r = requests.get(f"{sim.url}{url}", headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    jid = url.split("/")[-2]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.namelist() == [f"{jid}.csv"]
        text = zf.read(f"{jid}.csv").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    again = io.StringIO(newline="")
    csv.writer(again).writerows(rows)
    assert again.getvalue() == text  # exactly what `csv.writer` with its defaults writes
    header = rows[0]
    assert header[0] == "id" and len(set(header)) == len(header)
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def export(sim: Simulator, auth: dict[str, str], query: dict[str, Any], version: str = "v8"
           ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Create a job (bulk_job_seconds=0: done at once), then download its CSV."""
    jid = job_id(create(sim, auth, query, version))
    job = details(sim, auth, jid, version)
    assert job["state"] == "COMPLETED"
    return job, download(sim, auth, job["result"]["download_url"])


def field_meta(sim: Simulator, auth: dict[str, str], module: str, version: str = "v8"
               ) -> list[dict[str, Any]]:
    r = requests.get(f"{sim.url}/crm/{version}/settings/fields", params={"module": module},
                     headers=auth, timeout=30)
    return list(r.json()["fields"])


def utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def expected_cell(meta: dict[str, Any], value: Any) -> str:
    """The CSV text of a Get Records JSON value (the rules in
    simulator/zoho_simulator/bulk_csv.py)."""
    if value is None:
        return ""
    dt = meta["data_type"]
    if dt in ("formula", "rollup_summary"):
        dt = meta[dt]["return_type"]
    if meta["api_name"] == "Tag":
        return ",".join(t["name"] for t in value)
    if dt == "boolean":
        return "true" if value else "false"
    if dt in ("datetime", "event_reminder"):
        return utc(value)
    if dt in LOOKUPS:
        return str(value["id"])
    if dt == "multiselectpicklist":
        return ";".join(value)
    if dt in ("RRULE", "ALARM"):
        return str(value[dt])
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def code_of(r: requests.Response) -> str:
    return str(r.json()["code"])


# ------------------------------------------------------------------ create job
def test_create_job_shape_and_credits(sim: Simulator, auth: dict[str, str]) -> None:
    sim.reset_stats()
    r = create(sim, auth, {"module": {"api_name": "Leads"}}, file_type="csv",
               callback={"url": "https://example.com/hook", "method": "post"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"data", "info"} and body["info"] == {}
    (item,) = body["data"]
    assert {k: item[k] for k in ("status", "code", "message")} == {
        "status": "success", "code": "ADDED_SUCCESSFULLY", "message": "Added successfully."}
    d = item["details"]
    assert set(d) == {"id", "operation", "state", "created_by", "created_time"}
    assert d["operation"] == "read" and d["state"] == "ADDED" and d["id"].isdigit()
    assert d["created_by"] == {"id": sim.users()[0]["id"], "name": "Patricia Boyle"}
    assert datetime.fromisoformat(d["created_time"]).tzinfo is not None
    st = sim.stats()
    assert st["credits_used"] == 50 and st["api_calls"] == 1
    assert st["by_endpoint"] == {"POST /crm/bulk/v8/read": 1}
    job = details(sim, auth, d["id"])
    requests.get(f"{sim.url}{job['result']['download_url']}", headers=auth, timeout=30)
    st = sim.stats()
    # Job details and downloads: 1 credit each (not documented); creating: 50.
    assert st["credits_used"] == 52 and st["api_calls"] == 3
    assert st["by_endpoint"][f"GET /crm/bulk/v8/read/{d['id']}"] == 1
    assert st["by_endpoint"][f"GET /crm/bulk/v8/read/{d['id']}/result"] == 1
    # Failed creates cost 1 credit, like any call.
    create(sim, auth, {"module": {"api_name": "Nope"}})
    assert sim.stats()["credits_used"] == 53
    jobs = {j["id"]: j for j in sim.bulk_jobs()}
    assert jobs[d["id"]]["module"] == "Leads"
    assert jobs[d["id"]]["count"] == len(sim.records("Leads"))
    assert jobs[d["id"]]["downloads"] == 1 and jobs[d["id"]]["state"] == "COMPLETED"


def test_create_needs_json_content_type(sim: Simulator, auth: dict[str, str]) -> None:
    body = json.dumps({"query": {"module": {"api_name": "Leads"}}})
    url = f"{sim.url}/crm/bulk/v8/read"
    for extra in ({}, {"Content-Type": "text/plain"},
                  {"Content-Type": "application/x-www-form-urlencoded"}):
        r = requests.post(url, data=body, headers={**auth, **extra}, timeout=10)
        assert r.status_code == 415 and code_of(r) == "MEDIA_TYPE_NOT_SUPPORTED", extra
        assert r.json()["status"] == "error"
    r = requests.post(url, data=body, timeout=10,
                      headers={**auth, "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201


def test_create_scopes(sim: Simulator) -> None:
    query = {"module": {"api_name": "Leads"}}
    for scope in ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL",  # no bulk scope
                  "ZohoCRM.bulk.READ",  # no module scope
                  "ZohoCRM.bulk.READ,ZohoCRM.modules.contacts.READ"):
        r = create(sim, headers_for(sim, scope), query)
        assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH", scope
    for scope in ("ZohoCRM.bulk.ALL,ZohoCRM.modules.ALL",
                  "ZohoCRM.bulk.read,ZohoCRM.modules.leads.READ",
                  "ZohoCRM.bulk.READ,ZohoCRM.modules.READ"):
        hdr = headers_for(sim, scope)
        jid = job_id(create(sim, hdr, query))
        job = details(sim, hdr, jid)  # job details and download need the same scopes
        assert requests.get(f"{sim.url}{job['result']['download_url']}", headers=hdr,
                            timeout=30).status_code == 200
    jid = job_id(create(sim, headers_for(sim), query))
    narrow = headers_for(sim, "ZohoCRM.modules.ALL")
    r = requests.get(f"{sim.url}/crm/bulk/v8/read/{jid}", headers=narrow, timeout=10)
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"
    r = requests.get(f"{sim.url}/crm/bulk/v8/read/{jid}/result", headers=narrow, timeout=10)
    assert r.status_code == 401 and code_of(r) == "OAUTH_SCOPE_MISMATCH"
    r = requests.post(f"{sim.url}/crm/bulk/v8/read", json={"query": query}, timeout=10)
    assert r.status_code == 401 and code_of(r) == "AUTHENTICATION_FAILURE"
    # The default refresh token (what the tap's `auth` command asks for) includes Bulk Read.
    assert "ZohoCRM.bulk.READ" in requests.post(
        f"{sim.url}/oauth/v2/token", data={"grant_type": "refresh_token", **sim.credentials},
        timeout=10).json()["scope"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"query": {"module": {"api_name": "Nope"}}}, 400, "INVALID_MODULE"),
    ({"query": {"module": {"api_name": "Home"}}}, 400, "INVALID_MODULE"),
    ({"query": {"module": {"api_name": "Notes"}}}, 400, "MODULE_NOT_SUPPORTED"),
    ({"query": {"module": {"api_name": "Attachments"}}}, 400, "MODULE_NOT_SUPPORTED"),
    ({"query": {"module": {"api_name": "Invoices"}}}, 403, "NO_PERMISSION"),
    ({}, 400, "MANDATORY_NOT_FOUND"),
    ({"query": {"fields": ["Last_Name"]}}, 400, "MANDATORY_NOT_FOUND"),
    ({"query": {"module": {"api_name": "Leads"}, "fields": ["Nope"]}}, 400,
     "FIELD_NOT_AVAILABLE"),
    ({"query": {"module": {"api_name": "Leads"}, "fields": ["Documents"]}}, 400,
     "FIELD_NOT_SUPPORTED"),
    ({"query": {"module": {"api_name": "Quotes"}, "fields": ["Quoted_Items"]}}, 400,
     "FIELD_NOT_SUPPORTED"),
    ({"query": {"module": {"api_name": "Leads"}, "fields": ["Company.Name"]}}, 400,
     "FIELD_NOT_AVAILABLE"),
    ({"query": {"module": {"api_name": "Leads"}, "page": 51}}, 400, "PAGE_RANGE_EXCEEDED"),
    ({"query": {"module": {"api_name": "Leads"}, "page": 0}}, 400, "INVALID_DATA"),
    ({"query": {"module": {"api_name": "Leads"}, "cvid": "5725767000000087501"}}, 400,
     "INVALID_DATA"),
    ({"query": {"module": {"api_name": "Leads"}}, "file_type": "xlsx"}, 400, "INVALID_DATA"),
    ({"query": {"module": {"api_name": "Leads"}}, "file_type": "ics"}, 400, "INVALID_DATA"),
    ({"query": {"module": {"api_name": "Events"}}, "file_type": "ics"}, 400,
     "NOT_SUPPORTED_FEATURE"),
    ({"query": {"module": {"api_name": "Leads"}}, "callback": {"url": "nope", "method": "post"}},
     400, "INVALID_CALLBACK_URL"),
    ({"query": {"module": {"api_name": "Leads"}},
      "callback": {"url": "https://example.com", "method": "get"}}, 400,
     "INVALID_CALLBACK_METHOD"),
    ({"query": {"module": {"api_name": "Leads"}, "page_token": "nope"}}, 400, "INVALID_DATA"),
])
def test_create_errors(sim: Simulator, auth: dict[str, str], body: dict[str, Any],
                       status: int, code: str) -> None:
    r = requests.post(f"{sim.url}/crm/bulk/v8/read", json=body, headers=auth, timeout=10)
    assert r.status_code == status and code_of(r) == code, r.text
    assert set(r.json()) == {"code", "details", "message", "status"}


@pytest.mark.parametrize(("criteria", "code"), [
    ({"field": {"api_name": "Modified_Time"}, "comparator": "after", "value": "2025-01-01"},
     "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"),
    ({"field": {"api_name": "Modified_Time"}, "comparator": "contains", "value": "2025"},
     "FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE"),
    ({"field": {"api_name": "Modified_Time"}, "comparator": "greater_equal",
      "value": "2025-01-01T00:00:00.000Z"}, "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
    ({"field": {"api_name": "Modified_Time"}, "comparator": "greater_equal",
      "value": "2025-01-01T00:00:00"}, "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
    ({"field": {"api_name": "Modified_Time"}, "comparator": "between",
      "value": "2025-01-01T00:00:00Z"}, "FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE"),
    ({"field": {"api_name": "Nope"}, "comparator": "equal", "value": "x"},
     "FIELD_IN_CRITERIA_NOT_AVAILABLE"),
    ({"field": {"api_name": "Interests"}, "comparator": "equal", "value": "CRM"},
     "FIELD_IN_CRITERIA_NOT_SUPPORTED"),
    ({"field": {"api_name": "Modified_Time"}, "value": "2025-01-01T00:00:00Z"},
     "INVALID_CRITERIA"),
    ({"group_operator": "xor", "group": [
        {"field": {"api_name": "Last_Name"}, "comparator": "equal", "value": "Smith"}]},
     "GROUP_OPERATOR_NOT_SUPPORTED"),
    ({"group_operator": "or", "group": [
        {"field": {"api_name": "Last_Name"}, "comparator": "equal", "value": f"n{i}"}
        for i in range(26)]}, "CRITERIA_LIMIT_EXCEEDED"),
])
def test_criteria_errors(sim: Simulator, auth: dict[str, str], criteria: dict[str, Any],
                         code: str) -> None:
    r = create(sim, auth, {"module": {"api_name": "Leads"}, "criteria": criteria})
    assert r.status_code == 400 and code_of(r) == code, r.text


def test_request_errors(sim: Simulator, auth: dict[str, str]) -> None:
    url = f"{sim.url}/crm/bulk/v8/read"
    ct = {**auth, "Content-Type": "application/json"}
    r = requests.post(url, data=b"", headers=ct, timeout=10)
    assert r.status_code == 400 and code_of(r) == "REQUEST_BODY_IS_EMPTY"
    for bad in (b"{nope", b"[1, 2]"):
        r = requests.post(url, data=bad, headers=ct, timeout=10)
        assert r.status_code == 400 and code_of(r) == "REQUEST_BODY_NOT_READABLE"
    r = requests.get(url, headers=auth, timeout=10)
    assert r.status_code == 400 and code_of(r) == "INVALID_REQUEST_METHOD"
    r = requests.post(f"{url}/123", json={}, headers=auth, timeout=10)
    assert r.status_code == 400 and code_of(r) == "INVALID_REQUEST_METHOD"
    r = requests.get(f"{url}/123/nope", headers=auth, timeout=10)
    assert r.status_code == 404 and code_of(r) == "INVALID_URL_PATTERN"
    r = requests.get(f"{url}/5725767009999999999", headers=auth, timeout=10)
    assert r.status_code == 404 and r.json() == {
        "code": "RESOURCE_NOT_FOUND", "details": {"resource": "job_id"},
        "message": "The requested resource doesn't exist.", "status": "error"}
    r = requests.get(f"{url}/5725767009999999999/result", headers=auth, timeout=10)
    assert r.status_code == 400 and code_of(r) == "RESOURCE_NOT_FOUND"


# ------------------------------------------------------------------ job states
def test_job_states_follow_the_clock(sim: Simulator, auth: dict[str, str]) -> None:
    sim.set_config(bulk_job_seconds=100)
    query = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"]}
    jid = job_id(create(sim, auth, query))
    seen = []
    for step in (0, 30, 30, 40, 10):
        sim.advance_clock(step)
        job = details(sim, auth, jid)
        seen.append(job["state"])
        if job["state"] != "COMPLETED":
            assert list(job) == JOB_KEYS  # no `result` before COMPLETED
            r = requests.get(f"{sim.url}/crm/bulk/v8/read/{jid}/result", headers=auth,
                             timeout=10)
            assert r.status_code == 400 and code_of(r) == "RESOURCE_NOT_FOUND"
        assert {j["id"]: j["state"] for j in sim.bulk_jobs()}[jid] == job["state"]
    assert seen == ["ADDED", "QUEUED", "IN PROGRESS", "COMPLETED", "COMPLETED"]
    assert list(job) == [*JOB_KEYS[:-1], "result", "file_type"]
    assert job["operation"] == "read" and job["file_type"] == "csv"
    assert job["query"] == {"module": {"id": job["query"]["module"]["id"], "api_name": "Leads"},
                            "page": 1, "fields": ["Last_Name"]}
    assert job["result"] == {"page": 1, "per_page": 200000, "count": len(sim.records("Leads")),
                             "download_url": f"/crm/bulk/v8/read/{jid}/result",
                             "more_records": False, "next_page_token": None}
    # The duration is taken when a job is created.
    sim.set_config(bulk_job_seconds=0)
    assert details(sim, auth, job_id(create(sim, auth, query)))["state"] == "COMPLETED"


# ------------------------------------------------------------------ CSV content
def test_csv_all_fields_match_records(sim: Simulator, auth: dict[str, str]) -> None:
    records = sim.records("Leads")
    converted = sum(1 for r in records if r["Converted__s"])
    unapproved = sum(1 for r in records if not r["$approved"])
    assert converted and unapproved  # Bulk Read exports them too
    meta = [f for f in field_meta(sim, auth, "Leads") if f["api_name"] != "id"]
    job, rows = export(sim, auth, {"module": {"api_name": "Leads"}, "fields": []})
    assert job["result"]["count"] == len(rows) == len(records)
    expected_cols = ["id", *(f["api_name"] for f in meta if f["data_type"] not in NO_COLUMN)]
    assert list(rows[0]) == expected_cols
    assert "Documents" not in rows[0] and "Photos" not in rows[0]
    assert [row["id"] for row in rows] == [r["id"] for r in records]  # id ascending
    by_type: dict[str, int] = {}
    for rec, row in zip(records, rows, strict=True):
        for f in meta:
            if f["data_type"] in NO_COLUMN:
                continue
            api = f["api_name"]
            assert row[api] == expected_cell(f, rec[api]), (rec["id"], api, rec[api], row[api])
            if rec[api] is not None:
                by_type[f["data_type"]] = by_type.get(f["data_type"], 0) + 1
    for dt in ("text", "textarea", "boolean", "datetime", "date", "integer", "long", "bigint",
               "double", "currency", "percent", "multiselectpicklist", "lookup", "ownerlookup",
               "userlookup", "consent_lookup", "formula", "rollup_summary", "autonumber",
               "picklist", "email", "phone", "website", "mediumtext", "profileimage"):
        assert by_type.get(dt), dt
    # Spot checks of the documented formats.
    sample = next(r for r in rows if r["Interests"].count(";") >= 1 and r["Tag"].count(","))
    assert sample["Email_Opt_Out"] in ("true", "false")
    assert sample["Created_Time"].endswith("+00:00") and len(sample["Created_Time"]) == 25
    assert len(sample["Owner"]) == 19 and sample["Owner"].isdigit()
    long_rich = max((r["Rich_Summary"] for r in rows), key=len)
    assert len(long_rich) > 500  # no list-call cut
    assert any(any(ord(c) > 127 for c in r["Last_Name"]) for r in rows)  # UTF-8 kept


def test_csv_other_modules(sim: Simulator, auth: dict[str, str]) -> None:
    for module in ("Tasks", "Events", "Quoted_Items", "Contacts_X_Deals", "Shipments",
                   "Deals", "Quotes"):
        records = sim.records(module)
        meta = {f["api_name"]: f for f in field_meta(sim, auth, module)}
        _, rows = export(sim, auth, {"module": {"api_name": module}})
        assert len(rows) == len(records), module
        for rec, row in zip(records, rows, strict=True):
            assert row["id"] == rec["id"]
            for api, cell in row.items():
                if api != "id":
                    assert cell == expected_cell(meta[api], rec[api]), (module, api)
        if module == "Tasks":
            rules = {r["Recurring_Activity"] for r in rows} - {""}
            assert rules and all(r.startswith("FREQ=") for r in rules)
            assert all(r["Remind_At"].startswith("FREQ=") for r in rows if r["Remind_At"])
            assert any(r["What_Id"].isdigit() for r in rows)
        if module == "Shipments":  # an unknown JSON type: compact JSON text
            assert all(json.loads(r["Zia_Insights"]) for r in rows if r["Zia_Insights"])
        if module == "Deals":
            assert "Team_Members" not in rows[0]  # multi-user lookup: no column
        if module == "Quotes":
            assert "Quoted_Items" not in rows[0]  # subform: exported as its own module


def test_csv_fields_order_and_dot_notation(sim: Simulator, auth: dict[str, str]) -> None:
    fields = ["Last_Name", "Owner", "Owner.last_name", "Owner.email", "Referring_Account",
              "Referring_Account.Account_Name", "Referring_Account.Industry", "Email_Opt_Out",
              "Last_Name", "id"]
    job, rows = export(sim, auth, {"module": {"api_name": "Leads"}, "fields": fields})
    assert list(rows[0]) == ["id", "Last_Name", "Owner", "Owner.last_name", "Owner.email",
                             "Referring_Account", "Referring_Account.Account_Name",
                             "Referring_Account.Industry", "Email_Opt_Out"]
    assert job["query"]["fields"] == fields
    users = {u["id"]: u for u in sim.users()}
    accounts = {a["id"]: a for a in sim.records("Accounts")}
    linked = 0
    for rec, row in zip(sim.records("Leads"), rows, strict=True):
        owner = users[rec["Owner"]["id"]]
        assert row["Owner"] == owner["id"]
        assert (row["Owner.last_name"], row["Owner.email"]) == (owner["last_name"],
                                                                 owner["email"])
        ref = rec["Referring_Account"]
        if ref is None:
            assert row["Referring_Account"] == row["Referring_Account.Account_Name"] == ""
            continue
        linked += 1
        acc = accounts[ref["id"]]
        assert row["Referring_Account"] == ref["id"]
        assert row["Referring_Account.Account_Name"] == acc["Account_Name"]
        assert row["Referring_Account.Industry"] == (acc["Industry"] or "")
    assert linked
    _, rows = export(sim, auth, {"module": {"api_name": "Accounts"}, "fields": ["id"]})
    assert rows == [{"id": a["id"]} for a in sim.records("Accounts")]
    _, rows = export(sim, auth, {"module": {"api_name": "Accounts"}, "fields": ["Rating"]})
    assert rows == [{"id": a["id"], "Rating": a["Rating"] or ""} for a in sim.records("Accounts")]


def test_snapshot_taken_at_creation(sim: Simulator, auth: dict[str, str]) -> None:
    sim.set_config(bulk_job_seconds=10)
    query = {"module": {"api_name": "Contacts"}, "fields": ["Last_Name", "Modified_Time"]}
    jid = job_id(create(sim, auth, query))
    first = sim.records("Contacts")[0]
    sim.update_record("Contacts", first["id"], {"Last_Name": "Changed-After-Snapshot"})
    new = sim.create_record("Contacts", {"Last_Name": "Created-After-Snapshot"})
    sim.delete_record("Contacts", sim.records("Contacts")[1]["id"])
    sim.advance_clock(10)
    rows = download(sim, auth, details(sim, auth, jid)["result"]["download_url"])
    assert rows[0]["id"] == first["id"] and rows[0]["Last_Name"] == first["Last_Name"]
    assert new["id"] not in {r["id"] for r in rows}
    assert len(rows) == len(sim.records("Contacts"))  # one created, one deleted
    sim.set_config(bulk_job_seconds=0)
    _, later = export(sim, auth, query)
    assert later[0]["Last_Name"] == "Changed-After-Snapshot"
    assert later[-1]["id"] == new["id"]


def test_csv_quoting_round_trip(sim: Simulator, auth: dict[str, str]) -> None:
    odd = {"Description": 'Line one\r\nLine "two", with a comma\nand a tab\t.',
           "Company": 'Smith, "Jones" & Søn', "Last_Name": "渡辺", "First_Name": '"',
           "City": ",", "Street": "\\back\\slash", "Interests": ["CRM", "Mail"],
           "Tag": [{"name": "VIP", "id": "1", "color_code": "#F17574"},
                   {"name": "Événement", "id": "2", "color_code": "#879BFC"}]}
    rec = sim.create_record("Leads", odd)
    fields = ["Description", "Company", "Last_Name", "First_Name", "City", "Street",
              "Interests", "Tag"]
    _, rows = export(sim, auth, {"module": {"api_name": "Leads"}, "fields": fields,
                                 "criteria": {"field": {"api_name": "id"},
                                              "comparator": "equal", "value": rec["id"]}})
    assert rows == [{"id": rec["id"], **{k: v for k, v in odd.items()
                                         if k not in ("Interests", "Tag")},
                     "Interests": "CRM;Mail", "Tag": "VIP,Événement"}]


# ------------------------------------------------------------------ criteria
def _mt(rec: dict[str, Any]) -> float:
    return datetime.fromisoformat(rec["Modified_Time"]).timestamp()


def test_criteria_on_modified_time(sim: Simulator, auth: dict[str, str]) -> None:
    records = sim.records("Leads")
    lo = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    hi = datetime(2025, 4, 1, tzinfo=UTC).timestamp()
    mt = {"api_name": "Modified_Time"}
    cases = [
        ({"field": mt, "comparator": "greater_equal", "value": "2025-01-01T00:00:00+00:00"},
         lambda t: t >= lo),
        ({"field": mt, "comparator": "less_than", "value": "2024-12-31T16:00:00-08:00"},
         lambda t: t < lo),
        ({"group_operator": "and", "group": [
            {"field": mt, "comparator": "greater_equal", "value": "2025-01-01T00:00:00Z"},
            {"field": mt, "comparator": "less_than", "value": "2025-04-01T00:00:00Z"}]},
         lambda t: lo <= t < hi),
        ({"field": mt, "comparator": "between",
          "value": ["2025-01-01T00:00:00Z", "2025-04-01T00:00:00Z"]},
         lambda t: lo <= t <= hi),
        ({"group_operator": "OR", "group": [
            {"field": mt, "comparator": "less_than", "value": "2025-01-01T00:00:00Z"},
            {"field": {"api_name": "Created_Time"}, "comparator": "greater_than",
             "value": "2025-04-01T00:00:00Z"}]},
         None),
    ]
    for criteria, keep in cases:
        job, rows = export(sim, auth, {"module": {"api_name": "Leads"}, "criteria": criteria,
                                       "fields": ["Modified_Time", "Created_Time"]})
        if keep is None:
            want = [r["id"] for r in records if _mt(r) < lo or datetime.fromisoformat(
                r["Created_Time"]).timestamp() > hi]
        else:
            want = [r["id"] for r in records if keep(_mt(r))]
        assert 0 < len(want) < len(records)
        assert [r["id"] for r in rows] == want, criteria
        assert job["result"]["count"] == len(want)
        assert job["query"]["criteria"] == criteria


def test_criteria_other_fields(sim: Simulator, auth: dict[str, str]) -> None:
    records = sim.records("Leads")
    owner = records[0]["Owner"]["id"]
    cases = [
        ({"field": {"api_name": "Lead_Source"}, "comparator": "in",
          "value": ["Chat", "Trade Show"]},
         lambda r: r["Lead_Source"] in ("Chat", "Trade Show")),
        ({"field": {"api_name": "Score_2024"}, "comparator": "greater_than", "value": "5000"},
         lambda r: r["Score_2024"] is not None and r["Score_2024"] > 5000),
        ({"field": {"api_name": "Converted__s"}, "comparator": "equal", "value": True},
         lambda r: r["Converted__s"]),
        ({"field": {"api_name": "Owner"}, "comparator": "equal", "value": owner},
         lambda r: r["Owner"]["id"] == owner),
        ({"field": {"api_name": "Last_Name"}, "comparator": "starts_with", "value": "s"},
         lambda r: r["Last_Name"].lower().startswith("s")),
        ({"field": {"api_name": "Company"}, "comparator": "equal", "value": "${EMPTY}"},
         lambda r: r["Company"] in (None, "")),
        ({"field": {"api_name": "Follow_Up_Date"}, "comparator": "less_equal",
          "value": "2024-06-30"},
         lambda r: r["Follow_Up_Date"] is not None and r["Follow_Up_Date"] <= "2024-06-30"),
    ]
    for criteria, keep in cases:
        _, rows = export(sim, auth, {"module": {"api_name": "Leads"}, "criteria": criteria,
                                     "fields": ["Last_Name"]})
        want = [r["id"] for r in records if keep(r)]
        assert want and [r["id"] for r in rows] == want, criteria


# ------------------------------------------------------------------ pagination
def test_pagination_by_page_and_page_token(sim: Simulator, auth: dict[str, str]) -> None:
    sim.set_config(bulk_page_size=250)
    ids = [r["id"] for r in sim.records("Leads")]  # 600 or so: pages of 250, 250, 100+
    assert 500 < len(ids) <= 750
    query = {"module": {"api_name": "Leads"}, "fields": ["Last_Name"],
             "criteria": {"field": {"api_name": "Created_Time"}, "comparator": "greater_than",
                          "value": "2000-01-01T00:00:00Z"}}
    by_page = []
    for page, count, more in ((1, 250, True), (2, 250, True), (3, len(ids) - 500, False)):
        job, rows = export(sim, auth, {**query, "page": page})
        res = job["result"]
        assert (res["page"], res["per_page"], res["count"], res["more_records"]) == (
            page, 250, count, more)
        assert (res["next_page_token"] is not None) == more
        by_page += [r["id"] for r in rows]
    assert by_page == ids
    _, rows = export(sim, auth, {**query, "page": 4})  # past the end: an empty file
    assert rows == []
    # Page tokens: only the token (Estuary's connector sends nothing else) or the same query.
    job, rows = export(sim, auth, query)
    chain = [r["id"] for r in rows]
    token = job["result"]["next_page_token"]
    bodies = [{"page_token": token}]
    while token:
        job, rows = export(sim, auth, bodies[-1])
        assert job["query"]["page_token"] == bodies[-1]["page_token"]
        assert job["query"]["module"]["api_name"] == "Leads"
        chain += [r["id"] for r in rows]
        token = job["result"]["next_page_token"]
        assert job["result"]["more_records"] == (token is not None)
        bodies.append({**query, "page_token": token})
    assert chain == ids and job["result"]["page"] == 3
    first = export(sim, auth, query)[0]["result"]["next_page_token"]
    for body, code in (({**query, "page_token": first, "page": 2},
                        "AMBIGUITY_DURING_PROCESSING"),
                       ({"page_token": first, "module": {"api_name": "Contacts"}},
                        "TOKEN_BOUND_DATA_MISMATCH"),
                       ({"page_token": first, "fields": ["Email"]},
                        "TOKEN_BOUND_DATA_MISMATCH")):
        r = create(sim, auth, body)
        assert r.status_code == 400 and code_of(r) == code, body
    sim.advance_clock(24 * 3600 + 1)
    r = create(sim, headers_for(sim), {"page_token": first})
    assert r.status_code == 400 and code_of(r) == "EXPIRED_VALUE"


def test_page_token_continues_after_the_last_id(sim: Simulator, auth: dict[str, str]) -> None:
    """A token continues after the last id exported, with the records as they are when the
    next job is created: new records (higher ids) come, deleted ones do not."""
    sim.set_config(bulk_page_size=20)
    query = {"module": {"api_name": "Accounts"}, "fields": ["Account_Name"]}
    job, first = export(sim, auth, query)
    gone = sim.records("Accounts")[30]["id"]
    sim.delete_record("Accounts", gone)
    new = sim.create_record("Accounts", {"Account_Name": "Newcomer"})
    rows = []
    while job["result"]["next_page_token"]:
        job, page = export(sim, auth, {"page_token": job["result"]["next_page_token"]})
        assert int(page[0]["id"]) > int((rows or first)[-1]["id"])
        rows += page
    ids = [r["id"] for r in first + rows]
    assert gone not in ids and ids[-1] == new["id"]
    assert ids == [r["id"] for r in sim.records("Accounts")]


def test_v2_paths(sim: Simulator, auth: dict[str, str]) -> None:
    sim.set_config(bulk_page_size=400)
    jid = job_id(create(sim, auth, {"module": "Leads", "page": 1}, version="v2"))
    job = details(sim, auth, jid, "v2")
    assert job["query"]["module"] == "Leads"
    # v2 docs: no page tokens.
    assert job["result"] == {"page": 1, "per_page": 400, "count": 400,
                             "download_url": f"/crm/bulk/v2/read/{jid}/result",
                             "more_records": True}
    rows = download(sim, auth, job["result"]["download_url"])
    assert len(rows) == 400
    assert "Converted__s" not in rows[0] and "Record_Status__s" not in rows[0]  # v4+ / v6+
    r = create(sim, auth, {"module": "Leads", "page_token": "x"}, version="v2")
    assert r.status_code == 400 and code_of(r) == "INVALID_DATA"
    # A v8 job is readable through v2 paths (and the other way round).
    jid8 = job_id(create(sim, auth, {"module": {"api_name": "Leads"}}))
    assert details(sim, auth, jid8, "v2")["result"]["download_url"].startswith("/crm/bulk/v2/")


# ------------------------------------------------------------------ downloads
def test_download_rate_limit(sim: Simulator, auth: dict[str, str]) -> None:
    job, _ = export(sim, auth, {"module": {"api_name": "Accounts"}})  # download 1
    url = f"{sim.url}{job['result']['download_url']}"
    for _ in range(9):  # downloads 2..10
        assert requests.get(url, headers=auth, timeout=30).status_code == 200
    r = requests.get(url, headers=auth, timeout=30)
    assert r.status_code == 429 and r.json() == {
        "code": "TOO_MANY_REQUESTS", "details": {}, "status": "error",
        "message": r.json()["message"]}
    sim.advance_clock(50)
    assert requests.get(url, headers=auth, timeout=30).status_code == 429  # blocked a minute
    # Job details are not downloads.
    assert details(sim, auth, job["id"])["state"] == "COMPLETED"
    sim.advance_clock(11)
    r = requests.get(url, headers=auth, timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-download"
    assert r.headers["Content-Disposition"] == f'attachment; filename="{job["id"]}.zip"'


def test_download_faults(sim: Simulator, auth: dict[str, str]) -> None:
    job, _ = export(sim, auth, {"module": {"api_name": "Contacts"}})
    url = f"{sim.url}{job['result']['download_url']}"
    sim.add_fault(r"/result$", status=500)
    r = requests.get(url, headers=auth, timeout=30)
    assert r.status_code == 500 and code_of(r) == "INTERNAL_ERROR"
    sim.add_fault(r"/result$", truncate=True)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(url, headers=auth, timeout=30)
    assert requests.get(url, headers=auth, timeout=30).status_code == 200


def test_control_api(sim: Simulator, auth: dict[str, str]) -> None:
    jid = job_id(create(sim, auth, {"module": {"api_name": "Accounts"}}))
    jobs = requests.get(f"{sim.url}/__sim/bulk_jobs", timeout=10).json()["jobs"]
    mine = next(j for j in jobs if j["id"] == jid)
    assert mine["module"] == "Accounts" and mine["count"] == len(sim.records("Accounts"))
    assert mine["state"] == "COMPLETED" and mine["columns"][0] == "Owner"
    r = requests.post(f"{sim.url}/__sim/config", json={"bulk_job_seconds": 5,
                                                       "bulk_page_size": 7}, timeout=10)
    assert r.json()["config"]["bulk_page_size"] == 7
    jid = job_id(create(sim, auth, {"module": {"api_name": "Accounts"}}))
    assert details(sim, auth, jid)["state"] == "ADDED"
    with pytest.raises(ValueError):
        sim.set_config(bulk_page_size=0)
