"""The COQL read path's logic given scripted answers: keyset queries, column groups, refused
columns, credits by LIMIT, owners from the users directory, the path chosen by cost."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from tap_zohocrm.api_versions import VERSIONS
from tap_zohocrm.reads.coql_pages import CoqlPages, CoqlRefused, coql_cost, keyset_where
from tap_zohocrm.reads.coql_read import CoqlRead, _Hidden
from tap_zohocrm.reads.plan import PlanInputs, make_plan
from tap_zohocrm.reads.rich_text import RichText
from tap_zohocrm.reads.users_directory import UsersDirectory
from tap_zohocrm.sync.limits import call_cost, coql_credits
from tests.unit.answers import FakeCalls

V8, V6 = VERSIONS["v8"], VERSIONS["v6"]
ROWS = [{"id": str(100 + i), "Modified_Time": f"2026-12-07T10:00:{i // 3:02d}+00:00",
         "Last_Name": f"L{i}", "Owner": {"id": "7", "name": "Smith"}} for i in range(9)]


def coql_answer(rows: list[dict[str, Any]]):
    """A COQL endpoint over `rows`: keyset WHERE, ORDER BY (Modified_Time, id), LIMIT."""
    def answer(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        query = params["json"]["select_query"]
        limit = int(re.search(r"limit (\d+)", query).group(1))
        if (ids := re.search(r"id in \(([^)]*)\)", query)):
            wanted = ids.group(1).split(", ")
            found = [{"id": r["id"], "Email": r["id"] + "@x"} for r in rows if r["id"] in wanted]
            return 200, {"data": found, "info": {"count": len(found), "more_records": False}}
        after = re.search(r"Modified_Time = '([^']+)'\) and \(id > (\d+)", query)
        since = re.search(r"Modified_Time >= '([^']+)'", query)
        key = [r for r in rows if (not after or (r["Modified_Time"], int(r["id"])) > (
            after.group(1), int(after.group(2)))) and (not since or r["Modified_Time"] >=
                                                       since.group(1))]
        page = key[:limit]
        if not page:
            return 204, None
        return 200, {"data": [dict(r) for r in page],
                     "info": {"count": len(page), "more_records": len(key) > limit}}
    return answer


def test_keyset_where_pairs_its_criteria() -> None:
    assert keyset_where(None, None) == "(id is not null)"
    assert keyset_where("2026-12-07T10:00:00+00:00", None) == (
        "(Modified_Time >= '2026-12-07T10:00:00+00:00')")
    assert keyset_where(None, ("2026-12-07T10:00:00+00:00", "42")) == (
        "((Modified_Time > '2026-12-07T10:00:00+00:00') or "
        "((Modified_Time = '2026-12-07T10:00:00+00:00') and (id > 42)))")
    assert "'O''Brien'" in keyset_where("O'Brien", None)


def test_pages_go_by_keyset_past_every_row_once() -> None:
    calls = FakeCalls(coql_answer(ROWS))
    version = replace(V8, coql_rows=4)  # small pages: the keyset at work
    pages = CoqlPages(calls, module="Leads", columns=["Modified_Time", "Last_Name"],
                      version=version)
    read = [r["id"] for page in pages.pages(None) for r in page]
    assert read == [r["id"] for r in ROWS] and pages.rows == 9
    queries = [params["json"]["select_query"] for _, params, _ in calls.made]
    assert queries[0].endswith("order by Modified_Time asc, id asc limit 4")
    assert "(id > 103)" in queries[1]  # past the last row of the first page


def test_columns_past_a_query_are_read_for_the_ids_and_merged() -> None:
    calls = FakeCalls(coql_answer(ROWS))
    version = replace(V8, coql_columns=3)  # id, Modified_Time and one more a query
    pages = CoqlPages(calls, module="Leads", columns=["Modified_Time", "Last_Name", "Email"],
                      version=version)
    rows = [r for page in pages.pages(None) for r in page]
    assert all(r["Email"] == r["id"] + "@x" for r in rows)


def test_a_column_zoho_refuses_moves_to_rest_and_a_refused_module_raises() -> None:
    def refusing(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if "Photo" in params["json"]["select_query"]:
            return 400, {"code": "INVALID_QUERY", "details": {"api_name": "Photo"}}
        return coql_answer(ROWS)(path, params, headers)

    pages = CoqlPages(FakeCalls(refusing), module="Leads", version=V8,
                      columns=["Modified_Time", "Last_Name", "Photo"])
    assert sum(len(p) for p in pages.pages(None)) == 9 and pages.refused == ["Photo"]
    scopeless = CoqlPages(FakeCalls(lambda *a: (401, {"code": "OAUTH_SCOPE_MISMATCH"})),
                          module="Leads", columns=["Last_Name"], version=V8)
    with pytest.raises(CoqlRefused):
        list(scopeless.pages(None))


@pytest.mark.parametrize(("limit", "credits"), [(1, 1), (200, 1), (201, 2), (1000, 2),
                                               (2000, 3)])
def test_coql_credits_by_limit(limit: int, credits: int) -> None:
    assert coql_credits(limit) == credits
    body = f'{{"select_query": "select id from Leads where id is not null limit {limit}"}}'
    assert call_cost("POST", "/crm/v8/coql", body.encode()) == credits
    assert call_cost("POST", "/crm/v8/coql", b'{"select_query": "select id"}') == 1


def test_coql_cost_asks_a_page_first() -> None:
    assert coql_cost(0, V8, 1) == (1, 1)  # an idle module: one small query
    assert coql_cost(20_000, V8, 1) == (1 + 10, 1 + 30)
    assert coql_cost(20_000, V8, 2) == (11 + 200, 31 + 200)


def test_owners_come_from_the_users_directory_and_unknown_ones_over_rest() -> None:
    def answer(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/users":
            users = [{"id": "7", "full_name": "Ann Smith", "email": "ann@x"}]
            return 200, {"users": users if params["type"] == "AllUsers" else [],
                         "info": {"more_records": False}}
        ids = params["ids"].split(",")  # the REST fill of unknown owners
        return 200, {"data": [{"id": i, "Owner": {"id": "8", "name": "Bo Li", "email": "b@x"}}
                              for i in ids]}

    calls = FakeCalls(answer)
    rows = [{"id": "1", "Owner": {"id": "7", "name": "Smith"}},
            {"id": "2", "Owner": {"id": "8", "name": "Li"}}]
    with ThreadPoolExecutor(1) as pool:
        read = CoqlRead(
            CoqlPages(calls, module="Leads", columns=[], version=V8),
            users=UsersDirectory(calls), owner_fields=["Owner"], lookup_fields=[], meta_keys=[],
            rest_fields=[],
            fetch=lambda ids, fields: calls.items(calls.call("/Leads", {"ids": ",".join(ids)})),
            rich_text=RichText(calls, path="/Leads", fields=[], per_page=True, pool=pool),
            hidden=lambda f: None, rest_pages=lambda f: None,  # type: ignore
            drop_gone=lambda exc: False,
            complete_rest=lambda r: r, hidden_filters=[],
            pool=pool, per_page=200, logger=calls.logger)
        done = read.complete(rows)
    assert [r["Owner"] for r in done] == [{"id": "7", "name": "Ann Smith", "email": "ann@x"},
                                          {"id": "8", "name": "Bo Li", "email": "b@x"}]


INPUTS = PlanInputs(
    has_bookmark_key=True, whole=False, versioned=False, has_computed=False,
    bulk_possible=False, bulk_threshold=0, export_is_whole=False, ids_check_hours=0,
    refresh_days=0, start_date=None, first_sync_markers=False, coql_possible=True)
NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize(("state", "inputs", "costs", "path"), [
    ({}, INPUTS, {"rest": 300, "coql": 40}, "coql"),  # a first sync, COQL cheaper
    ({}, INPUTS, {"rest": 30, "coql": 40}, "rest"),
    ({"replication_key_value": "2026-12-06T00:00:00+00:00"}, INPUTS,
     {"rest": 300, "coql": 40}, "rest"),  # an incremental read stays on REST
    ({}, replace(INPUTS, coql_possible=False), {"rest": 300, "coql": 40}, "rest"),
    ({}, replace(INPUTS, forced_path="rest"), {"rest": 300, "coql": 40}, "rest"),
    ({"replication_key_value": "2026-12-06T00:00:00+00:00"},
     replace(INPUTS, forced_path="coql"), {"rest": 3, "coql": 40}, "coql"),
    # Bulk Read by cost: only with no threshold set, and an export that carries every
    # selected property whole (no `$` keys, lookups with their names).
    ({}, replace(INPUTS, bulk_possible=True, bulk_threshold=None, export_is_whole=True),
     {"rest": 300, "coql": 140, "bulk": 54}, "bulk"),
    ({}, replace(INPUTS, bulk_possible=True, bulk_threshold=None, export_is_whole=False),
     {"rest": 300, "coql": 140, "bulk": 54}, "coql"),
    ({}, replace(INPUTS, bulk_possible=True, bulk_threshold=None, export_is_whole=True),
     {"rest": 30, "coql": 40, "bulk": 54}, "rest"),
    ({}, replace(INPUTS, bulk_possible=True, bulk_threshold=None, export_is_whole=True,
                 coql_possible=False), {"rest": 300, "coql": 40, "bulk": 54}, "bulk"),
    ({}, replace(INPUTS, bulk_possible=False, bulk_threshold=None, export_is_whole=True),
     {"rest": 300, "coql": 140, "bulk": 54}, "coql"),
    ({}, replace(INPUTS, bulk_possible=True, bulk_threshold=5000, export_is_whole=True),
     {"rest": 300, "coql": 140, "bulk": 54}, "coql"),  # the user's threshold decides
    ({}, replace(INPUTS, bulk_possible=True, bulk_threshold=None, forced_path="bulk"),
     {"rest": 3, "coql": 4, "bulk": 54}, "bulk"),
    ({"replication_key_value": "2026-12-06T00:00:00+00:00"},
     replace(INPUTS, bulk_possible=True, bulk_threshold=None, export_is_whole=True),
     {"rest": 300, "coql": 140, "bulk": 54}, "rest"),  # no backfill
])
def test_the_path_is_the_cheaper_one_or_the_one_asked_for(state, inputs, costs, path) -> None:
    plan = make_plan(state, inputs, read_at=None, now=NOW, count=lambda since: 1000,
                     costs=lambda records, since: costs)
    assert plan.path == path


def test_a_hidden_record_edited_while_listed_is_taken_again_at_its_new_time() -> None:

    def rec(record_id: str, second: int) -> dict[str, Any]:
        return {"id": record_id, "Modified_Time": f"2026-01-01T00:00:{second:02d}+00:00"}

    # Listed at second 1, edited, listed again at second 9; record 3 COQL gave itself.
    hidden = _Hidden(iter([rec("1", 1), rec("3", 4), rec("1", 9)]))
    seen = {"3": datetime(2026, 1, 1, 0, 0, 4, tzinfo=UTC)}
    assert [r["id"] for r in hidden.until(rec("2", 5), seen)] == ["1"]
    assert hidden.until(None, seen) == [rec("1", 9)]


def test_coql_pages_ask_for_the_count_before_a_page_that_shows_more_goes_out() -> None:
    counted: list[int] = []
    pages = CoqlPages(FakeCalls(coql_answer(ROWS)), module="Leads",
                      columns=["Modified_Time", "Last_Name"], version=replace(V8, coql_rows=4),
                      on_more=lambda: counted.append(len(counted)))
    read = pages.pages(None)
    next(read)
    assert counted == [0]
    rest = list(read)
    assert len(rest) == 2 and counted == [0, 1]  # the last page (more_records false) asks none
