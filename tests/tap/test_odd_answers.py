"""Answers Zoho never documents (a proxy's page, a hiccup's `null`) are retried like a 5xx and
never read as "no more data"; a record is never emitted with selected fields missing."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.helpers import discover, expected_record, run_tap, select_streams, tap_config
from tests.tap.test_bulk_read_gaps import _check_every_record
from tests.tap.test_bulk_read_gaps import _run as _bulk_run

FAST_RETRIES = {"retry_backoff_seconds": 0.05, "full_rich_text": False}
ACCOUNTS = r"^/crm/v8/Accounts$"
LEADS = r"^/crm/v8/Leads$"

# 200 answers outside Zoho's documented shapes, each once.
ODD_BODIES = {
    "null": "null",
    "a list": "[]",
    "no data": "{}",
    "data not a list": '{"data": {"id": "1"}}',
    "a record without id": '{"data": [{"Account_Name": "x"}], "info": {"more_records": false}}',
    "no info": '{"data": [{"id": "1"}]}',
}


def _module(sim, module: str, **overrides):
    config = tap_config(sim, modules=[module], **{**FAST_RETRIES, **overrides})
    return config, select_streams(discover(config), {module.lower()})


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_an_odd_answer_to_a_records_page_is_retried(make_simulator, body: str) -> None:
    sim = make_simulator(seed=13, sizes={"Accounts": 300})
    config, catalog = _module(sim, "Accounts")
    sim.add_fault(ACCOUNTS, status=200, body=body, count=1)
    run = run_tap(config, catalog=catalog)
    assert {r["id"] for r in run.records("accounts")} == {r["id"] for r in sim.records("Accounts")}
    assert "Retrying Accounts after Answer not in Zoho's documented shape" in run.stderr


def test_a_proxy_page_with_status_200_is_retried(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Accounts": 300})
    config, catalog = _module(sim, "Accounts")
    sim.add_fault(ACCOUNTS, status=200, body="<html><body>Bad gateway</body></html>",
                  content_type="text/html", count=2)
    run = run_tap(config, catalog=catalog)
    assert len(run.records("accounts")) == 300
    assert run.stderr.count("Retrying Accounts") == 2


def test_odd_answers_that_persist_stop_the_run_naming_the_call_resumably(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Accounts": 300})
    config, catalog = _module(sim, "Accounts", per_page=100, max_retries=2)
    sim.add_fault(ACCOUNTS, status=200, body="null", count=None, after=1)  # from the 2nd page
    failed = run_tap(config, catalog=catalog, check=False)
    assert failed.returncode != 0
    assert "GET /crm/v8/Accounts failed 3 times (last: Answer not in Zoho's documented shape " \
           "(a JSON null, not an object) from GET /crm/v8/Accounts)" in failed.stderr
    assert "accounts: ok" not in failed.stderr
    read = {r["id"] for r in failed.records("accounts")}
    assert 0 < len(read) < 300
    sim.clear_faults()
    rerun = run_tap(config, catalog=catalog, state=failed.last_state)
    assert read | {r["id"] for r in rerun.records("accounts")} == {
        r["id"] for r in sim.records("Accounts")}


@pytest.mark.parametrize("body", ["null", '{"data": []}'], ids=["null", "no records"])
def test_an_odd_answer_to_a_field_group_call_never_leaves_fields_out(make_simulator,
                                                                      body: str) -> None:
    """Leads have more than 50 fields: the others come from Get Records pages beside the
    read's. A page answered `null`, or `data: []` without `info`, is not one Zoho documents:
    retried, never taken for the end of the module's records."""
    sim = make_simulator(seed=31, sizes={"Leads": 250})
    config, catalog = _module(sim, "Leads", full_rich_text=True)
    # The first page beside (the read's own pages ask for Modified_Time first).
    sim.add_fault(LEADS, status=200, body=body, count=1,
                  query_regex=r"(^|&)fields=(?!Modified_Time)")
    run = run_tap(config, catalog=catalog)
    schema = run.schema("leads")
    by_id = {r["id"]: r for r in run.records("leads")}
    expected = {r["id"]: expected_record(r, schema) for r in sim.records("Leads")}
    assert by_id.keys() == expected.keys()
    for record_id, want in expected.items():
        got = {k: v for k, v in by_id[record_id].items() if k in want}
        assert got == want, record_id
    assert "deleted in Zoho while" not in run.stderr
    assert run.report()["streams"]["leads"]["retries"] == 1
    assert not [r for r in sim.requests() if "ids" in r["params"]
                and r["path"] == "/crm/v8/Leads"]


def test_a_record_deleted_between_field_group_calls_is_not_emitted_half(make_simulator) -> None:
    sim = make_simulator(seed=31, sizes={"Leads": 250})
    config, catalog = _module(sim, "Leads")
    first = min(sim.records("Leads"), key=lambda r: (r["Modified_Time"], int(r["id"])))
    # The first `ids=` call waits; meanwhile the first record read is deleted.
    sim.add_fault(LEADS, delay=1.0, count=1, query_regex=r"(^|&)ids=")

    def delete_when_listed() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sim.stats()["by_endpoint"].get("GET /crm/v8/Leads", 0) >= 2:
                sim.delete_record("Leads", first["id"])
                return
            time.sleep(0.01)

    deleter = threading.Thread(target=delete_when_listed, daemon=True)
    deleter.start()
    run = run_tap(config, catalog=catalog)
    deleter.join()
    ids = [r["id"] for r in run.records("leads")]
    assert first["id"] not in ids
    assert len(ids) == 249
    assert "1 records were deleted in Zoho while their fields were read" in run.stderr


def test_an_odd_answer_to_a_metadata_call_is_retried(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Accounts": 10, "Leads": 10})
    config = tap_config(sim, modules=["Accounts", "Leads"], **FAST_RETRIES,
                        metadata_refresh_hours=0)
    catalog = select_streams(discover(config), {"fields", "modules"})
    sim.add_fault(r"/settings/fields$", status=200, body="[]", count=1)
    sim.add_fault(r"/settings/modules$", status=200, body='{"modules": null}', count=1)
    run = run_tap(config, catalog=catalog)
    assert {r["module"] for r in run.records("fields")} == {"Accounts", "Leads"}
    assert run.records("modules")
    assert run.stderr.count("Answer not in Zoho's documented shape") >= 2


def test_a_stale_more_records_then_an_empty_page_ends_the_module(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Accounts": 100})
    config, catalog = _module(sim, "Accounts", per_page=100)
    records = sorted(sim.records("Accounts"), key=lambda r: (r["Modified_Time"], int(r["id"])))
    sim.add_fault(ACCOUNTS, status=200, count=1, body=json.dumps(
        {"data": records, "info": {"more_records": True, "per_page": 100}}))
    sim.add_fault(ACCOUNTS, status=200, count=None, body=json.dumps(
        {"data": [], "info": {"more_records": True, "per_page": 100}}))
    run = run_tap(config, catalog=catalog, timeout=60)
    assert len(run.records("accounts")) == 100
    assert sim.stats()["by_endpoint"]["GET /crm/v8/Accounts"] == 2


@pytest.mark.parametrize("output", ["records", "parquet"])
def test_a_record_deleted_before_its_uploads_are_read_is_not_emitted_half(
        output: str, make_simulator, tmp_path) -> None:
    """A Bulk Read export carries no upload fields: they are read over REST (`ids=`) for the
    exported records. One deleted in between is left out, not written with its uploads null."""
    sim = make_simulator(seed=91, sizes={"Leads": 1500}, bulk_job_seconds=0.2)
    victim = sim.records("Leads")[700]["id"]
    sim.add_fault(LEADS, delay=1.0, count=1, query_regex=r"(^|&)ids=")

    def delete_when_downloaded() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(r["path"].endswith("/result") for r in sim.requests()):
                sim.delete_record("Leads", victim)
                return
            time.sleep(0.01)

    deleter = threading.Thread(target=delete_when_downloaded, daemon=True)
    deleter.start()
    run, rows = _bulk_run(sim, tmp_path, output)
    deleter.join()
    assert victim not in {r["id"] for r in rows}
    _check_every_record(sim, rows, run.schema("leads"))
    assert "1 exported records were deleted in Zoho before their Documents, Photos" in run.stderr
