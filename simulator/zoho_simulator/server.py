"""HTTP layer: each call routed to its endpoints and counted, and the HTTP server."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from . import credits
from .access import Access
from .api_types import (
    FAULT_CODES,
    JSON_CT,
    VERSIONS,
    ApiError,
    BulkError,
    FileBody,
    Response,
)
from .bulk_jobs import BulkRead
from .control import Control
from .coql_api import CoqlApi
from .credits import CreditWindow
from .directory import build_org
from .exchanges import ExchangeLog
from .faults import Faults, Stats
from .living import Churn
from .oauth import OAuth
from .org import Org
from .records import Clock
from .records_api import RecordsApi
from .related_api import RelatedApi
from .settings_api import SettingsApi

COQL_PATH = re.compile(r"^/crm/(?:" + "|".join(re.escape(v) for v in VERSIONS) + r")/coql/?$")


class Api:
    """Transport-independent request handling; `Handler` only moves bytes. Routes a call to
    the control API, the token endpoint, or the endpoints of `records`, `settings`, `related`
    and `coql`, and counts it (`counters`, the day's credits of `credit_window`)."""

    def __init__(self, *, org: Org, oauth: OAuth, bulk: BulkRead, churn: Churn,
                 control: Control, clock: Clock, config: dict[str, Any], faults: Faults,
                 counters: Stats, credit_window: CreditWindow, user_is_admin: bool) -> None:
        self.oauth = oauth
        self.control = control
        self.config = config
        self.faults = faults
        self.counters = counters
        self.credit_window = credit_window
        self.access = Access(org, oauth, config)
        self.records = RecordsApi(org, churn, config, clock, user_is_admin)
        self.settings = SettingsApi(org, self.access, config, user_is_admin)
        self.related = RelatedApi(org, bulk, self.access, config, clock)
        self.coql = CoqlApi(org, self.access, churn, config, user_is_admin)
        self.url = ""  # where it is served: the api_domain of the tokens it issues

    # ------------------------------------------------------------ entry point
    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: Any, body: bytes) -> Response:
        if path.startswith("/__sim/"):
            try:
                return self.control.handle(method, path, query, body)
            except ApiError as exc:
                return Response(exc.status, exc.body())
            except (KeyError, ValueError, TypeError) as exc:
                return Response(400, {"error": f"{type(exc).__name__}: {exc}"})
        is_token = path == "/oauth/v2/token"
        is_api = not is_token
        daily = self.config.get("daily_credits")
        if is_api and self.credit_window.exhausted(daily):
            # Credits of the 24-hour window are spent: Zoho answers 429 until a new day.
            return self._too_many(method, path, credits.EXHAUSTED_MESSAGE)
        if is_api and self.counters.enter() > (self.config["concurrency_limit"] or 1 << 30):
            self.counters.leave()
            return self._too_many(method, path, credits.CONCURRENCY_MESSAGE)
        # COQL calls have a concurrency limit of their own, within the org's.
        is_coql = is_api and method == "POST" and COQL_PATH.match(path) is not None
        if is_coql and not self.counters.enter_coql(self.config["coql_concurrency_limit"]):
            self.counters.leave()
            return self._too_many(method, path, credits.CONCURRENCY_MESSAGE)
        try:
            resp = self._handle(method, path, query, headers, body, is_api=is_api)
        finally:
            if is_coql:
                self.counters.leave_coql()
            if is_api:
                self.counters.leave()
        entry: dict[str, Any] = {"method": method, "path": path,
                                 "params": {k: v[-1] for k, v in query.items()},
                                 "headers": {}, "status": resp.status}
        ims = headers.get("If-Modified-Since")
        if ims is not None:
            entry["headers"]["If-Modified-Since"] = ims
        # Get Deleted Records costs 2 credits, creating a Bulk Read job 50 (Zoho's API limits);
        # every other call 1 (Bulk Read job details and downloads included: not documented).
        cost = 2 if path.rstrip("/").endswith("/deleted") else 1
        if method == "POST" and resp.status == 201 and path.startswith("/crm/bulk/"):
            cost = 50
        if resp.credits is not None:  # a COQL query: by its LIMIT
            cost = resp.credits
        if is_api:
            entry["credits"] = cost
        self.counters.record(entry, api=is_api, token=is_token and method == "POST", credits=cost)
        if is_api:
            # Zoho adds the header once half of the day's (non-add-on) credits are used.
            resp.headers.update(self.credit_window.charge(daily, cost))
        return resp

    def _too_many(self, method: str, path: str, message: str) -> Response:
        """429 without Retry-After: the day's credits are spent, or too many calls in flight."""
        self.counters.record({"method": method, "path": path, "params": {}, "headers": {},
                              "status": 429}, api=True, token=False, credits=0)
        return Response(429, credits.too_many_requests(message))

    def _handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
                body: bytes, *, is_api: bool) -> Response:
        rule = self.faults.match(path, urlencode(query, doseq=True))
        if rule is not None and rule.delay:
            time.sleep(rule.delay)
        if rule is not None and rule.body is not None:
            return Response(rule.status, rule.body.encode(), {"Content-Type": rule.content_type},
                            injected=True)
        if rule is not None and not rule.delay and not rule.truncate:
            code, message = FAULT_CODES.get(rule.status, ("INTERNAL_ERROR", "Internal error"))
            extra = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
            return Response(rule.status, {"code": code, "details": {}, "message": message,
                                          "status": "error"}, extra)
        if is_api and self.config["latency_ms"]:
            time.sleep(self.config["latency_ms"] / 1000)
        try:
            if path == "/oauth/v2/token":
                resp = self._token(method, query, body)
            else:
                resp = self._crm(method, path, query, headers, body)
        except (ApiError, BulkError) as exc:
            resp = Response(exc.status, {"code": exc.code, "details": exc.details,
                                         "message": exc.message, "status": "error"})
        if rule is not None and rule.truncate:
            resp.truncate = True
        return resp

    # ------------------------------------------------------------ oauth
    def _token(self, method: str, query: dict[str, list[str]], body: bytes) -> Response:
        if method != "POST":
            return Response(400, {"error": "invalid_request"})
        params = {k: v[-1] for k, v in query.items()}
        if body:
            params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8"),
                                                        keep_blank_values=True).items()})
        status, payload = self.oauth.token_request(params, self.url)
        return Response(status, payload)

    # ------------------------------------------------------------ CRM
    def _crm(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
             body: bytes = b"") -> Response:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) >= 4 and parts[:2] == ["crm", "bulk"] and parts[2] in VERSIONS \
                and parts[3] == "read":
            return self.related.bulk_read(method, parts[2], parts[4:], headers, body)
        if len(parts) < 3 or parts[0] != "crm" or parts[1] not in VERSIONS:
            raise ApiError(404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one")
        version = VERSIONS[parts[1]]
        rest = parts[2:]
        if rest == ["coql"]:  # a query is POSTed (Get Records through a COQL Query)
            if method != "POST":
                raise ApiError(400, "INVALID_REQUEST_METHOD",
                               "The http request method type is not a valid one")
            return self.coql.query(version, body, self.access.auth(headers))
        if method != "GET":  # the simulator models the read APIs only
            raise ApiError(400, "INVALID_REQUEST_METHOD",
                           "The http request method type is not a valid one")
        token = self.access.auth(headers)
        params = {k: v[-1] for k, v in query.items()}
        if rest[0] == "settings":
            return self.settings.settings(version, rest[1:], params, token)
        if rest[0] == "users":
            return self.settings.users(version, rest[1:], params, headers, token)
        if rest == ["org"]:
            self.access.require_scope(token, {"zohocrm.org.read", "zohocrm.org.all",
                                              "zohocrm.settings.all"})
            return Response(200, {"org": [build_org()]})
        refused = self.access.unservable(rest[0])
        if refused is not None:
            raise ApiError(*refused)
        md = self.access.module(version, rest[0], token)
        if len(rest) == 1:
            return self.records.get_records(version, md, query, params, headers)
        if rest[1:] == ["actions", "count"]:
            return self.records.record_count(version, md, params, headers)
        if rest[1:] == ["deleted"]:
            return self.related.deleted_records(md, params, headers)
        if len(rest) == 2 and rest[1].isdigit():
            return self.records.get_record(version, md, int(rest[1]), params)
        if rest[1:] == ["actions", "fetch_full_data"] and version >= 8:
            return self.records.rich_text(version, md, params, many=True)
        if len(rest) == 4 and rest[1].isdigit() and rest[2:] == ["actions", "fetch_full_data"] \
                and version >= 6:
            return self.records.rich_text(version, md, {**params, "ids": rest[1]}, many=False)
        if len(rest) == 3 and rest[2] == "Attachments":
            return self.related.attachments(version, md, rest[1], params, token)
        raise ApiError(404, "INVALID_URL_PATTERN",
                       "Please check if the URL trying to access is a correct one")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Zoho's front end
    # Headers and body go out in separate writes; with Nagle on, small responses wait ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "ZGS"
    # Set on the subclass built by make_server.
    api: Api
    clock: Clock
    exchanges: ExchangeLog

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header on the org's clock, as Zoho's matches its own record times.
        return super().date_time_string(self.clock.now() if timestamp is None else timestamp)

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        resp = self.api.handle(method, split.path, query, self.headers, body)
        if isinstance(resp.body, FileBody):
            self.exchanges.record(method, split.path, query, self.headers, resp.status,
                                  resp.headers, None, body)
            self._send_file(resp, resp.body)
            return
        payload = resp.payload()
        headers = dict(resp.headers)
        if resp.status not in (204, 304):
            headers.setdefault("Content-Type", JSON_CT)
        if not resp.injected:  # a fault's made-up answer is not checked as Zoho's
            self.exchanges.record(method, split.path, query, self.headers, resp.status,
                                  headers, payload, body)
        self.send_response(resp.status)
        for k, v in headers.items():
            self.send_header(k, v)
        if resp.status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if resp.truncate and payload:
            # Full Content-Length announced, half the body sent, then the connection dies.
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if payload and resp.status not in (204, 304):
            self.wfile.write(payload)

    def _send_file(self, resp: Response, body: FileBody) -> None:
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(body.size))
        self.end_headers()
        with open(body.path, "rb") as f:
            if resp.truncate:  # as for JSON: half the announced bytes, then the line drops
                self.wfile.write(f.read(body.size // 2))
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            shutil.copyfileobj(f, self.wfile, 1 << 20)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class QuietServer(ThreadingHTTPServer):
    # socketserver's listen backlog of 5 drops the connections of a burst of calls (the
    # client retries a second later), which hid concurrent calls from the limits modelled.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up mid-answer is normal in fault tests.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_server(api: Api, clock: Clock, exchanges: ExchangeLog, host: str, port: int
                ) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"api": api, "clock": clock,
                                                "exchanges": exchanges})
    server = QuietServer((host, port), handler)
    server.daemon_threads = True
    return server
