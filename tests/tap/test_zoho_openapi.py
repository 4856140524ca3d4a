"""The OpenAPI layer itself: it merges Zoho's files and reports what differs from them."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable

from tests import zoho_openapi
from tests.helpers import discover, run_tap, select_streams, tap_config
from zoho_simulator import Simulator, exchanges
from zoho_simulator.exchanges import Exchange


def _get(sim: Simulator, path: str, token: str, headers: dict[str, str] | None = None) -> None:
    req = urllib.request.Request(sim.url + path, headers={
        "Authorization": f"Zoho-oauthtoken {token}", **(headers or {})})
    with urllib.request.urlopen(req) as resp:
        resp.read()


def _token(sim: Simulator) -> str:
    body = urllib.parse.urlencode({"grant_type": "refresh_token", **sim.credentials}).encode()
    with urllib.request.urlopen(sim.url + "/oauth/v2/token", data=body) as resp:
        return json.loads(resp.read())["access_token"]


def test_the_files_merge_into_one_spec_with_cross_file_refs_resolved() -> None:
    spec, missing = zoho_openapi.merged_spec()
    # Only the files Zoho's files name but that are not in the reference folder are missing.
    assert missing == {"tags.json", "custom_views.json"}
    text = json.dumps(spec)
    assert "https://" not in text.replace(zoho_openapi.HOST, "")
    assert "common__API_Exception" in spec["components"]["schemas"]
    assert "/crm/v8/{module_api_name}" in spec["paths"]


def test_a_wrong_exchange_is_reported() -> None:
    body = {"data": [{"id": "1"}], "info": {"more_records": "yes", "per_page": 200}}
    wrong = Exchange("GET", "/crm/v8/Leads", {"fields": ["id"], "colour": ["red"]},
                     {"X-Debug": "1"}, 200, {"Content-Type": "application/json"},
                     json.dumps(body).encode())
    found = [(m.side, m.operation, m.what) for m in zoho_openapi.check([wrong])]
    op = "GET /crm/v8/{module_api_name}"
    assert ("request", op, "undeclared query parameter colour") in found
    assert ("request", op, "undeclared header X-Debug") in found
    assert ("request", op, "no Zoho-oauthtoken Authorization") in found
    assert ("response", op, "info/more_records: 'yes' is not of type 'boolean'") in found
    assert not any(a.covers(m) for m in zoho_openapi.check([wrong])
                   for a in zoho_openapi.ALLOWED)


def test_a_simulator_exchange_off_the_files_is_caught_end_to_end(
        make_simulator: Callable[..., Simulator]) -> None:
    exchanges.REGISTRY.drain_all()
    sim = make_simulator(seed=3, sizes={"Leads": 3})
    sim.exchanges.enabled = True  # as the fixtures do (unless ZOHO_OPENAPI_CHECK=0)
    token = _token(sim)
    _get(sim, "/crm/v8/Leads?fields=Last_Name&per_page=2", token)
    _get(sim, "/crm/v8/Leads?fields=Last_Name&sparkle=1", token)
    logged = sim.exchanges.drain()
    assert [e.status for e in logged if e.path == "/crm/v8/Leads"] == [200, 200]
    unexplained = zoho_openapi.Tally(log_path=None).check(logged)
    assert [m.what for m in unexplained] == ["undeclared query parameter sparkle"]


def test_record_count_refused_with_the_syncs_filters_falls_back(make_simulator) -> None:
    # Zoho's file lists none of approved, converted, If-Modified-Since for Record Count.
    sim = make_simulator(seed=84, sizes={"Leads": 900}, count_documented_only=True)
    config = tap_config(sim, modules=["Leads"], full_rich_text=False,
                        progress_interval_seconds=0.5)
    catalog = select_streams(discover(config), {"leads"})
    first = run_tap(config, catalog=catalog)
    assert len(first.records("leads")) == 900
    # A first sync counts the documented way (without converted or unapproved leads): the
    # run still has a total.
    total = re.search(r"of (\d+) expected", first.stderr)
    assert total and 0 < int(total.group(1)) < 900
    # An incremental run of more than a page: no total, every change read.
    changed = {r["id"] for r in sim.records("Leads")[:250]}
    for record_id in changed:
        sim.update_record("Leads", record_id, {"Last_Name": "Changed"})
    second = run_tap(config, catalog=catalog, state=first.last_state)
    assert second.returncode == 0
    got = {r["id"] for r in second.records("leads") if r["Last_Name"] == "Changed"}
    assert got == changed
    assert "refused the record count" in second.stderr
