"""The read paths (reads/) given scripted Zoho answers through a fake API object: anchoring on
(Modified_Time, id), field groups, rich text, record counts, full-read steps, cost rows."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tap_zohocrm.api_versions import VERSIONS
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.reads.anchor import Anchor
from tap_zohocrm.reads.bulk_backfill import bulk_cost, export_fields, export_is_whole
from tap_zohocrm.reads.completion import PageCompletion
from tap_zohocrm.reads.field_groups import FieldGroups, field_groups
from tap_zohocrm.reads.full_read import FullReadSteps
from tap_zohocrm.reads.plan import FullRead, ReadPlan
from tap_zohocrm.reads.record_count import RecordCounts
from tap_zohocrm.reads.rest_pages import RestPages, rest_calls
from tap_zohocrm.reads.rich_text import RichText, rich_text_fields
from tap_zohocrm.schema.fields import UPLOAD_DESCRIPTIONS
from tap_zohocrm.streams.module_cost import module_cost
from tap_zohocrm.sync.state_checks import IDS_CHECKED_AT, LAST_FULL_READ_KEY
from tests.unit.answers import FakeCalls

LOG = logging.getLogger("test")


def lead(number: int, modified: str) -> dict[str, Any]:
    return {"id": str(number), "Modified_Time": modified}


def test_the_anchor_drops_repeats_of_the_second_a_query_restarts_at() -> None:
    anchor = Anchor("Modified_Time")
    first = [lead(1, "2026-12-07T10:00:00+00:00"), lead(2, "2026-12-07T10:00:01+00:00")]
    assert anchor.fresh(first) == first
    again = [lead(2, "2026-12-07T10:00:01+00:00"), lead(3, "2026-12-07T10:00:01Z"),
             lead(4, "2026-12-07T11:00:01+01:00")]  # the same second, another offset
    assert [r["id"] for r in anchor.fresh(again)] == ["3", "4"]
    assert anchor.last_modified == "2026-12-07T10:00:01+00:00" and anchor.ids == {"2", "3", "4"}


def test_rest_pages_restart_at_the_last_second_read_and_end_on_an_empty_answer() -> None:
    seconds = [f"2026-12-07T10:00:0{i}+00:00" for i in range(4)]

    def answer(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        since = headers.get("If-Modified-Since")
        rows = [lead(i, s) for i, s in enumerate(seconds) if since is None or s >= since]
        page = rows[:2]
        if not page:
            return 304, None
        return 200, {"data": page, "info": {"more_records": len(rows) > 2}}

    calls = FakeCalls(answer)
    pages = RestPages(calls, path="/Leads", replication_key="Modified_Time", per_page=2,
                      page_tokens=True, filters={"converted": "both"},
                      fields=lambda: ["Modified_Time", "Last_Name"])
    read = [r["id"] for page in pages.pages(RecordsPage()) for r in page]
    assert read == ["0", "1", "2", "3"]  # each record once
    assert [h.get("If-Modified-Since") for _, _, h in calls.made] == [
        None, seconds[1], seconds[2]]
    assert all(p["fields"] == "Modified_Time,Last_Name" and p["converted"] == "both"
               and p["sort_by"] == "Modified_Time" for _, p, _ in calls.made)
    assert pages.read_to_end_at is not None


def schema(**props: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"id": {"type": ["string"]}, **props}}


TEXT = {"type": ["string", "null"]}


def test_field_groups_put_modified_time_first_and_hold_50_fields() -> None:
    fields = {f"F{i:03d}": TEXT for i in range(120)}
    groups = field_groups(schema(**fields, Modified_Time=TEXT), {}, "Modified_Time",
                          fields_optional=False)
    assert [len(g) for g in groups] == [50, 50, 21] and groups[0][0] == "Modified_Time"
    # Where the API version allows no `fields`, every field is read without it.
    assert field_groups(schema(**fields), {}, "Modified_Time", fields_optional=True) == []


def test_other_groups_are_merged_and_a_record_deleted_meanwhile_is_left_out() -> None:
    def answer(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/Leads":
            ids = params["ids"].split(",")
            return 200, {"data": [{"id": i, "Email": f"{i}@x"} for i in ids if i != "2"]}
        return 204, None  # the record asked for by itself: gone

    groups = FieldGroups(FakeCalls(answer), path="/Leads", replication_key="Modified_Time",
                         filters={}, groups=[["Modified_Time"], ["Email"]])
    records = [lead(1, "a"), lead(2, "b")]
    groups.merge_others(records)
    assert records == [{"id": "1", "Modified_Time": "a", "Email": "1@x"}]
    assert groups.completion_calls(250) == 3


def test_a_field_removed_in_zoho_is_dropped_from_the_groups_and_rich_text() -> None:
    removed: list[str] = []
    groups = FieldGroups(FakeCalls(lambda *a: (200, {"data": []})), path="/Leads",
                         replication_key="Modified_Time", filters={},
                         groups=[["Modified_Time", "Gone"], ["Email"]], on_gone=removed.append)
    error = ZohoAPIError("x", code="INVALID_DATA", details={"api_name": "Gone"}, status=400)
    assert groups.drop_gone(error) and removed == ["Gone"]
    assert groups.groups == [["Modified_Time", "Email"]]
    assert not groups.drop_gone(ZohoAPIError("x", code="INVALID_DATA",
                                             details={"api_name": "Modified_Time"}, status=400))


@pytest.mark.parametrize(("version", "calls"), [("v8", 1), ("v7", 3), ("v6", 0)])
def test_cut_rich_text_is_read_again_by_page_or_by_record(version: str, calls: int) -> None:
    cut = "x" * 500
    api = FakeCalls(lambda path, params, headers: (200, {"data": [
        {"id": i, "Description": "full " + cut} for i in params.get("ids", path[7:]).split(",")]}))
    rich_schema = schema(Description={"type": ["string"], "contentMediaType": "text/html"})
    fields = rich_text_fields(rich_schema, {}, VERSIONS[version], full_rich_text=True,
                              logger=LOG, module="Leads")
    records = [{"id": str(i), "Description": cut} for i in range(3)] + [{"id": "9"}]
    with ThreadPoolExecutor(2) as pool:
        rich = RichText(api, path="/Leads", fields=fields,
                        per_page=VERSIONS[version].rich_text_per_page, pool=pool)
        PageCompletion(FieldGroups(api, path="/Leads", replication_key=None, filters={},
                                   groups=[]), rich).complete(records)
    assert len(api.made) == calls
    assert all(r["Description"].startswith("full") for r in records[:3]) is (calls > 0)


def test_record_counts_are_asked_once_per_since_and_refusals_count_every_record() -> None:
    def answer(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        if params.get("converted"):
            return 400, {"code": "INVALID_DATA"}
        return 200, {"count": "42"}

    counts = RecordCounts(FakeCalls(answer), path="/Leads", filters={"converted": "both"})
    assert counts.count(None) is None  # refused with the sync's filters
    assert counts.expected(None) == 42 and counts.expected(None) == 42  # then without them
    assert counts.expected("2026-12-07T00:00:00+00:00") == 0  # incremental: no total


def test_full_read_steps_keep_the_first_sync_at_its_start() -> None:
    at = "2026-12-07T12:00:00+00:00"
    first = FullReadSteps(FullRead(at, refresh=False), "Leads", {}, LOG)
    assert first.keys_at_start(resumes_export=False) == {LAST_FULL_READ_KEY: at,
                                                         IDS_CHECKED_AT: at}
    assert first.keys_at_start(resumes_export=True) == {}
    refresh = FullReadSteps(FullRead("t", refresh=True, versioned=True), "Leads", {}, LOG)
    assert refresh.keys_at_start(resumes_export=False) == {}
    assert not refresh.activates(read_to_end=False) and refresh.activates(read_to_end=True)
    assert refresh.keys_at_end(checked=False) == {LAST_FULL_READ_KEY: "t"}
    assert refresh.keys_at_end(checked=True) == {LAST_FULL_READ_KEY: "t", IDS_CHECKED_AT: "t"}


def test_what_an_export_carries() -> None:
    upload = {"type": ["array", "null"], "description": UPLOAD_DESCRIPTIONS["fileupload"]}
    lookup = {"type": ["object", "null"], "properties": {"id": TEXT, "name": TEXT}}
    assert export_is_whole(schema(Name=TEXT, File=upload), {})
    assert not export_is_whole(schema(Name=TEXT, Account=lookup), {})
    assert export_is_whole(schema(Name=TEXT, Account=lookup), {("properties", "Account"): False})


def test_cost_of_each_path() -> None:
    assert rest_calls(0, 200, 3) == 1
    assert rest_calls(400, 200, 3) == 2 + 2 * 2 + 1  # pages, pages beside, repeats
    calls, credits, note = bulk_cost(250_000, ["File"])
    assert (calls, credits) == (2 * 5 + 2 + 2500, 2 * 54 + 2 + 2500) and "File" in note
    plan = ReadPlan(since=None, full=None, whole=False, path="rest", resumes_export=False,
                    markers_since=None, listed_at=None, read_at=None, start_date=None)
    row = module_cost("leads", "Leads", plan, expected=400, bulk=False, left_out=[],
                      page_reads=1, rich_text=True, rich_text_per_page=True,
                      counts_records=True, lists_deletions=True, attachments=False,
                      config={"per_page": 200, "deleted_full_listing_hours": 0})
    assert (row.calls, row.credits) == (2 + 1 + 1 + 1, 2 + 1 + 1 + 2)
    assert row.note == "+ up to 2 rich-text re-reads" and row.records == 400


def test_export_fields_name_none_when_every_exportable_field_is_wanted() -> None:
    every = schema(Name=TEXT, Email=TEXT, Modified_Time=TEXT)
    assert export_fields(every, ["Name", "Email", "Modified_Time"]) is None
    assert export_fields(every, ["Name"]) == ["Name"]


def test_rest_pages_ask_for_the_count_before_a_page_that_shows_more_goes_out() -> None:
    # Progress lines come as records go out: the total must be known by then.
    def answer(path: str, params: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        since = headers.get("If-Modified-Since")
        if since is None:
            return 200, {"data": [lead(1, "2026-12-07T10:00:01+00:00")],
                         "info": {"more_records": True}}
        return 304, None

    counted: list[int] = []
    pages = RestPages(FakeCalls(answer), path="/Leads", replication_key="Modified_Time",
                      per_page=1, page_tokens=True, filters={}, fields=lambda: [],
                      on_more=lambda: counted.append(1))
    read = pages.pages(RecordsPage())
    next(read)
    assert counted == [1]
    assert list(read) == [] and counted == [1]  # a last page asks nothing
