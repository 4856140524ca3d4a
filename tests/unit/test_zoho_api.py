"""ZohoApi against a tiny local HTTP server that answers from a script: retries and their waits
(recorded, never slept), giving up, a rejected access token, a refusal, an odd 2xx answer."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.settings import fill_defaults
from tap_zohocrm.sync.run import ZohoRun
from tap_zohocrm.sync.stop import RunStop
from tap_zohocrm.zoho_api import ZohoApi

LEADS = {"data": [{"id": "1", "Last_Name": "Lane"}], "info": {"more_records": False}}


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON, or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)


class Zoho:
    """A scripted Zoho: API calls get the next answer of `script`; the token endpoint issues
    token-1, token-2, ..."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.calls: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self.tokens_issued = 0
        zoho = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                zoho.calls.append(("GET", self.path, self.headers.get("Authorization")))
                self._answer(zoho.script.pop(0))

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                zoho.tokens_issued += 1
                self._answer(Answer(200, {"access_token": f"token-{zoho.tokens_issued}",
                                          "expires_in": 3600}))

            def _answer(self, answer: Answer) -> None:
                body = (answer.body if isinstance(answer.body, bytes)
                        else json.dumps(answer.body).encode())
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


class RecordedWaits(RunStop):
    """The run's stop, with its waits recorded instead of slept."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.check()
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def zoho() -> Iterator[Zoho]:
    server = Zoho()
    yield server
    server.server.shutdown()


@pytest.fixture
def run(zoho: Zoho) -> ZohoRun:
    zoho.script.clear()
    zoho.calls.clear()
    config: dict[str, Any] = {
        "client_id": "1000.client", "client_secret": "secret", "refresh_token": "1000.refresh",
        "api_url": zoho.url, "accounts_url": zoho.url, "token_store": "memory",
        "max_retries": 2, "retry_backoff_seconds": 0.5,
    }
    fill_defaults(config)
    run = ZohoRun(config)
    run.stop = RecordedWaits()  # before the limits and the authenticator take it
    return run


def leads_api(run: ZohoRun) -> ZohoApi[ZohoRun]:
    return run.api_for("leads", module_api_name="Leads",
                       required_scope="ZohoCRM.modules.leads.READ",
                       logger=logging.getLogger("tap-zohocrm.leads"))


def waits(run: ZohoRun) -> list[float]:
    assert isinstance(run.stop, RecordedWaits)
    return run.stop.waits


def test_a_5xx_is_retried_after_the_backoff_wait(zoho: Zoho, run: ZohoRun,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    zoho.script[:] = [Answer(500, {"code": "INTERNAL_ERROR"}), Answer(200, LEADS)]
    api = leads_api(run)
    response = api.call("/Leads", {"per_page": 200})
    assert api.items(response) == LEADS["data"]
    assert [path for _, path, _ in zoho.calls] == ["/crm/v8/Leads?per_page=200"] * 2
    (wait,) = waits(run)
    assert 0.5 <= wait < 1.5  # retry_backoff_seconds, and up to 1 s of jitter
    report = run.report.stream("leads")
    assert (report.api_calls, report.credits, sum(report.retries.values())) == (2, 2, 1)
    assert "Retrying Leads after HTTP 500 INTERNAL_ERROR from GET /crm/v8/Leads (try 1, " \
        f"waiting {wait:.1f} s)" in caplog.text


def test_retry_after_is_waited_instead_of_the_backoff(zoho: Zoho, run: ZohoRun) -> None:
    zoho.script[:] = [Answer(429, {"code": "TOO_MANY_REQUESTS"}, {"Retry-After": "7"}),
                      Answer(200, LEADS)]
    assert leads_api(run).items(leads_api(run).call("/Leads")) == LEADS["data"]
    (wait,) = waits(run)
    assert 7 <= wait < 8  # Retry-After, and up to 1 s of jitter


def test_giving_up_after_max_retries_names_the_call_and_the_last_cause(
        zoho: Zoho, run: ZohoRun) -> None:
    zoho.script[:] = [Answer(500, {"code": "INTERNAL_ERROR"}) for _ in range(3)]
    with pytest.raises(ZohoAPIError) as failed:
        leads_api(run).call("/Leads", {"page": 2})
    assert str(failed.value) == (
        "GET /crm/v8/Leads failed 3 times (last: HTTP 500 INTERNAL_ERROR from GET "
        "/crm/v8/Leads); giving up. The last STATE message lets the next run resume.")
    assert len(zoho.calls) == 3  # max_retries 2: three tries
    first, second = waits(run)  # no wait after the last try
    assert 0.5 <= first < 1.5 and 1 <= second < 2  # exponential, plus up to 1 s of jitter


def test_a_rejected_access_token_is_replaced_and_the_call_retried(zoho: Zoho,
                                                                  run: ZohoRun) -> None:
    zoho.script[:] = [Answer(200, LEADS), Answer(401, {"code": "INVALID_TOKEN"}),
                      Answer(200, LEADS)]
    api = leads_api(run)
    api.call("/Leads")
    issued = zoho.tokens_issued
    # Prepared once, sent twice: each try carries the token of its moment.
    prepared = requests.Request("GET", f"{run.api_base_url}/Leads").prepare()
    assert api.items(api.send(prepared)) == LEADS["data"]
    assert zoho.tokens_issued == issued + 1
    sent = [token for _, _, token in zoho.calls]
    assert sent == [f"Zoho-oauthtoken token-{issued}"] * 2 + [
        f"Zoho-oauthtoken token-{issued + 1}"]


def test_a_refusal_names_the_module_and_the_scope_to_grant_without_a_retry(
        zoho: Zoho, run: ZohoRun) -> None:
    zoho.script[:] = [Answer(401, {"code": "OAUTH_SCOPE_MISMATCH", "message": "invalid oauth "
                                   "scope to access this URL", "status": "error"})]
    with pytest.raises(ZohoAPIError) as refused:
        leads_api(run).call("/Leads")
    assert (refused.value.code, refused.value.status) == ("OAUTH_SCOPE_MISMATCH", 401)
    assert str(refused.value).startswith(
        "Zoho refused to read module Leads (OAUTH_SCOPE_MISMATCH): the OAuth client lacks the "
        "scope ZohoCRM.modules.leads.READ;")
    assert len(zoho.calls) == 1 and waits(run) == []


def test_a_2xx_null_body_is_retried_then_given_up_never_read_as_no_data(
        zoho: Zoho, run: ZohoRun) -> None:
    zoho.script[:] = [Answer(200, b"null") for _ in range(3)]
    with pytest.raises(ZohoAPIError) as failed:
        leads_api(run).call("/Leads")
    assert "GET /crm/v8/Leads failed 3 times (last: Answer not in Zoho's documented shape " \
        "(a JSON null, not an object) from GET /crm/v8/Leads)" in str(failed.value)
    assert len(zoho.calls) == 3
