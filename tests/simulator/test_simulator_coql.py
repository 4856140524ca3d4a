"""COQL in the simulator over real HTTP (`POST /crm/{version}/coql`): the query language, its
limits and errors by API version, value shapes, credits, the COQL concurrency limit, scopes and
the switches for what Zoho's docs leave open. Every v8 exchange is checked against Zoho's
OpenAPI files (tests/zoho_openapi.py), as the tap tests' are."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import requests

from tests import zoho_openapi
from tests.simulator.tokens import token_headers
from zoho_simulator import Simulator
from zoho_simulator.coql_api import modified_lower_bound
from zoho_simulator.coql_query import parse_query
from zoho_simulator.exchanges import ExchangeLog

SIZES = {"Leads": 600, "Contacts": 60, "Accounts": 30}
COQL = "ZohoCRM.coql.READ,ZohoCRM.modules.ALL,ZohoCRM.settings.ALL"
VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")


def started(**kwargs: Any) -> Simulator:
    """A simulator whose every exchange is kept for the OpenAPI check (its own log: the
    session's per-test drain would empty the shared one before the check)."""
    sim = Simulator(**kwargs)
    sim.exchanges.closed = True  # the session's log of it, never written: let it go
    sim.exchanges = ExchangeLog(enabled=True)
    return sim.start()


def openapi_differences(sim: Simulator) -> list[zoho_openapi.Mismatch]:
    return zoho_openapi.Tally().check(sim.exchanges.drain())


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    s = started(seed=5, sizes=SIZES)
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _checked(sim: Simulator) -> Iterator[None]:
    """Each test's exchanges pass the OpenAPI check; switches and faults are put back."""
    sim.exchanges.drain()
    yield
    sim.set_config(latency_ms=0, coql_returns_converted=False, coql_returns_unapproved=False,
                   coql_ties_in_id_order=False, coql_offset_snapshot=False,
                   coql_full_rich_text=False, coql_concurrency_limit=10)
    found = openapi_differences(sim)
    assert not found, zoho_openapi.report(found)


def headers_for(sim: Simulator, scope: str = COQL) -> dict[str, str]:
    return token_headers(sim, scope)


@pytest.fixture(scope="module")
def auth(sim: Simulator) -> dict[str, str]:
    return headers_for(sim)


def coql(sim: Simulator, auth: dict[str, str], query: str, version: str = "v8"
         ) -> requests.Response:
    return requests.post(f"{sim.url}/crm/{version}/coql", json={"select_query": query},
                         headers=auth, timeout=30)


def rows(r: requests.Response) -> list[dict[str, Any]]:
    if r.status_code == 204:
        return []
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def error(r: requests.Response) -> tuple[int, str]:
    return r.status_code, str(r.json()["code"])


def visible(sim: Simulator, module: str = "Leads") -> list[dict[str, Any]]:
    """The records COQL returns by default: no converted Lead, none pending approval."""
    return [r for r in sim.records(module) if r.get("$approved", True)
            and not r.get("Converted__s")]


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in records]


def read_all(sim: Simulator, auth: dict[str, str], where: str, fields: str = "Last_Name",
             module: str = "Leads") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        r = coql(sim, auth, f"select {fields} from {module} where {where} "
                            f"limit {offset}, 2000")
        page = rows(r)
        out += page
        if not page or not r.json()["info"]["more_records"]:
            return out
        offset += len(page)


# ------------------------------------------------------------------ the answer


def test_answer_defaults_to_200_rows_by_id_with_only_the_selected_fields(
        sim: Simulator, auth: dict[str, str]) -> None:
    r = coql(sim, auth, "select Last_Name, Email from Leads where id is not null")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"data", "info"}
    assert body["info"] == {"count": 200, "more_records": True}
    assert [set(row) for row in body["data"]] == [{"Last_Name", "Email", "id"}] * 200
    expected = sorted(visible(sim), key=lambda rec: int(rec["id"]))[:200]
    assert ids(body["data"]) == ids(expected)
    assert [row["Email"] for row in body["data"]] == [rec["Email"] for rec in expected]


def test_no_matching_row_answers_204(sim: Simulator, auth: dict[str, str]) -> None:
    r = coql(sim, auth, "select Last_Name from Leads where Last_Name = 'No such name'")
    assert r.status_code == 204
    assert r.content == b""


def test_every_row_once_across_offset_pages(sim: Simulator, auth: dict[str, str]) -> None:
    got = read_all(sim, auth, "id is not null")
    assert sorted(ids(got)) == sorted(ids(visible(sim)))
    assert len(set(ids(got))) == len(got)
    last = coql(sim, auth, f"select Last_Name from Leads where id is not null "
                           f"limit 10 offset {len(got) - 10}").json()
    assert last["info"] == {"count": 10, "more_records": False}


def test_limit_m_comma_n_is_offset_m_then_n_rows(sim: Simulator, auth: dict[str, str]) -> None:
    a = rows(coql(sim, auth, "select Last_Name from Leads where id is not null limit 30, 7"))
    b = rows(coql(sim, auth, "select Last_Name from Leads where id is not null "
                             "limit 7 offset 30"))
    assert len(a) == 7
    assert a == b


# ------------------------------------------------------------------ criteria


def at_or_after(value: str | None, bound: str) -> bool:
    return value is not None and datetime.fromisoformat(value) >= datetime.fromisoformat(bound)


def before(value: str | None, bound: str) -> bool:
    return value is not None and datetime.fromisoformat(value) < datetime.fromisoformat(bound)


OPERATORS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("Lead_Source = 'Trade Show'", lambda r: r["Lead_Source"] == "Trade Show"),
    ("Lead_Source = Advertisement", lambda r: r["Lead_Source"] == "Advertisement"),
    ("Lead_Source != 'Trade Show'", lambda r: r["Lead_Source"] not in (None, "Trade Show")),
    ("Last_Name = 'SMITH'", lambda r: (r["Last_Name"] or "").lower() == "smith"),
    ("Score_2024 < 500", lambda r: r["Score_2024"] is not None and r["Score_2024"] < 500),
    ("Score_2024 <= 500", lambda r: r["Score_2024"] is not None and r["Score_2024"] <= 500),
    ("Score_2024 > 9000", lambda r: r["Score_2024"] is not None and r["Score_2024"] > 9000),
    ("Score_2024 >= 9000", lambda r: r["Score_2024"] is not None and r["Score_2024"] >= 9000),
    ("Next_Call_At >= '2025-06-01T05:30:00+05:30'",
     lambda r: at_or_after(r["Next_Call_At"], "2025-06-01T05:30:00+05:30")),
    ("Modified_Time < '2024-06-01T00:00:00Z'",
     lambda r: before(r["Modified_Time"], "2024-06-01T00:00:00+00:00")),
    ("Follow_Up_Date between '2025-01-01' and '2025-03-31'",
     lambda r: r["Follow_Up_Date"] is not None
     and "2025-01-01" <= r["Follow_Up_Date"] <= "2025-03-31"),
    ("Budget not between 1000 and 500000",
     lambda r: r["Budget"] is not None and not 1000 <= r["Budget"] <= 500000),
    ("Email is null", lambda r: r["Email"] is None),
    ("Email is not null", lambda r: r["Email"] is not None),
    ("Lead_Source in ('Chat', 'Partner')", lambda r: r["Lead_Source"] in ("Chat", "Partner")),
    ("Lead_Source not in ('Chat', 'Partner')",
     lambda r: r["Lead_Source"] not in (None, "Chat", "Partner")),
    ("Last_Name like 'Mi%'", lambda r: (r["Last_Name"] or "").lower().startswith("mi")),
    ("Last_Name like '%son'", lambda r: (r["Last_Name"] or "").lower().endswith("son")),
    ("Last_Name like '%ar%'", lambda r: "ar" in (r["Last_Name"] or "").lower()),
    ("Last_Name not like '%ar%'",
     lambda r: r["Last_Name"] is not None and "ar" not in r["Last_Name"].lower()),
    ("Owner = '5725767000000374001'", lambda r: r["Owner"]["id"] == "5725767000000374001"),
    ("Is_Partner = 'true'", lambda r: r["Is_Partner"] is True),
    ("id > 5725767000001000000", lambda r: int(r["id"]) > 5725767000001000000),
    ("(Lead_Source = 'Chat' or Lead_Source = 'Partner') and Score_2024 > 5000",
     lambda r: r["Lead_Source"] in ("Chat", "Partner") and (r["Score_2024"] or 0) > 5000),
]


@pytest.mark.parametrize(("where", "test"), OPERATORS, ids=[w for w, _ in OPERATORS])
def test_each_comparator_selects_what_it_says(sim: Simulator, auth: dict[str, str], where: str,
                                              test: Callable[[dict[str, Any]], bool]) -> None:
    expected = sorted(ids([rec for rec in visible(sim) if test(rec)]), key=int)
    assert expected, "a comparator test that selects nothing proves nothing"
    assert ids(read_all(sim, auth, where)) == expected


@pytest.mark.parametrize("where", [
    "id is not null and Email is null and Score_2024 > 10",
    "id is not null and Email is null or Score_2024 > 10",
    "(id is not null and Email is null and Score_2024 > 10)",
])
def test_three_criteria_without_pairwise_brackets_are_a_syntax_error(
        sim: Simulator, auth: dict[str, str], where: str) -> None:
    r = coql(sim, auth, f"select Last_Name from Leads where {where}")
    assert error(r) == (400, "SYNTAX_ERROR")
    assert set(r.json()["details"]) == {"line", "column", "near"}


@pytest.mark.parametrize("where", [
    "(id is not null and Email is null) and Score_2024 > 10",
    "id is not null and (Email is null and Score_2024 > 10)",
    "((id is not null and Email is null) and Score_2024 > 10)",
])
def test_pairwise_brackets_are_accepted(sim: Simulator, auth: dict[str, str], where: str) -> None:
    expected = [rec for rec in visible(sim)
                if rec["Email"] is None and (rec["Score_2024"] or 0) > 10]
    assert sorted(ids(read_all(sim, auth, where)), key=int) == sorted(ids(expected), key=int)


@pytest.mark.parametrize(("query", "clause"), [
    ("select Last_Name from Leads", "where"),
    ("select Last_Name from Leads order by Last_Name", "where"),
    ("select Last_Name", "from"),
    ("update Leads set Last_Name = 'x' where id = 1", "select"),
])
def test_a_missing_clause_or_another_statement_is_a_syntax_error(
        sim: Simulator, auth: dict[str, str], query: str, clause: str) -> None:
    r = coql(sim, auth, query)
    assert error(r) == (400, "SYNTAX_ERROR")
    assert r.json()["details"] == {"clause": clause}


def test_quotes_doubled_inside_a_string_and_reserved_names_quoted(
        sim: Simulator, auth: dict[str, str]) -> None:
    made = sim.create_record("Leads", {"Last_Name": "O'Brien", "Company": 'The "Q" Shop'})
    try:
        got = rows(coql(sim, auth, "select 'Last_Name', \"Company\" from Leads where "
                                   "Last_Name = 'O''Brien' and "
                                   "Company = \"The \"\"Q\"\" Shop\""))
        assert got == [{"Last_Name": "O'Brien", "Company": 'The "Q" Shop', "id": made["id"]}]
        assert error(coql(sim, auth, "select from from Leads where id is not null")) == (
            400, "SYNTAX_ERROR")
    finally:
        sim.delete_record("Leads", made["id"], permanent=True)


# ------------------------------------------------------------------ limits and errors


def _criteria(n: int) -> str:
    """`n` criteria, each new one bracketed with all before it: ((A and B) and C) ..."""
    where = "Score_2024 > -1"
    for i in range(1, n):
        where = f"({where} and Score_2024 > {-1 - i})"
    return where


@pytest.mark.parametrize("version", VERSIONS)
def test_limit_and_offset_reach_by_version(sim: Simulator, auth: dict[str, str],
                                           version: str) -> None:
    rows_max = 200 if version in ("v2", "v2.1", "v3") else 2000
    reach = 100_000 if version in ("v7", "v8") else 10_000

    def ask(tail: str) -> requests.Response:
        return coql(sim, auth, f"select Last_Name from Leads where id is not null {tail}",
                    version)

    assert len(rows(ask(f"limit {rows_max}"))) == min(rows_max, len(visible(sim)))
    assert error(ask(f"limit {rows_max + 1}")) == (400, "LIMIT_EXCEEDED")
    assert ask(f"limit {rows_max} offset {reach - rows_max}").status_code == 204
    over = ask(f"limit {rows_max} offset {reach - rows_max + 1}")
    assert error(over) == (400, "LIMIT_EXCEEDED")
    assert over.json()["details"] == {"clause": "offset", "limit": reach}


@pytest.mark.parametrize(("version", "columns", "in_values"),
                         [("v2", 50, 50), ("v6", 50, 50), ("v7", 500, 100), ("v8", 500, 100)])
def test_select_columns_and_in_values_by_version(sim: Simulator, auth: dict[str, str],
                                                 version: str, columns: int,
                                                 in_values: int) -> None:
    def select(n: int) -> requests.Response:
        names = ", ".join(f"No_Such_Field_{i}" for i in range(n))
        return coql(sim, auth, f"select {names} from Leads where id is not null", version)

    # Within the limit the names are read (and refused: no such fields); past it, counted.
    assert error(select(columns)) == (400, "INVALID_QUERY")
    assert error(select(columns + 1)) == (400, "LIMIT_EXCEEDED")

    def where_in(n: int) -> requests.Response:
        values = ", ".join(str(i) for i in range(n))
        return coql(sim, auth, f"select Last_Name from Leads where Score_2024 in ({values})",
                    version)

    assert where_in(in_values).status_code in (200, 204)
    assert error(where_in(in_values + 1)) == (400, "LIMIT_EXCEEDED")


def test_25_criteria_and_10_order_by_fields_at_most(sim: Simulator, auth: dict[str, str]) -> None:
    ok = coql(sim, auth, f"select Last_Name from Leads where {_criteria(25)} limit 5")
    assert len(rows(ok)) == 5
    assert error(coql(sim, auth, f"select Last_Name from Leads where {_criteria(26)}")) == (
        400, "LIMIT_EXCEEDED")
    fields = ["Last_Name", "First_Name", "Email", "Company", "City", "State", "Country",
              "Score_2024", "Budget", "Next_Call_At", "Follow_Up_Date"]
    ten = coql(sim, auth, "select Last_Name from Leads where id is not null order by "
                          + ", ".join(fields[:10]))
    assert ten.status_code == 200
    assert error(coql(sim, auth, "select Last_Name from Leads where id is not null order by "
                                 + ", ".join(fields))) == (400, "LIMIT_EXCEEDED")


def test_duplicate_columns_are_duplicate_data(sim: Simulator, auth: dict[str, str]) -> None:
    assert error(coql(sim, auth, "select Email, Last_Name, Email from Leads where id is not "
                                 "null")) == (400, "DUPLICATE_DATA")
    assert error(coql(sim, auth, "select id from Leads where id is not null order by id, id")
                 ) == (400, "DUPLICATE_DATA")


@pytest.mark.parametrize(("module", "field", "data_type"), [
    ("Leads", "Photos", "imageupload"),
    ("Leads", "Documents", "fileupload"),
    ("Contacts", "Related_Deals", "multiselectlookup"),
    ("Quotes", "Quoted_Items", "subform"),
])
def test_types_coql_cannot_select(sim: Simulator, auth: dict[str, str], module: str, field: str,
                                  data_type: str) -> None:
    r = coql(sim, auth, f"select {field} from {module} where id is not null")
    assert error(r) == (400, "INVALID_QUERY")
    assert r.json()["message"] == "data type not supported"
    assert r.json()["details"] == {"column_name": field, "clause": "select",
                                   "data_type": data_type}


def test_participants_and_territories() -> None:
    s = started(seed=5, sizes={"Leads": 20, "Events": 10})
    try:
        h = headers_for(s)
        s.add_field("Events", {"api_name": "Participants", "data_type": "participantpicklist"})
        s.add_field("Leads", {"api_name": "Territories", "data_type": "territories"})
        assert error(coql(s, h, "select Participants from Events where id is not null")) == (
            400, "INVALID_QUERY")
        # Territories: not in COQL before v7; from v7 in SELECT only.
        query = "select Territories from Leads where id is not null"
        assert error(coql(s, h, query, "v6")) == (400, "INVALID_QUERY")
        assert coql(s, h, query, "v7").status_code == 200
        r = coql(s, h, "select Last_Name from Leads where Territories is not null", "v8")
        assert error(r) == (400, "INVALID_QUERY")
        assert "SELECT" in r.json()["message"]
        assert not openapi_differences(s)
    finally:
        s.stop()


def test_subform_and_linking_modules_are_queried_by_name(sim: Simulator,
                                                         auth: dict[str, str]) -> None:
    got = read_all(sim, auth, "Quantity > 0", "Product_Name, Quantity, Parent_Id",
                   module="Quoted_Items")
    assert sorted(ids(got)) == sorted(ids(visible(sim, "Quoted_Items")))
    assert set(got[0]) == {"Product_Name", "Quantity", "Parent_Id", "id"}
    links = read_all(sim, auth, "id is not null", "Contacts, Deals", module="Contacts_X_Deals")
    assert sorted(ids(links)) == sorted(ids(visible(sim, "Contacts_X_Deals")))


@pytest.mark.parametrize(("query", "status", "code"), [
    ("select No_Such_Field from Leads where id is not null", 400, "INVALID_QUERY"),
    ("select Last_Name from Leads where No_Such_Field = 1", 400, "INVALID_QUERY"),
    ("select Last_Name from Leads where id is not null order by Nope", 400, "INVALID_QUERY"),
    ("select Last_Name from No_Such_Module where id is not null", 400, "INVALID_MODULE"),
    ("select Last_Name from Leads where Score_2024 = 'many'", 400, "INVALID_QUERY"),
    ("select Last_Name from Leads where Last_Name >= 'a'", 400, "INVALID_QUERY"),
    ("select Last_Name from Leads where Description = 'x'", 400, "INVALID_QUERY"),
    ("select Last_Name from Leads where Next_Call_At > '2025-01-01'", 400, "INVALID_QUERY"),
    ("select Last_Name from Leads where Last_Name not like 'a%'", 400, "INVALID_QUERY"),
    ("select Subject from Invoices where id is not null", 403, "NO_PERMISSION"),
])
def test_unknown_names_and_wrong_values(sim: Simulator, auth: dict[str, str], query: str,
                                        status: int, code: str) -> None:
    assert error(coql(sim, auth, query)) == (status, code)


def test_unknown_column_names_it(sim: Simulator, auth: dict[str, str]) -> None:
    r = coql(sim, auth, "select Last_Name, Testing from Leads where id is not null")
    assert r.json()["message"] == "column given seems to be invalid"
    assert r.json()["details"] == {"column_name": "Testing", "clause": "select"}


def test_a_query_is_posted(sim: Simulator, auth: dict[str, str]) -> None:
    r = requests.get(f"{sim.url}/crm/v8/coql", headers=auth, timeout=10)
    assert error(r) == (400, "INVALID_REQUEST_METHOD")


# ------------------------------------------------------------------ values by version


SHAPED = ("Last_Name, Owner, Created_By, Referring_Account, Account_Manager, "
          "Data_Processing_Basis_Details, Interests, Next_Call_At, Follow_Up_Date, Budget, "
          "Score_2024, External_Ref_Id, Is_Partner, Expected_Value")


@pytest.mark.parametrize("version", ["v2", "v6", "v7", "v8"])
def test_values_as_get_records_renders_them_and_lookups_by_version(
        sim: Simulator, auth: dict[str, str], version: str) -> None:
    got = rows(coql(sim, auth, f"select {SHAPED} from Leads where id is not null", version))
    listed = {rec["id"]: rec for rec in sim.records("Leads", version)}
    last_names = {u["id"]: u["last_name"] for u in sim.users()}
    lookups = ("Owner", "Created_By", "Referring_Account", "Account_Manager")
    for row in got:
        rec = listed[row["id"]]
        for name in ("Last_Name", "Interests", "Next_Call_At", "Follow_Up_Date", "Budget",
                     "Score_2024", "External_Ref_Id", "Is_Partner", "Expected_Value"):
            assert row[name] == rec[name], name
        for name in lookups:
            want = rec[name]
            if want is None:
                assert row[name] is None
            elif version in ("v2", "v6"):
                assert row[name] == {"id": want["id"]}, name
            elif name == "Referring_Account":
                assert row[name] == {"name": want["name"], "id": want["id"]}
            else:  # users: the last name
                assert row[name] == {"name": last_names[want["id"]], "id": want["id"]}
        consent = rec["Data_Processing_Basis_Details"]
        assert row["Data_Processing_Basis_Details"] == (consent and {"id": consent["id"]})
    assert any(isinstance(row["Interests"], list) and row["Interests"] for row in got)
    assert any(row["Referring_Account"] for row in got)


def test_rich_text_cut_at_500_from_v7_unless_switched(sim: Simulator,
                                                      auth: dict[str, str]) -> None:
    full = {rec["id"]: rec["Rich_Summary"] for rec in sim.records("Leads")}
    long_ids = [i for i, text in full.items() if text and len(text) > 500][:5]
    where = f"id in ({', '.join(long_ids)})"
    for version, cut in (("v6", False), ("v8", True)):
        got = rows(coql(sim, auth, f"select Rich_Summary from Leads where {where}", version))
        assert got
        for row in got:
            want = full[row["id"]]
            assert row["Rich_Summary"] == (want[:500] if cut else want)
    sim.set_config(coql_full_rich_text=True)
    got = rows(coql(sim, auth, f"select Rich_Summary from Leads where {where}"))
    assert all(row["Rich_Summary"] == full[row["id"]] for row in got)


# ------------------------------------------------------------------ credits, concurrency


@pytest.mark.parametrize(("limit", "credits"), [
    (None, 1), (1, 1), (200, 1), (201, 2), (1000, 2), (1001, 3), (2000, 3)])
def test_credits_by_limit(sim: Simulator, auth: dict[str, str], limit: int | None,
                          credits: int) -> None:
    sim.reset_stats()
    tail = "" if limit is None else f" limit {limit}"
    assert coql(sim, auth, f"select Last_Name from Leads where id is not null{tail}"
                ).status_code == 200
    assert sim.stats()["credits_used"] == credits


def test_at_most_10_coql_calls_in_flight(sim: Simulator, auth: dict[str, str]) -> None:
    sim.set_config(latency_ms=1000)  # all twelve in flight at once, even on a busy machine
    sim.reset_stats()
    gate = threading.Barrier(12)

    def one(_: int) -> requests.Response:
        gate.wait()
        return coql(sim, auth, "select Last_Name from Leads where id is not null limit 5")

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, range(12)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 10 + [429] * 2
    refused = [r for r in answers if r.status_code == 429]
    assert all(r.json()["code"] == "TOO_MANY_REQUESTS" for r in refused)
    assert "Retry-After" not in refused[0].headers
    stats = sim.stats()
    assert stats["max_concurrent_coql"] == 10
    assert stats["coql_refused"] == 2


# ------------------------------------------------------------------ scopes


@pytest.mark.parametrize(("scope", "status"), [
    ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL", 401),
    ("ZohoCRM.coql.READ", 401),
    ("ZohoCRM.coql.READ,ZohoCRM.modules.contacts.READ", 401),
    ("ZohoCRM.coql.READ,ZohoCRM.modules.leads.READ", 200),
    ("ZohoCRM.coql.READ,ZohoCRM.modules.READ", 200),
])
def test_coql_scope_and_the_modules_read_scope(sim: Simulator, scope: str, status: int) -> None:
    r = coql(sim, headers_for(sim, scope), "select Last_Name from Leads where id is not null")
    assert r.status_code == status
    if status == 401:
        assert r.json()["code"] == "OAUTH_SCOPE_MISMATCH"


def test_notes_only_for_administrators() -> None:
    s = started(seed=5, sizes={"Leads": 10}, user_is_admin=False)
    try:
        r = coql(s, headers_for(s), "select Note_Title from Notes where id is not null")
        assert error(r) == (403, "NOT_SUPPORTED")
    finally:
        s.stop()


# ------------------------------------------------------------------ what the docs leave open


def test_converted_leads_and_records_pending_approval_left_out_unless_switched(
        sim: Simulator, auth: dict[str, str]) -> None:
    records = sim.records("Leads")
    converted = next(r["id"] for r in records if r["Converted__s"] and r["$approved"])
    pending = next(r["id"] for r in records if not r["$approved"] and not r["Converted__s"])
    query = f"select Last_Name from Leads where id in ({converted}, {pending})"
    assert coql(sim, auth, query).status_code == 204
    sim.set_config(coql_returns_converted=True)
    assert ids(rows(coql(sim, auth, query))) == [converted]
    sim.set_config(coql_returns_unapproved=True)
    assert sorted(ids(rows(coql(sim, auth, query))), key=int) == sorted([converted, pending],
                                                                         key=int)


def test_rows_tied_on_every_order_by_field_change_order_unless_switched(
        sim: Simulator, auth: dict[str, str]) -> None:
    second = sim.crowd_second("Leads", 40)
    query = (f"select Modified_Time from Leads where Modified_Time = '{second}' "
             f"order by Modified_Time")
    first, again = ids(rows(coql(sim, auth, query))), ids(rows(coql(sim, auth, query)))
    assert len(first) > 20
    assert sorted(first) == sorted(again)
    assert first != again
    assert first != sorted(first, key=int)
    sim.set_config(coql_ties_in_id_order=True)
    assert ids(rows(coql(sim, auth, query))) == sorted(first, key=int)
    assert ids(rows(coql(sim, auth, query))) == sorted(first, key=int)


@pytest.mark.parametrize("order", ["id", "Modified_Time asc, id asc"])
@pytest.mark.parametrize("snapshot", [False, True])
def test_offset_pages_over_the_live_data_unless_switched(snapshot: bool, order: str) -> None:
    s = started(seed=5, sizes={"Leads": 60}, coql_offset_snapshot=snapshot)
    try:
        h = headers_for(s)
        everyone = ids(rows(coql(s, h, "select Last_Name from Leads where id is not null "
                                       f"order by {order} limit 100")))
        query = ("select Last_Name from Leads where id is not null "
                 f"order by {order} limit 10 offset {{}}")
        page1 = ids(rows(coql(s, h, query.format(0))))
        s.delete_record("Leads", page1[3])  # behind the read position
        page2 = ids(rows(coql(s, h, query.format(10))))
        if snapshot:  # positions as they were at OFFSET 0
            assert page2 == everyone[10:20]
        else:  # every row after the deleted one moved up: one is never read
            assert page2 == everyone[11:21]
            assert everyone[10] not in page1 + page2
        assert not openapi_differences(s)
    finally:
        s.stop()


def test_churn_edits_before_each_query() -> None:
    s = started(seed=5, sizes={"Leads": 40})
    try:
        h = headers_for(s)
        s.start_churn("Leads", per_call=3, seed=1)
        coql(s, h, "select Last_Name from Leads where id is not null")
        done = s.stop_churn()["Leads"]
        assert [len(done[op]) for op in ("edit", "delete", "create")] == [1, 1, 1]
    finally:
        s.stop()


@pytest.mark.parametrize("switches", [{}, {"coql_returns_converted": True,
                                           "coql_returns_unapproved": True}])
def test_keyset_queries_answer_as_any_other_ordering_would(
        sim: Simulator, auth: dict[str, str], switches: dict[str, bool]) -> None:
    # A query ordered by Modified_Time then id is answered from the module's Modified_Time
    # order, from the lower bound its WHERE sets; a third ORDER BY field that changes nothing
    # takes the general way (every record tested and sorted). Both pages agree, at any bound
    # and OFFSET, converted and unapproved Leads left out or not.
    sim.set_config(**switches)
    leads = sorted(sim.records("Leads"), key=lambda r: (r["Modified_Time"], int(r["id"])))
    times = [r["Modified_Time"] for r in leads]
    # The tap's keyset: past the last (Modified_Time, id) read.
    past = ("((Modified_Time > '{t}') or ((Modified_Time = '{t}') and (id > {i})))"
            .format(t=times[300], i=leads[300]["id"]))
    for where, offset in ((f"where Modified_Time >= '{times[0]}'", 0),
                          (f"where Modified_Time >= '{times[250]}'", 0),
                          (f"where Modified_Time >= '{times[250]}' and Lead_Source is not null",
                           0),
                          (f"where Modified_Time >= '{times[400]}'", 7),
                          (f"where Modified_Time >= '{times[-1]}'", 0),
                          (f"where {past}", 0), (f"where {past}", 5), ("where id is not null", 3)):
        paged = coql(sim, auth, f"select Last_Name from Leads {where} order by "
                                f"Modified_Time asc, id asc limit 90 offset {offset}")
        general = coql(sim, auth, f"select Last_Name from Leads {where} order by "
                                  f"Modified_Time asc, id asc, Created_Time asc "
                                  f"limit 90 offset {offset}")
        assert rows(paged) == rows(general), (where, offset)
        assert paged.status_code == general.status_code
        if paged.status_code == 200:
            assert paged.json()["info"] == general.json()["info"], (where, offset)


@pytest.mark.parametrize(("where", "bound"), [
    ("Modified_Time >= '2025-01-01T00:00:00+00:00'", "2025-01-01T00:00:00+00:00"),
    # The tap's keyset: `or` of two sides that both bound Modified_Time.
    ("((Modified_Time > '2025-01-01T00:00:00+00:00') or ((Modified_Time = "
     "'2025-01-01T00:00:00+00:00') and (id > 5)))", "2025-01-01T00:00:00+00:00"),
    ("((Modified_Time >= '2025-01-01T00:00:00+00:00') and (Modified_Time > "
     "'2025-02-01T00:00:00+00:00'))", "2025-02-01T00:00:00+00:00"),
    ("((Modified_Time > '2025-01-01T00:00:00+00:00') or (id > 5))", None),
    ("(Modified_Time < '2025-01-01T00:00:00+00:00')", None),
    ("(id is not null)", None),
])
def test_the_lower_bound_a_where_sets_on_modified_time(where: str, bound: str | None) -> None:
    # What lets a keyset query of a million-record module start where its rows do.
    query = parse_query(f"select Last_Name from Leads where {where}")
    want = datetime.fromisoformat(bound).timestamp() if bound else None
    assert modified_lower_bound(query.where) == want
