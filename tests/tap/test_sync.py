"""Full and incremental syncs over real HTTP: every record, every field, v8 and v2."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.helpers import (
    TapRun,
    discover,
    expected_record,
    run_tap,
    select_streams,
    tap_config,
)
from zoho_simulator import Simulator

SIZES = {"Leads": 5000, "Contacts": 450, "Accounts": 250}
STREAMS = {"leads": "Leads", "contacts": "Contacts", "accounts": "Accounts"}


@pytest.fixture(scope="module")
def big_sim() -> Iterator[Simulator]:
    with Simulator(seed=11, sizes=SIZES).start(port=0) as sim:
        yield sim


def _sync(sim: Simulator, **overrides) -> tuple[TapRun, dict]:
    config = tap_config(sim, **overrides)
    catalog = select_streams(discover(config), set(STREAMS))
    sim.reset_stats()  # count the sync's calls only
    return run_tap(config, catalog=catalog), catalog


def assert_complete(run: TapRun, sim: Simulator, version: str = "v8") -> None:
    for stream, module in STREAMS.items():
        schema = run.schema(stream)
        emitted = run.records(stream)
        ids = Counter(record["id"] for record in emitted)
        duplicates = [i for i, n in ids.items() if n > 1]
        assert not duplicates, f"{stream}: {len(duplicates)} ids emitted twice"
        api_records = {record["id"]: record for record in sim.records(module, version)}
        assert set(ids) == set(api_records), (
            f"{stream}: missing {len(set(api_records) - set(ids))}, "
            f"extra {len(set(ids) - set(api_records))}"
        )
        for record in emitted:
            expected = expected_record(api_records[record["id"]], schema)
            assert {k: record.get(k) for k in expected} == expected, record["id"]


@pytest.fixture(scope="module")
def v8_run(big_sim: Simulator) -> TapRun:
    run, _ = _sync(big_sim)
    return run


def test_full_sync_v8_emits_every_record_and_field(v8_run: TapRun, big_sim: Simulator) -> None:
    assert len(v8_run.records("leads")) == SIZES["Leads"]
    assert_complete(v8_run, big_sim)
    leads_schema = v8_run.schema("leads")
    assert len(leads_schema["properties"]) >= 110
    # Every field of every record is present (null or not), not only the first 50.
    sample = v8_run.records("leads")[-1]
    assert set(leads_schema["properties"]) - set(sample) <= {
        p for p in leads_schema["properties"] if p.startswith("$")
    } | {"_zoho_mismatched_values"}


def test_rich_text_cut_by_list_calls_is_read_in_full(v8_run: TapRun, big_sim) -> None:
    long_texts = [r["Rich_Summary"] for r in v8_run.records("leads")
                  if r.get("Rich_Summary") and len(r["Rich_Summary"]) > 500]
    assert long_texts, "the simulator should hold rich text longer than the 500-char list cut"
    # v8: the cut values of a page come back in one Get Rich Text Fields call (<= 200 ids), not
    # one call per record; assert_complete compares every value with the simulator's.
    calls = [r for r in big_sim.requests() if r["path"].startswith("/crm/v8/Leads")]
    rich_calls = [r for r in calls if r["path"] == "/crm/v8/Leads/actions/fetch_full_data"]
    pages = [r for r in calls if r["path"] == "/crm/v8/Leads" and "ids" not in r["params"]]
    assert rich_calls and len(rich_calls) <= len(pages)
    assert sum(len(r["params"]["ids"].split(",")) for r in rich_calls) >= len(long_texts)
    assert not [r for r in calls if r["path"].rstrip("/").split("/")[-1].isdigit()]


def test_full_sync_includes_converted_and_unapproved_leads(v8_run: TapRun,
                                                           big_sim: Simulator) -> None:
    leads = v8_run.records("leads")
    assert sum(1 for r in leads if r.get("Converted__s")) > 100
    # The `$` keys are not selected by default: the simulator says which are pending approval.
    unapproved = {r["id"] for r in big_sim.records("Leads") if r.get("$approved") is False}
    assert unapproved and unapproved <= {r["id"] for r in leads}


def test_output_datetimes_are_utc_and_sorted(v8_run: TapRun) -> None:
    modified = [r["Modified_Time"] for r in v8_run.records("leads")]
    assert all(m.endswith("+00:00") for m in modified)
    assert modified == sorted(modified)


def test_requests_respect_zoho_limits(v8_run: TapRun, big_sim: Simulator) -> None:
    calls = [r for r in big_sim.requests() if r["path"].startswith("/crm/v8/Leads")]
    assert calls
    for call in calls:
        fields = call["params"].get("fields", "")
        assert len(fields.split(",")) <= 50
        assert int(call["params"].get("per_page", 200)) <= 200
        if "ids" in call["params"]:  # Get Rich Text Fields takes 200, Get Records 100
            limit = 200 if call["path"].endswith("/actions/fetch_full_data") else 100
            assert len(call["params"]["ids"].split(",")) <= limit
    stats = big_sim.stats()
    assert stats["token_requests"] <= 2  # one token reused for the whole run
    assert all(c["status"] < 400 for c in calls)
    # a sync run with a catalog reads no field metadata
    assert not [r for r in big_sim.requests() if r["path"].endswith("/settings/fields")]


def test_incremental_run_emits_the_changes_and_little_else(big_sim: Simulator) -> None:
    config = tap_config(big_sim)
    catalog = select_streams(discover(config), {"leads"})
    first = run_tap(config, catalog=catalog)
    state = first.last_state
    assert state["bookmarks"]["leads"]["replication_key_value"]
    leads = big_sim.records("Leads")
    changed = set()
    for record in leads[100:150]:
        big_sim.update_record("Leads", record["id"])
        changed.add(record["id"])
    for _ in range(20):
        changed.add(big_sim.create_record("Leads")["id"])
    big_sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=state)
    emitted = {r["id"] for r in second.records("leads")}
    assert changed <= emitted
    assert len(emitted) < 0.05 * len(big_sim.records("Leads"))
    headers = [r["headers"].get("If-Modified-Since") for r in big_sim.requests()
               if r["path"] == "/crm/v8/Leads" and "ids" not in r["params"]]
    assert headers and all(headers)


def test_sync_past_a_small_page_token_cap(make_simulator) -> None:
    sim = make_simulator(seed=3, sizes={"Leads": 2600, "Contacts": 30, "Accounts": 30},
                         page_token_cap=700)
    config = tap_config(sim, modules=["Leads"])
    run = run_tap(config, catalog=select_streams(discover(config), {"leads"}))
    ids = [r["id"] for r in run.records("leads")]
    assert len(ids) == len(set(ids)) == 2600
    codes = [r["status"] for r in sim.requests() if r["path"] == "/crm/v8/Leads"]
    assert 400 in codes or len(codes) > 13  # the cap was hit and the query restarted


def test_full_sync_v2_emits_every_record_and_field(big_sim: Simulator) -> None:
    run, _ = _sync(big_sim, api_version="v2")
    assert len(run.records("leads")) == len(big_sim.records("Leads"))
    assert_complete(run, big_sim, "v2")
    paths = {r["path"] for r in big_sim.requests()}
    assert "/crm/v2/Leads" in paths and "/crm/v8/Leads" not in paths


def test_v7_rereads_cut_rich_text_one_record_a_call(make_simulator) -> None:
    # v7 cuts rich text in list calls too, but has no multi-record Get Rich Text Fields.
    sim = make_simulator(seed=5, sizes={"Leads": 400})
    config = tap_config(sim, modules=["Leads"], api_version="v7")
    catalog = select_streams(discover(config), {"leads"})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    schema = run.schema("leads")
    api_records = {r["id"]: r for r in sim.records("Leads", "v7")}
    long_ids = {r["id"] for r in api_records.values()
                if r.get("Rich_Summary") and len(r["Rich_Summary"]) > 500}
    assert long_ids
    for record in run.records("leads"):
        expected = expected_record(api_records[record["id"]], schema)
        assert {k: record.get(k) for k in expected} == expected, record["id"]
    calls = [r for r in sim.requests() if r["path"].startswith("/crm/v7/Leads")]
    reread = {r["path"].rsplit("/", 1)[1] for r in calls
              if r["path"].rsplit("/", 1)[1].isdigit()}
    assert reread == {str(i) for i in long_ids}
    assert not [r for r in calls if "fetch_full_data" in r["path"]]


def test_get_records_reads_the_fields_past_fifty_from_pages_beside(big_sim: Simulator) -> None:
    # Leads' 121 fields: the read's pages carry the first 50, pages beside them the others (49
    # a page with Modified_Time), 200 records a credit; no `ids=` call while nothing is edited.
    run, _ = _sync(big_sim, read_path="rest")
    assert_complete(run, big_sim)
    leads = [r for r in big_sim.requests() if r["path"] == "/crm/v8/Leads"]
    assert not [r for r in leads if "ids" in r["params"]]
    own = [r for r in leads if r["params"]["fields"].startswith("Modified_Time")]
    beside = [r for r in leads if r not in own]
    assert 5000 / 200 <= len(own) <= 5000 / 200 + 2
    assert 2 * 5000 / 200 <= len(beside) <= 2 * (5000 / 200 + 3)
    assert {len(r["params"]["fields"].split(",")) for r in leads} <= set(range(1, 51))
