"""HTTP layer: routing, CRM record/metadata endpoints, page tokens, control API."""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from . import credits, system_modules
from .api_types import (
    FAULT_CODES,
    JSON_CT,
    VERSIONS,
    ApiError,
    FileBody,
    PageTokens,
    Response,
    rejected_token_error,
)
from .bulk import BulkError
from .directory import (
    build_org,
)
from .fields import ModuleSpec
from .oauth import AccessToken, scope_items
from .records import ModuleData
from .records_api import RecordsApi
from .related_api import RelatedApi
from .settings_api import SettingsApi

if TYPE_CHECKING:
    from .simulator import Simulator

















class Api(RelatedApi, SettingsApi, RecordsApi):
    """Transport-independent request handling; `Handler` only moves bytes."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.page_tokens = PageTokens()

    # ------------------------------------------------------------ entry point
    def handle(self, method: str, path: str, query: dict[str, list[str]],
               headers: Any, body: bytes) -> Response:
        sim = self.sim
        if path.startswith("/__sim/"):
            try:
                return sim.control.handle(method, path, query, body)
            except ApiError as exc:
                return Response(exc.status, exc.body())
            except (KeyError, ValueError, TypeError) as exc:
                return Response(400, {"error": f"{type(exc).__name__}: {exc}"})
        is_token = path == "/oauth/v2/token"
        is_api = not is_token
        daily = sim.config.get("daily_credits")
        if is_api and sim.credit_window.exhausted(daily):
            # Credits of the 24-hour window are spent: Zoho answers 429 until a new day.
            return self._too_many(method, path, credits.EXHAUSTED_MESSAGE)
        if is_api and sim.counters.enter() > (sim.config["concurrency_limit"] or 1 << 30):
            sim.counters.leave()
            return self._too_many(method, path, credits.CONCURRENCY_MESSAGE)
        try:
            resp = self._handle(method, path, query, headers, body, is_api=is_api)
        finally:
            if is_api:
                sim.counters.leave()
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
        sim.counters.record(entry, api=is_api, token=is_token and method == "POST", credits=cost)
        if is_api:
            # Zoho adds the header once half of the day's (non-add-on) credits are used.
            resp.headers.update(sim.credit_window.charge(daily, cost))
        return resp

    def _too_many(self, method: str, path: str, message: str) -> Response:
        """429 without Retry-After: the day's credits are spent, or too many calls in flight."""
        self.sim.counters.record({"method": method, "path": path, "params": {}, "headers": {},
                                  "status": 429}, api=True, token=False, credits=0)
        return Response(429, credits.too_many_requests(message))

    def _handle(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
                body: bytes, *, is_api: bool) -> Response:
        sim = self.sim
        rule = sim.faults.match(path, urlencode(query, doseq=True))
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
        if is_api and sim.config["latency_ms"]:
            time.sleep(sim.config["latency_ms"] / 1000)
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
        status, payload = self.sim.oauth.token_request(params, self.sim.url)
        return Response(status, payload)

    # ------------------------------------------------------------ CRM
    def _crm(self, method: str, path: str, query: dict[str, list[str]], headers: Any,
             body: bytes = b"") -> Response:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) >= 4 and parts[:2] == ["crm", "bulk"] and parts[2] in VERSIONS \
                and parts[3] == "read":
            return self._bulk(method, parts[2], parts[4:], headers, body)
        if len(parts) < 3 or parts[0] != "crm" or parts[1] not in VERSIONS:
            raise ApiError(404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one")
        version = VERSIONS[parts[1]]
        rest = parts[2:]
        if method != "GET":  # the simulator models the read APIs only
            raise ApiError(400, "INVALID_REQUEST_METHOD",
                           "The http request method type is not a valid one")
        token = self._auth(headers)
        params = {k: v[-1] for k, v in query.items()}
        if rest[0] == "settings":
            return self._settings(version, rest[1:], params, token)
        if rest[0] == "users":
            return self._users(version, rest[1:], params, headers, token)
        if rest == ["org"]:
            self._require_scope(token, {"zohocrm.org.read", "zohocrm.org.all",
                                        "zohocrm.settings.all"})
            return Response(200, {"org": [build_org()]})
        refused = self._unservable(rest[0])
        if refused is not None:
            raise ApiError(*refused)
        md = self._module(version, rest[0], token)
        if len(rest) == 1:
            return self._list(version, md, query, params, headers)
        if rest[1:] == ["actions", "count"]:
            return self._count(version, md, params, headers)
        if rest[1:] == ["deleted"]:
            return self._deleted(md, params, headers)
        if len(rest) == 2 and rest[1].isdigit():
            return self._single(version, md, int(rest[1]), params)
        if rest[1:] == ["actions", "fetch_full_data"] and version >= 8:
            return self._rich_text(version, md, params, many=True)
        if len(rest) == 4 and rest[1].isdigit() and rest[2:] == ["actions", "fetch_full_data"] \
                and version >= 6:
            return self._rich_text(version, md, {**params, "ids": rest[1]}, many=False)
        if len(rest) == 3 and rest[2] == "Attachments":
            return self._attachments(version, md, rest[1], params, token)
        raise ApiError(404, "INVALID_URL_PATTERN",
                       "Please check if the URL trying to access is a correct one")

    def _auth(self, headers: Any) -> AccessToken:
        raw = headers.get("Authorization")
        if not raw:
            raise ApiError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        scheme, _, tok = raw.strip().partition(" ")
        if scheme != "Zoho-oauthtoken" or not tok.strip():
            raise ApiError(401, "INVALID_TOKEN", "invalid oauth token")
        at = self.sim.oauth.validate(tok.strip())
        if at is None:
            raise rejected_token_error(self.sim.config["rejected_token_code"])
        return at

    @staticmethod
    def _require_scope(token: AccessToken, allowed: set[str]) -> None:
        if not scope_items(token.scope) & allowed:
            raise ApiError(401, "OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL")

    def _module(self, version: float, name: str, token: AccessToken) -> ModuleData:
        md = self.sim.org.module(name)
        if md is None:
            raise ApiError(400, "INVALID_MODULE", "The module name given seems to be invalid")
        spec = md.spec
        if not spec.module_meta(version)["api_supported"]:
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        low = name.lower()
        allowed = {"zohocrm.modules.all", "zohocrm.modules.read", f"zohocrm.modules.{low}.read",
                   f"zohocrm.modules.{low}.all"}
        if spec.subform_of:  # subform docs: the scope is the parent module's
            parent = spec.subform_of.lower()
            allowed |= {f"zohocrm.modules.{parent}.read", f"zohocrm.modules.{parent}.all"}
        if spec.generated_type == "custom":
            allowed |= {"zohocrm.modules.custom.read", "zohocrm.modules.custom.all"}
        if name == "Activities":
            allowed |= {f"zohocrm.modules.{m}.{a}" for m in ("tasks", "events", "calls")
                        for a in ("read", "all")}
        self._require_scope(token, allowed)
        self._permission(spec)
        return md

    def _unservable(self, name: str) -> tuple[int, str, str] | None:
        """Zoho's refusal of a listed system module's records (switch `unservable_modules`)."""
        if not self.sim.config["unservable_modules"]:
            return None
        return system_modules.refusal(name)

    @staticmethod
    def _permission(spec: ModuleSpec) -> None:
        if not spec.permitted:
            raise ApiError(403, "NO_PERMISSION", "permission denied",
                           {"permissions": [f"Crm_Implied_View_{spec.api_name}"]})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Zoho's front end
    # Headers and body go out in separate writes; with Nagle on, small responses wait ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "ZGS"
    sim: Simulator  # set on the subclass built by make_server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header on the org's clock, as Zoho's matches its own record times.
        return super().date_time_string(self.sim.clock.now() if timestamp is None else timestamp)

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        resp = self.sim.api.handle(method, split.path, query, self.headers, body)
        if isinstance(resp.body, FileBody):
            self.sim.exchanges.record(method, split.path, query, self.headers, resp.status,
                                      resp.headers, None, body)
            self._send_file(resp, resp.body)
            return
        payload = resp.payload()
        headers = dict(resp.headers)
        if resp.status not in (204, 304):
            headers.setdefault("Content-Type", JSON_CT)
        if not resp.injected:  # a fault's made-up answer is not checked as Zoho's
            self.sim.exchanges.record(method, split.path, query, self.headers, resp.status,
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
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up mid-answer is normal in fault tests.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def make_server(sim: Simulator, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"sim": sim})
    server = QuietServer((host, port), handler)
    server.daemon_threads = True
    return server
