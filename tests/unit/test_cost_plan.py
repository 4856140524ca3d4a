"""`--plan`'s arithmetic: Get Records calls from Zoho's paging rules, the daily credit allowance
from Zoho's API-limits table, and the plan as text."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tap_zohocrm.cost_plan import daily_allowance, format_plan
from tap_zohocrm.reads.field_groups import page_reads
from tap_zohocrm.reads.rest_pages import rest_calls


@pytest.mark.parametrize(("records", "per_page", "page_reads", "calls"), [
    # Nothing to read still costs the one call Zoho answers with 204 or 304.
    (0, 200, 1, 1),
    (0, 200, 4, 1),
    (1, 200, 1, 1),
    (200, 200, 1, 1),
    # Each page after the first starts a query at the last Modified_Time read, and the records
    # of that second come again: about 5 a page, a call per per_page of them.
    (201, 200, 1, 2 + 1),
    (1_000, 200, 1, 5 + 1),
    (450, 100, 1, 5 + 1),
    (100_000, 200, 1, 500 + math.ceil(500 * 5 / 200)),
    # Past 50 fields (v3 on): the other fields come from pages beside each page, a page per
    # chunk of 49 (each asks Modified_Time too).
    (150, 200, 3, 1 + 2),
    (100, 100, 2, 1 + 1),
    (250, 200, 2, (2 + 1) + 2),
])
def test_rest_calls(records, per_page, page_reads, calls) -> None:
    assert rest_calls(records, per_page, page_reads) == calls


@pytest.mark.parametrize(("per_page", "page_reads"), [(200, 1), (200, 3), (50, 1), (100, 2)])
def test_rest_calls_grow_with_records_and_read_every_record(per_page, page_reads) -> None:
    counts = [rest_calls(n, per_page, page_reads) for n in range(0, 2_001, 7)]
    assert counts == sorted(counts)
    for n in range(1, 2_001, 7):
        # A call per page, and as many beside it for the other fields.
        least = page_reads * math.ceil(n / per_page)
        assert rest_calls(n, per_page, page_reads) >= least


@pytest.mark.parametrize(("sizes", "reads"), [
    ([50], 1), ([50, 50, 21], 3), ([50, 49], 2), ([50, 50], 3), ([50, 50, 50], 4)])
def test_pages_beside_take_49_fields_each(sizes, reads) -> None:
    groups = [[f"f{g}_{n}" for n in range(size)] for g, size in enumerate(sizes)]
    assert page_reads(groups) == reads


def org(paid_type: Any, users: Any = None) -> dict[str, Any]:
    details: dict[str, Any] = {"paid": True, "paid_type": paid_type}
    if users is not None:
        details["users_license_purchased"] = users
    return {"id": "1", "license_details": details}


@pytest.mark.parametrize(("answer", "credits"), [
    # Base + per user license, up to the edition's maximum (zoho-crm-api.md, rate limits).
    (org("Free", 3), 5_000),
    (org("Standard", 4), 50_000 + 4 * 250),
    (org("Starter", 4), 50_000 + 4 * 250),
    (org("Standard", 300), 100_000),
    (org("Professional", 10), 50_000 + 10 * 500),
    (org("Professional", 10_000), 3_000_000),
    (org("Enterprise", 10), 50_000 + 10 * 1_000),
    (org("Zoho One", 10), 50_000 + 10 * 1_000),
    (org("Enterprise", 10_000), 5_000_000),
    (org("Ultimate", 10_000), 50_000 + 10_000 * 2_000),  # no maximum
    (org("CRM Plus", 5), 50_000 + 5 * 2_000),
    (org("enterprise", "10"), 60_000),
    (org("Enterprise"), 50_000),
    (org("Enterprise", 0), 50_000),
    # An edition the table does not know, or no license details: no allowance to compare with.
    (org("Express", 10), None),
    (org(None, 10), None),
    ({"id": "1", "license_details": None}, None),
    ({"id": "1"}, None),
])
def test_daily_allowance(answer, credits) -> None:
    assert daily_allowance(answer) == credits


def plan(**changes: Any) -> dict[str, Any]:
    rows = [
        {"stream": "(metadata)", "records": None, "calls": 2, "credits": 2},
        {"stream": "leads", "records": 1_000, "calls": 7, "credits": 7, "read_path": "coql",
         "note": "computed-values refresh: read in full", "computed_refresh": True,
         "deleted_id_check": False},
        {"stream": "deals", "records": 0, "calls": 1, "credits": 1, "read_path": "rest",
         "note": "", "computed_refresh": False, "deleted_id_check": False},
        {"stream": "users", "records": None, "calls": 0, "credits": 0,
         "note": "not due (metadata_refresh_hours)"},
    ]
    empty = {"streams": [], "records": 0, "calls": 0, "credits": 0}
    return {"streams": rows, "records": 1_000, "api_calls": 10, "credits": 10,
            "token_requests": 1,
            "computed_refresh": {"streams": ["leads"], "records": 1_000, "calls": 7,
                                 "credits": 7},
            "deleted_id_check": empty, "daily_credit_allowance": 60_000,
            "credits_remaining_today": None, "share_of_allowance": round(10 / 60_000, 4),
            **changes}


def test_the_plan_is_a_table_then_its_json() -> None:
    the_plan = plan()
    lines = format_plan(the_plan).splitlines()
    header = lines[0]
    ends = [header.index(name) + len(name) for name in ("records", "API calls", "credits")]
    table = lines[1:6]
    assert [line[:24].rstrip() for line in table] == [
        "(metadata)", "leads", "deals", "users", "total"]
    # Numbers right-aligned under their headings; no records shown where none are counted.
    assert [[line[end - 9:end].strip() for end in ends] for line in table] == [
        ["", "2", "2"], ["1000", "7", "7"], ["0", "1", "1"], ["", "0", "0"],
        ["1000", "10", "10"]]
    assert table[1].endswith("  coql  computed-values refresh: read in full")
    assert table[2].endswith("  rest") and "rest" not in table[0] + table[3]
    assert table[3].endswith("  not due (metadata_refresh_hours)")
    assert all(line == line.rstrip() for line in lines)
    assert lines[-1].startswith("ZOHO_RUN_PLAN ")
    assert json.loads(lines[-1].removeprefix("ZOHO_RUN_PLAN ")) == the_plan


def test_the_plan_says_what_it_reads_in_full_and_its_share_of_the_days_credits() -> None:
    text = format_plan(plan(credits_remaining_today=41_234))
    assert ("computed_refresh_days): leads read in full: 1000 records, 7 calls, 7 credits "
            "(included above).") in text
    assert "Deleted-records check" not in text
    assert ("Daily API credit allowance (edition and licenses): 60000; this run would use "
            "0.02% of it.") in text
    assert "Zoho reports 41234 credits left today (X-API-CREDITS-REMAINING)." in text


def test_a_plan_says_only_what_applies() -> None:
    empty = {"streams": [], "records": 0, "calls": 0, "credits": 0}
    check = {"streams": ["leads"], "records": 1_000, "calls": 7, "credits": 7}
    text = format_plan(plan(computed_refresh=empty, deleted_id_check=check,
                            daily_credit_allowance=None, share_of_allowance=None))
    text = text.rpartition("\nZOHO_RUN_PLAN ")[0]
    assert "Computed-values refresh" not in text and "allowance" not in text
    assert "credits left today" not in text
    assert ("deleted_id_check_hours): leads: 1000 records, 7 calls, 7 credits (included above)."
            in text)
