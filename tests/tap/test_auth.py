"""OAuth against the simulator's accounts server: reuse, expiry, rejection, throttling."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import discover, run_tap, select_streams, tap_config


def _leads_catalog(sim, **overrides):
    config = tap_config(sim, modules=["Leads"], **overrides)
    return config, select_streams(discover(config), {"leads"})


def test_wrong_refresh_token_stops_with_a_clear_message(sim) -> None:
    run = run_tap(tap_config(sim, refresh_token="1000.wrong.token"), "--discover")
    assert run.returncode != 0
    assert "invalid_code" in run.stderr and "refresh_token" in run.stderr
    assert "1000.wrong.token" not in run.stderr


def test_wrong_client_secret_stops_with_a_clear_message(sim) -> None:
    secret = "definitely-not-the-secret"
    run = run_tap(tap_config(sim, client_secret=secret), "--discover")
    assert run.returncode != 0
    assert "client_secret" in run.stderr
    assert secret not in run.stderr


def test_wrong_client_id_stops_with_a_clear_message(sim) -> None:
    run = run_tap(tap_config(sim, client_id="1000.NOSUCHCLIENT"), "--discover")
    assert run.returncode != 0
    assert "invalid_client" in run.stderr and "client_id" in run.stderr


def test_access_token_reused_across_streams_and_pages(sim) -> None:
    config = tap_config(sim)
    catalog = discover(config)
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert len(run.streams()) >= 8
    assert sim.stats()["token_requests"] == 1


@pytest.mark.parametrize("code", ["INVALID_TOKEN", "AUTHENTICATION_FAILURE"])
def test_token_expired_mid_run_is_refreshed_once_and_the_call_retried(make_simulator,
                                                                      code: str) -> None:
    sim = make_simulator(seed=5, sizes={"Leads": 1200}, latency_ms=40, rejected_token_code=code)
    config, catalog = _leads_catalog(sim, per_page=100, full_rich_text=False)
    sim.reset_stats()

    def revoke_after_three_pages() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sim.stats()["by_endpoint"].get("GET /crm/v8/Leads", 0) >= 3:
                sim.expire_tokens()
                return
            time.sleep(0.005)

    revoker = threading.Thread(target=revoke_after_three_pages)
    revoker.start()
    run = run_tap(config, catalog=catalog)
    revoker.join()
    assert len(run.records("leads")) == len(sim.records("Leads"))
    # Calls in flight with the revoked token all get 401; one refresh serves every retry.
    assert [r["status"] for r in sim.requests()].count(401) >= 1
    assert sim.stats()["token_requests"] == 2


def test_stored_token_revoked_elsewhere_is_refreshed_at_discovery(make_simulator,
                                                                   tmp_path) -> None:
    """A token store shared by processes: the token it holds was revoked (AUTHENTICATION_FAILURE
    on this request); discovery refreshes once, stores the new token, and goes on."""
    sim = make_simulator(seed=5, sizes={"Leads": 50}, rejected_token_code="AUTHENTICATION_FAILURE")
    config = tap_config(sim, modules=["Leads"], token_store=f"sqlite:///{tmp_path}/tokens.db")
    discover(config)
    sim.expire_tokens()
    sim.reset_stats()
    catalog = discover(config)
    assert [e["tap_stream_id"] for e in catalog["streams"] if e["tap_stream_id"] == "leads"]
    assert [r["status"] for r in sim.requests()].count(401) == 1
    assert sim.stats()["token_requests"] == 1
    sim.reset_stats()
    discover(config)  # the refreshed token was stored: the next process reuses it
    assert sim.stats()["token_requests"] == 0


def test_short_lived_tokens_are_refreshed_before_they_expire(make_simulator) -> None:
    sim = make_simulator(seed=5, sizes={"Leads": 2000}, token_lifetime=3, latency_ms=100,
                         token_throttle_limit=1000)
    config, catalog = _leads_catalog(sim, full_rich_text=False, max_concurrency=1)
    sim.reset_stats()
    run = run_tap(config, catalog=catalog)
    assert len(run.records("leads")) == 2000
    invalid = [r for r in sim.requests() if r["status"] == 401]
    assert not invalid  # refreshed ahead of expiry, not after failures
    assert sim.stats()["token_requests"] >= 2


def test_throttled_token_request_waits_and_retries(make_simulator) -> None:
    sim = make_simulator(seed=5, sizes={"Leads": 50}, token_throttle_limit=1,
                         token_throttle_window=4.0)
    config = tap_config(sim, modules=["Leads"])
    # Use the single allowed token of the window, so the tap's first request is throttled.
    import requests

    requests.post(f"{sim.url}/oauth/v2/token",
                  data={"grant_type": "refresh_token", **sim.credentials}, timeout=10)
    run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Access Denied" in run.stderr


def test_missing_scope_names_the_module_and_scope(sim) -> None:
    token = sim.issue_refresh_token("ZohoCRM.settings.ALL,ZohoCRM.modules.contacts.READ")
    config = tap_config(sim, refresh_token=token, modules=["Leads"])
    catalog = select_streams(discover(config), {"leads"})
    run = run_tap(config, catalog=catalog, check=False)
    assert run.returncode != 0
    assert "Leads" in run.stderr and "ZohoCRM.modules.leads.READ" in run.stderr
    assert token not in run.stderr
