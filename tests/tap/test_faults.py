"""Faults, limits, crashes and bad input, each provoked against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers import discover, run_tap, select_streams, tap_config, utc

FAST_RETRIES = {"retry_backoff_seconds": 0.05, "full_rich_text": False}


def _leads(sim, **overrides):
    config = tap_config(sim, modules=["Leads"], **FAST_RETRIES, **overrides)
    return config, select_streams(discover(config), {"leads"})


def _after_calls(sim, path: str, calls: int, action) -> threading.Thread:
    """Run `action` once the simulator has served `calls` requests to `path`."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if sim.stats()["by_endpoint"].get(f"GET {path}", 0) >= calls:
                action()
                return
            time.sleep(0.005)

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def _went_on_from_the_bookmark(first, second) -> None:
    """The second run went on where the first stopped (a first sync's full read goes on): the
    only records it read again are those of the bookmark's second."""
    bookmark = first.last_state["bookmarks"]["leads"]["replication_key_value"]
    at_bookmark = {r["id"] for r in first.records("leads") if r["Modified_Time"] == bookmark}
    again = {r["id"] for r in first.records("leads")} & {
        r["id"] for r in second.records("leads")}
    assert again <= at_bookmark, len(again - at_bookmark)
    assert "reading every record again" not in second.stderr


def test_full_sync_completes_through_injected_faults(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Leads": 4000})
    config, catalog = _leads(sim, request_timeout=2, max_retries=10)
    sim.reset_stats()
    leads = r"^/crm/v8/Leads$"
    sim.add_fault(leads, status=500, count=None, probability=0.05)
    sim.add_fault(leads, status=429, count=None, probability=0.05, retry_after=1)
    sim.add_fault(leads, truncate=True, count=None, probability=0.01)
    sim.add_fault(leads, delay=3.0, count=2, probability=0.05)  # stalls past the read timeout
    run = run_tap(config, catalog=catalog)
    ids = Counter(r["id"] for r in run.records("leads"))
    assert set(ids) == {r["id"] for r in sim.records("Leads")}  # nothing lost
    statuses = Counter(r["status"] for r in sim.requests() if r["path"] == "/crm/v8/Leads")
    retries = run.stderr.count("Retrying Leads")
    assert statuses[500] and statuses[429] and retries >= statuses[500] + statuses[429]
    print(f"faults: {dict(statuses)}; retries: {retries}; records: {len(ids)}; lost: 0")


def test_retry_after_is_honoured(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Leads": 300})
    config, catalog = _leads(sim)
    sim.add_fault(r"^/crm/v8/Leads$", status=429, count=1, retry_after=3)
    started = time.monotonic()
    run = run_tap(config, catalog=catalog)
    assert time.monotonic() - started >= 3
    assert len(run.records("leads")) == 300


def test_unparsable_retry_after_falls_back_to_the_exponential_wait(make_simulator) -> None:
    sim = make_simulator(seed=13, sizes={"Leads": 300})
    config, catalog = _leads(sim)
    sim.add_fault(r"^/crm/v8/Leads$", status=429, count=2, retry_after="soon, maybe")
    run = run_tap(config, catalog=catalog)
    assert len(run.records("leads")) == 300
    assert run.stderr.count("Retrying Leads") == 2


def test_persistent_fault_fails_naming_the_call_and_leaves_a_resumable_state(
    make_simulator,
) -> None:
    sim = make_simulator(seed=17, sizes={"Leads": 3000})
    config, catalog = _leads(sim, max_retries=2)
    _after_calls(sim, "/crm/v8/Leads", 20,
                 lambda: sim.add_fault(r"^/crm/v8/Leads$", status=500, count=None))
    first = run_tap(config, catalog=catalog, check=False)
    assert first.returncode != 0
    assert "GET /crm/v8/Leads failed 3 times" in first.stderr
    emitted = {r["id"] for r in first.records("leads")}
    assert 0 < len(emitted) < 3000
    sim.clear_faults()
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert emitted | {r["id"] for r in second.records("leads")} == {
        r["id"] for r in sim.records("Leads")
    }
    _went_on_from_the_bookmark(first, second)


def test_killed_run_resumes_from_its_last_state(make_simulator) -> None:
    sim = make_simulator(seed=19, sizes={"Leads": 8000}, latency_ms=5)
    config, catalog = _leads(sim)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, data in (("config", config), ("catalog", catalog)):
            paths[name] = Path(tmp) / f"{name}.json"
            paths[name].write_text(json.dumps(data))
        out = Path(tmp) / "out.jsonl"
        with out.open("w") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tap_zohocrm", "--config", str(paths["config"]),
                 "--catalog", str(paths["catalog"])],
                stdout=sink, stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                states = out.read_text().count('"type":"STATE"') + out.read_text().count(
                    '"type": "STATE"')
                if states >= 4:
                    break
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        messages = [json.loads(line) for line in out.read_text().splitlines()
                    if line.endswith("}")]
    first = {m["record"]["id"] for m in messages if m["type"] == "RECORD"}
    last_state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    assert 0 < len(first) < 8000
    second = run_tap(config, catalog=catalog, state=last_state)
    assert first | {r["id"] for r in second.records("leads")} == {
        r["id"] for r in sim.records("Leads")
    }


def test_credit_budget_stops_cleanly_and_the_next_run_resumes(make_simulator) -> None:
    sim = make_simulator(seed=23, sizes={"Leads": 3000})
    # Enough for a first COQL page and the Get Records pages beside it, not for the module.
    config, catalog = _leads(sim, max_api_credits=30)
    sim.reset_stats()
    first = run_tap(config, catalog=catalog)  # exit 0: a budget stop is not a failure
    assert sim.stats()["credits_used"] <= 30
    assert "max_api_credits" in first.stderr
    emitted = {r["id"] for r in first.records("leads")}
    assert 0 < len(emitted) < 3000
    del config["max_api_credits"]
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert emitted | {r["id"] for r in second.records("leads")} == {
        r["id"] for r in sim.records("Leads")
    }
    _went_on_from_the_bookmark(first, second)


def test_calls_never_exceed_max_concurrency(make_simulator) -> None:
    sim = make_simulator(seed=29, sizes={"Leads": 1500, "Contacts": 800, "Accounts": 600},
                         latency_ms=20)
    config = tap_config(sim, modules=["Leads", "Contacts", "Accounts", "Deals"],
                        max_concurrency=2, **FAST_RETRIES)
    catalog = discover(config)
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert len(run.records("leads")) == 1500
    assert sim.stats()["max_concurrent"] <= 2


def test_field_removed_after_discovery_does_not_stop_the_run(make_simulator) -> None:
    sim = make_simulator(seed=31, sizes={"Leads": 600})
    config, catalog = _leads(sim)
    sim.remove_field("Leads", "Industry")
    run = run_tap(config, catalog=catalog)
    assert len(run.records("leads")) == 600
    assert "Industry no longer exists" in run.stderr


def test_field_added_after_discovery_does_not_stop_the_run(make_simulator) -> None:
    sim = make_simulator(seed=31, sizes={"Leads": 300})
    config, catalog = _leads(sim, api_version="v2")
    sim.add_field("Leads", {"api_name": "Loyalty_Tier", "data_type": "text",
                            "json_type": "string", "field_label": "Loyalty Tier"})
    run = run_tap(config, catalog=catalog)
    assert len(run.records("leads")) == 300
    assert "Loyalty_Tier" in run.stderr  # logged, not silently dropped


def test_value_of_unexpected_type_is_kept_and_counted(make_simulator) -> None:
    sim = make_simulator(seed=37, sizes={"Leads": 200})
    config, catalog = _leads(sim)
    target = sim.records("Leads")[5]["id"]
    sim.update_record("Leads", target, {"No_of_Employees": "about forty"})
    run = run_tap(config, catalog=catalog)
    record = next(r for r in run.records("leads") if r["id"] == target)
    assert record["No_of_Employees"] is None
    assert record["_zoho_mismatched_values"] == {"No_of_Employees": "about forty"}
    assert "No_of_Employees x1" in run.stderr


def test_secrets_never_appear_in_anything_the_tap_writes(make_simulator) -> None:
    sim = make_simulator(seed=41, sizes={"Leads": 300}, token_lifetime=2)
    config, catalog = _leads(sim)
    outputs = [run_tap(config, "--about", "--format", "json").stdout]
    outputs.append(run_tap(config, "--discover").stderr)
    run = run_tap(config, catalog=catalog, env={"LOGLEVEL": "DEBUG"})
    outputs += [run.stdout, run.stderr, json.dumps(run.last_state)]
    sim.add_fault(r"^/crm/v8/Leads$", status=500, count=None)
    failed = run_tap({**config, "max_retries": 1}, catalog=catalog, check=False,
                     env={"LOGLEVEL": "DEBUG"})
    outputs += [failed.stdout, failed.stderr]
    bad = run_tap({**config, "client_secret": "s3cr3t-wrong"}, "--discover")
    outputs += [bad.stdout, bad.stderr]
    secrets = [config["client_secret"], config["refresh_token"], "s3cr3t-wrong",
               *sim.oauth.access_tokens]
    assert len(secrets) >= 4
    text = "\n".join(outputs)
    for secret in secrets:
        assert secret not in text


def test_only_https_or_loopback_urls_are_accepted(sim) -> None:
    for key in ("api_url", "accounts_url"):
        run = run_tap(tap_config(sim, **{key: "http://crm.example.com"}), "--discover")
        assert run.returncode != 0 and key in run.stderr
    run = run_tap(tap_config(sim, accounts_url="ftp://accounts.zoho.com"), "--discover")
    assert run.returncode != 0 and "accounts_url" in run.stderr


def test_a_bad_listing_interval_is_rejected_naming_the_setting(sim) -> None:
    for bad in (-1, "daily"):
        run = run_tap(tap_config(sim, deleted_full_listing_hours=bad), "--discover")
        assert run.returncode != 0 and "deleted_full_listing_hours" in run.stderr, bad


def test_catalog_selecting_a_vanished_module_is_reported_by_name(sim) -> None:
    config = tap_config(sim, modules=["Leads"])
    catalog = discover(config)
    ghost = json.loads(json.dumps(catalog["streams"][0]))
    ghost["tap_stream_id"] = ghost["stream"] = "widgets"
    catalog["streams"].append(ghost)
    run = run_tap(tap_config(sim), catalog=catalog, check=False)
    assert run.returncode != 0 and "widgets" in run.stderr


def test_bad_state_is_rejected_with_a_clear_message(sim) -> None:
    config, catalog = _leads(sim)
    for state, words in (
        ({"bookmarks": {"leads": {"replication_key": "Modified_Time",
                                  "replication_key_value": "2024-13-40T00:00:00Z"}}},
         "not an ISO-8601"),
        ({"bookmarks": {"Leads": {"Modified_Time": "2024-01-01T00:00:00+00:00"}}},
         "older version"),
        ({"bookmarks": {"leads": {"replication_key": "Modified_Time",
                                  "replication_key_value": "2024-01-01T00:00:00",
                                  "written_by": "a newer SDK"}}},
         "not an ISO-8601 datetime with a UTC offset"),
        ({"bookmarks": {"deleted_records": {"partitions": [
            {"context": {"module": "Leads"}, "deletions_listed_at": "yesterday"}]}}},
         "deletions_listed_at 'yesterday'"),
    ):
        run = run_tap(config, catalog=catalog, state=state, check=False)
        assert run.returncode != 0 and words in run.stderr


def test_unknown_bookmark_keys_are_a_warning_and_the_bookmark_is_honoured(make_simulator) -> None:
    """Keys a newer SDK (or another tool) adds to a bookmark: the run warns, reads from the
    bookmark over HTTP and passes the keys on in its STATE as they are."""
    sim = make_simulator(seed=97, sizes={"Leads": 600})
    config, catalog = _leads(sim)
    first = run_tap(config, catalog=catalog)
    bookmark = first.last_state["bookmarks"]["leads"]
    since = bookmark["replication_key_value"]
    changed = {sim.update_record("Leads", r["id"])["id"] for r in sim.records("Leads")[100:130]}
    extra = {"sync_mode": "incremental", "progress": {"pages": 3, "done": True}}
    state = {"bookmarks": {**first.last_state["bookmarks"], "leads": {**bookmark, **extra}}}
    sim.reset_stats()
    second = run_tap(config, catalog=catalog, state=state)
    warning = next(x for x in second.stderr.splitlines() if "does not know" in x)
    assert "'leads'" in warning and "(progress, sync_mode)" in warning
    assert "keeps them in the state" in warning and "start_date" not in warning
    # Only what changed after the bookmark (and records of the bookmark's own second).
    emitted = second.records("leads")
    assert changed <= {r["id"] for r in emitted}
    assert all(utc(r["Modified_Time"]) >= utc(since) for r in emitted)
    assert len(emitted) < len(changed) + 10
    # The read's own pages (those beside it, for the other fields, start at its rows).
    lists = [r for r in sim.requests() if r["path"] == "/crm/v8/Leads" and "ids" not in r["params"]
             and r["params"]["fields"].startswith("Modified_Time")]
    # The first sync read the bookmark's second long after it was over (bookmark_read_at):
    # the next one starts a second later.
    assert bookmark["bookmark_read_at"]
    assert lists and {r["headers"].get("If-Modified-Since") for r in lists} == {
        (datetime.fromisoformat(since).replace(microsecond=0) + timedelta(seconds=1)).isoformat()}
    final = second.last_state["bookmarks"]["leads"]
    assert {k: final[k] for k in extra} == extra
    assert utc(final["replication_key_value"]) > utc(since)

    # Unknown keys and no value of this tap's: a warning, and the stream is read in full.
    third = run_tap(config, catalog=catalog,
                    state={"bookmarks": {"leads": {"last_modified": "2024-01-01"}}})
    assert "(last_modified)" in third.stderr and "read from start_date" in third.stderr
    assert {r["id"] for r in third.records("leads")} == {r["id"] for r in sim.records("Leads")}
    assert third.last_state["bookmarks"]["leads"]["last_modified"] == "2024-01-01"


def test_credit_reserve_read_from_zoho_stops_before_the_org_runs_out(make_simulator) -> None:
    # More than 80 credits of Get Records pages (the reserve does not depend on the path; a
    # COQL read would need twice the records to spend as much).
    sim = make_simulator(seed=101, sizes={"Leads": 6000}, daily_credits=100)
    config, catalog = _leads(sim, api_credits_reserve=20, max_concurrency=1, read_path="rest")
    first = run_tap(config, catalog=catalog)  # a clean stop: exit 0
    assert "api_credits_reserve" in first.stderr
    # Zoho reports the remaining credits from half the allowance on; the run stops at the
    # reserve (one call may be in flight when the header arrives).
    assert 50 <= sim.credits_spent_today <= 100 - 20 + 1
    assert not [r for r in sim.requests() if r["status"] == 429]  # never ran the org dry
    emitted = {r["id"] for r in first.records("leads")}
    assert 0 < len(emitted) < 6000
    sim.set_config(daily_credits=None)  # a new day
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert emitted | {r["id"] for r in second.records("leads")} == {
        r["id"] for r in sim.records("Leads")
    }
    _went_on_from_the_bookmark(first, second)


def test_a_day_of_credits_used_up_stops_the_run_resumably_and_fails_it(make_simulator) -> None:
    """Zoho's credits header falls to zero mid-run, then every call gets a bare 429."""
    sim = make_simulator(seed=103, sizes={"Leads": 6000}, daily_credits=40)
    config, catalog = _leads(sim, max_concurrency=2)
    sim.new_day()  # discovery's calls spent some: the run starts with the day's 40 credits
    first = run_tap(config, catalog=catalog, check=False)
    assert first.returncode == 3, first.stderr[-3000:]
    assert "API credits for the day are used up" in first.stderr
    assert "the next run resumes" in first.stderr
    assert "failed 8 times" not in first.stderr
    # Stopped at the first 429s: no retrying a day that is over.
    assert len([r for r in sim.requests() if r["status"] == 429]) <= 2
    emitted = {r["id"] for r in first.records("leads")}
    assert 0 < len(emitted) < 6000
    sim.new_day()
    sim.set_config(daily_credits=None)
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert emitted | {r["id"] for r in second.records("leads")} == {
        r["id"] for r in sim.records("Leads")
    }
    _went_on_from_the_bookmark(first, second)


def test_a_day_used_up_before_the_run_starts_is_told_from_persistent_429s(
    make_simulator,
) -> None:
    """No credits header (the day was spent by other integrations): 429s that persist while
    no call gets through stop the run after a few tries, not after max_retries."""
    sim = make_simulator(seed=103, sizes={"Leads": 600})
    config, catalog = _leads(sim, max_retries=10)
    sim.set_config(daily_credits=0)
    sim.reset_stats()
    run = run_tap(config, catalog=catalog, check=False)
    assert run.returncode == 3, run.stderr[-3000:]
    assert "API credits for the day are used up" in run.stderr
    assert "429 in a row" in run.stderr
    assert sim.stats()["api_calls"] <= 4 + 2  # one call's four tries; calls already in flight


def test_too_many_calls_in_flight_keep_backing_off(make_simulator) -> None:
    """A bare 429 for concurrency (Zoho's limit below the tap's max_concurrency) is retried."""
    sim = make_simulator(seed=107, sizes={"Leads": 3000, "Contacts": 800}, latency_ms=10,
                         concurrency_limit=2)
    # Get Records pages, many in flight at once (a COQL read keeps fewer calls in flight).
    config = tap_config(sim, modules=["Leads", "Contacts"], max_concurrency=5,
                        parallel_modules=2, max_retries=10, read_path="rest", **FAST_RETRIES)
    catalog = select_streams(discover(config), {"leads", "contacts"})
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert [r for r in sim.requests() if r["status"] == 429]
    assert "used up" not in run.stderr
    assert {r["id"] for r in run.records("leads")} == {r["id"] for r in sim.records("Leads")}
    assert len(run.records("contacts")) == 800


def test_rich_text_field_removed_mid_sync_does_not_stop_the_run(make_simulator) -> None:
    """Removed between a page's list call and its Get Rich Text Fields call: the run goes on."""
    sim = make_simulator(seed=33, sizes={"Leads": 900})
    config, catalog = _leads(sim)
    config["full_rich_text"] = True
    ids = {r["id"] for r in sim.records("Leads")}
    # The first Get Rich Text Fields call is held 1.5 s; the field is removed meanwhile.
    sim.add_fault(r"^/crm/v8/Leads/actions/fetch_full_data$", delay=1.5, count=1)
    rule = sim.faults.rules[-1]

    def remove_when_held() -> None:
        deadline = time.monotonic() + 120
        while rule.remaining and time.monotonic() < deadline:
            time.sleep(0.005)
        sim.remove_field("Leads", "Rich_Summary")

    remover = threading.Thread(target=remove_when_held, daemon=True)
    remover.start()
    run = run_tap(config, catalog=catalog)
    remover.join(timeout=5)
    leads = run.records("leads")
    assert Counter(r["id"] for r in leads) == Counter(ids)  # every record, once
    # The held call was refused, and the run went on. The field is dropped by whichever
    # call meets its removal first: that call, or a list call of a later page read ahead.
    held = [r for r in sim.requests() if r["path"].endswith("/fetch_full_data")]
    assert held[0]["status"] == 400
    assert ("no longer gives the full rich text of Rich_Summary" in run.stderr
            or "Rich_Summary no longer exists" in run.stderr)


def test_field_of_a_later_group_removed_does_not_stop_the_run(make_simulator) -> None:
    """A field past the first 50 is asked for by every page's `ids=` calls, several in flight
    at once: the first to meet its removal drops it, the others must go on too."""
    sim = make_simulator(seed=31, sizes={"Leads": 2000}, latency_ms=40)
    config, catalog = _leads(sim)
    schema = next(s["schema"] for s in catalog["streams"] if s["tap_stream_id"] == "leads")
    later = [f for f in schema["properties"] if f != "id" and f[0] not in "$_"][70]
    sim.remove_field("Leads", later)
    run = run_tap(config, catalog=catalog)
    leads = run.records("leads")
    assert Counter(r["id"] for r in leads) == Counter(r["id"] for r in sim.records("Leads"))
    assert f"{later} no longer exists" in run.stderr
    assert all(r.get(later) is None for r in leads)
