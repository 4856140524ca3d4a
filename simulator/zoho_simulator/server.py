"""HTTP layer: routing, CRM record/metadata endpoints, page tokens, control API."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

from . import credits, system_modules
from .bulk import BULK_SCOPES, BulkError
from .directory import (
    USER_TYPES,
    build_org,
    build_profiles,
    build_roles,
    user_matches,
    user_type_served,
)
from .field_usage import listed_fields
from .fields import FieldDef, ModuleSpec
from .living import check_deleted_page_cap, keyset_start, notes_ignore_paging, record_key
from .oauth import AccessToken, scope_items
from .org import ATTACHMENT_KEYS, ModuleData, deleted_supported, fmt_dt, parse_iso

if TYPE_CHECKING:
    from .simulator import Simulator

VERSIONS = {"v2": 2.0, "v2.1": 2.1, "v3": 3.0, "v4": 4.0, "v5": 5.0, "v6": 6.0, "v7": 7.0,
            "v8": 8.0}
SORTABLE = ("id", "Created_Time", "Modified_Time")
MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2000
MAX_FIELDS = 50
MAX_IDS = 100
FULL_DATA_MAX_IDS = 200  # Get Rich Text Fields (v8): up to 200 record ids a call
PAGE_TOKEN_TTL = 24 * 3600.0
JSON_CT = "application/json;charset=UTF-8"
FAULT_CODES = {500: ("INTERNAL_ERROR", "Internal Server Error"),
               429: ("TOO_MANY_REQUESTS", "You have exceeded the API limit. Please try again "
                                          "after some time."),
               503: ("INTERNAL_ERROR", "Service temporarily unavailable"),
               401: ("INVALID_TOKEN", "invalid oauth token"),
               403: ("NO_PERMISSION", "permission denied"),
               404: ("INVALID_URL_PATTERN",
                     "Please check if the URL trying to access is a correct one"),
               400: ("INVALID_DATA", "invalid data")}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message,
                "status": "error"}


def rejected_token_error(code: str) -> ApiError:
    """Zoho's 401 for an expired or revoked access token: INVALID_TOKEN, or on some
    requests AUTHENTICATION_FAILURE (both in Zoho's OpenAPI files)."""
    if code == "AUTHENTICATION_FAILURE":
        return ApiError(401, code, "Authentication failed")
    return ApiError(401, "INVALID_TOKEN", "invalid oauth token")


def invalid(param: str, message: str = "invalid data") -> ApiError:
    return ApiError(400, "INVALID_DATA", message, {"param_name": param})


@dataclass
class FileBody:
    """A response body sent from a file (Bulk Read results), streamed."""
    path: str
    size: int


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, bytes, FileBody, or None (no body)
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, FileBody):
            with open(self.body.path, "rb") as f:
                return f.read()
        try:
            # msgspec writes the same compact UTF-8 JSON as json.dumps, faster: the
            # simulator shares the machine's cores with the tap it serves in benchmarks.
            return msgspec.json.encode(self.body)
        except (TypeError, msgspec.EncodeError):  # e.g. a non-string key: json's rules
            return json.dumps(self.body, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")


@dataclass
class PageToken:
    offset: int  # records the chain has served
    binding: tuple[Any, ...]
    created: float
    after: Any = None  # sort key of the last record served (keyset tokens)


class PageTokens:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, PageToken] = {}

    def issue(self, offset: int, binding: tuple[Any, ...], now: float, after: Any = None
              ) -> str:
        tok = secrets.token_hex(16)
        with self.lock:
            self.tokens[tok] = PageToken(offset, binding, now, after)
        return tok

    def get(self, tok: str) -> PageToken | None:
        with self.lock:
            return self.tokens.get(tok)


class Api:
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
        rule = sim.faults.match(path)
        if rule is not None and rule.delay:
            time.sleep(rule.delay)
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

    # ------------------------------------------------------------ settings
    def _settings(self, version: float, rest: list[str], params: dict[str, str],
                  token: AccessToken) -> Response:
        org = self.sim.org
        if rest and rest[0] == "modules":
            self._require_scope(token, {"zohocrm.settings.all", "zohocrm.settings.modules.read",
                                        "zohocrm.settings.modules.all"})
            if len(rest) == 1:
                listed = [s.module_meta(version) for s in org.specs]
                if self.sim.config["unservable_modules"]:
                    listed += system_modules.listed(version)
                return Response(200, {"modules": listed})
            md = org.module(rest[1])
            if md is None or len(rest) > 2:
                raise ApiError(400, "INVALID_MODULE", "The module name given seems to be invalid")
            return Response(200, {"modules": [md.spec.module_meta(version)]})
        if rest == ["fields"]:
            self._require_scope(token, {"zohocrm.settings.all", "zohocrm.settings.fields.read",
                                        "zohocrm.settings.fields.all"})
            name = params.get("module")
            if not name:
                raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter "
                               "is missing", {"param_name": "module"})
            md = org.module(name)
            if md is None and self._unservable(name):
                return Response(200, {"fields": [f.meta for f in system_modules.fields(name)]})
            if md is None:
                raise ApiError(400, "INVALID_MODULE", "The module name given seems to be invalid")
            if not md.spec.module_meta(version)["api_supported"]:
                raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
            self._permission(md.spec)
            with org.lock:
                fields = listed_fields(md.fields, version, params.get("type"))
            return Response(200, {"fields": fields})
        if rest and rest[0] in ("roles", "profiles") and len(rest) <= 2:
            kind = rest[0]
            self._require_scope(token, {"zohocrm.settings.all", f"zohocrm.settings.{kind}.read",
                                        f"zohocrm.settings.{kind}.all"})
            items = build_roles(version) if kind == "roles" else build_profiles()
            if len(rest) == 2:  # GET settings/roles/{id}, settings/profiles/{id}
                items = [i for i in items if i["id"] == rest[1]]
                if not items:
                    return Response(204)
            return Response(200, {kind: items})
        raise ApiError(404, "INVALID_URL_PATTERN",
                       "Please check if the URL trying to access is a correct one")

    # ------------------------------------------------------------ record params
    def _fields(self, version: float, md: ModuleData, raw: str | None) -> list[FieldDef] | None:
        if raw is None:
            return None
        names = list(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
        if not names:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                           "missing", {"param_name": "fields"})
        if len(names) > MAX_FIELDS:
            raise ApiError(400, "LIMIT_EXCEEDED", "Fields limit exceeded",
                           {"param_name": "fields", "limit": MAX_FIELDS})
        with self.sim.org.lock:
            by_api = md.by_api(version)
        out = []
        for n in names:
            if n == "id":
                continue
            fd = by_api.get(n)
            if fd is None:
                raise ApiError(400, "INVALID_DATA", "invalid data",
                               {"api_name": n, "param_name": "fields"})
            out.append(fd)
        return out

    @staticmethod
    def _int(params: dict[str, str], name: str, default: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        if not raw.strip().isdigit() or int(raw) < 1:
            raise invalid(name)
        return int(raw)

    @staticmethod
    def _since(headers: Any) -> float | None:
        raw = headers.get("If-Modified-Since")
        if raw is None:
            return None
        try:
            return parse_iso(raw)
        except ValueError:
            raise ApiError(400, "INVALID_DATA", "invalid data",
                           {"header_name": "If-Modified-Since"}) from None

    @staticmethod
    def _ids(params: dict[str, str], limit: int = MAX_IDS) -> set[int] | None:
        raw = params.get("ids")
        if raw is None:
            return None
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if len(ids) > limit:
            raise ApiError(400, "LIMIT_EXCEEDED", "ids limit exceeded",
                           {"param_name": "ids", "limit": limit})
        if not ids or not all(i.isdigit() for i in ids):
            raise invalid("ids")
        return {int(i) for i in ids}

    @staticmethod
    def _filters(md: ModuleData, params: dict[str, str], by_ids: bool
                 ) -> tuple[str | None, str | None]:
        # Fetching explicit ids applies no default filters (only explicit ones).
        converted = params.get("converted", None if by_ids else "false")
        approved = params.get("approved", None if by_ids else "true")
        for name, val in (("converted", converted), ("approved", approved)):
            if val is not None and val not in ("true", "false", "both"):
                raise invalid(name)
        return (converted if md.name == "Leads" else None), approved

    def _empty(self, headers: Any) -> Response:
        # Zoho: 304 when If-Modified-Since matched nothing, 204 for an empty result otherwise.
        return Response(304 if headers.get("If-Modified-Since") is not None else 204)

    # ------------------------------------------------------------ records
    def _list(self, version: float, md: ModuleData, query: dict[str, list[str]],
              params: dict[str, str], headers: Any) -> Response:
        if md.name == "Notes" and not self.sim.user_is_admin:  # GET /Notes: admins only
            raise ApiError(403, "NOT_SUPPORTED", "This API is supported only for admin users")
        modern = version >= 3
        ids = self._ids(params)
        if modern and "fields" not in params and ids is None:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                           "missing", {"param_name": "fields"})
        selected = self._fields(version, md, params.get("fields"))
        per_page = self._int(params, "per_page", MAX_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            raise invalid("per_page")
        sort_by = params.get("sort_by", "id")
        if sort_by not in SORTABLE:
            raise invalid("sort_by")
        # Notes come oldest first by default (v7 Get Notes); records newest first.
        sort_order = params.get("sort_order", "asc" if md.name == "Notes" else "desc")
        if sort_order not in ("asc", "desc"):
            raise invalid("sort_order")
        converted, approved = self._filters(md, params, ids is not None)
        since = self._since(headers)
        if ids is None:
            self.sim.churn.before_page(md.name)
        token_raw = params.get("page_token")
        plain = notes_ignore_paging(self.sim.config, md.name, version)
        if plain:
            since, token_raw = None, None
            headers = {k: v for k, v in headers.items() if k.lower() != "if-modified-since"}
        cap = int(self.sim.config["page_token_cap"])
        now = self.sim.clock.now()
        binding = (version, md.name, tuple(sorted(
            (k, tuple(v)) for k, v in query.items() if k not in ("page_token", "page"))),
            (headers.get("If-Modified-Since") or "").strip())
        if token_raw is not None:
            if not modern:
                raise invalid("page_token")
            if "page" in params:
                raise ApiError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token "
                               "cannot be given together", {"param_names": ["page",
                                                                            "page_token"]})
            tok = self.page_tokens.get(token_raw)
            if tok is None:
                raise invalid("page_token")
            if now - tok.created > PAGE_TOKEN_TTL:
                raise ApiError(400, "EXPIRED_VALUE", "The given page_token has expired",
                               {"param_name": "page_token"})
            if tok.binding != binding:
                raise ApiError(400, "TOKEN_BOUND_DATA_MISMATCH", "The given page_token is "
                               "bound to different request data", {"param_name": "page_token"})
            start = served = tok.offset
            if served >= cap:
                raise ApiError(400, "PAGINATION_LIMIT_EXCEEDED", "You can only get up to first "
                               f"{cap} records using page_token param.", {"limit": cap})
            page = served // per_page + 1
        else:
            page = self._int(params, "page", 1)
            start = served = (page - 1) * per_page
            if start + per_page > DISCRETE_LIMIT:
                raise ApiError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                               "You can only get the first 2000 records without using "
                               "page_token param.", {"limit": DISCRETE_LIMIT})
        recs = self.sim.org.query(md.name, sort_by=sort_by, desc=sort_order == "desc",
                                  converted=converted, approved=approved, since=since, ids=ids)
        if token_raw is not None:
            if not self.sim.config["positional_page_tokens"]:
                start = keyset_start(recs, tok.after, sort_by, sort_order == "desc")
            end = min(start + per_page, len(recs), start + cap - served)
        else:
            end = min(start + per_page, len(recs))
        chunk = recs[start:end]
        if not chunk:
            return self._empty(headers)
        with self.sim.org.lock:
            data = [self.sim.org.render(md.name, r, version, selected) for r in chunk]
        more = end < len(recs)
        info: dict[str, Any]
        if not modern:
            info = {"call": False, "per_page": per_page, "count": len(data), "page": page,
                    "email": False, "more_records": more}
        else:
            after = record_key(sort_by, sort_order == "desc")(chunk[-1])
            next_tok = (self.page_tokens.issue(served + len(chunk), binding, now, after)
                        if more and not plain else None)
            info = {"call": False, "per_page": per_page, "next_page_token": next_tok,
                    "count": len(data), "sort_by": sort_by, "page": page,
                    "previous_page_token": token_raw,
                    "page_token_expiry": fmt_dt(now + PAGE_TOKEN_TTL) if next_tok else None,
                    "sort_order": sort_order, "email": False, "more_records": more}
        return Response(200, {"data": data, "info": info})

    def _single(self, version: float, md: ModuleData, rid: int, params: dict[str, str]
                ) -> Response:
        selected = self._fields(version, md, params.get("fields"))
        org = self.sim.org
        with org.lock:
            if md.name == "Activities":
                rec = next((r for _, r in org.activity_recs() if r.id == rid), None)
            else:
                rec = md.recs.get(rid)
            if rec is None:
                return Response(204)
            data = org.render(md.name, rec, version, selected, single=True)
        return Response(200, {"data": [data]})

    def _rich_text(self, version: float, md: ModuleData, params: dict[str, str], *,
                   many: bool) -> Response:
        """Get Rich Text Fields: the whole value of rich-text fields (list calls cut them at
        500 characters from v7). One record (v6+, `fields` optional: all its rich-text
        fields) or up to 200 `ids` (v8, `fields` mandatory); only rich-text fields."""
        for name in ("ids", "fields") if many else ():
            if not params.get(name):
                raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter "
                               "is missing", {"param_name": name})
        ids = self._ids(params, FULL_DATA_MAX_IDS) or set()
        selected = self._fields(version, md, params.get("fields"))
        with self.sim.org.lock:
            rich = [fd for fd in md.by_api(version).values()
                    if (fd.meta.get("textarea") or {}).get("type") == "rich_text"]
        if selected is None:
            selected = rich
        rich_names = {fd.api_name for fd in rich}
        for fd in selected:
            if fd.api_name not in rich_names:  # "other field types are not supported"
                raise ApiError(400, "INVALID_DATA", "invalid data",
                               {"api_name": fd.api_name, "param_name": "fields"})
        org = self.sim.org
        data = []
        with org.lock:
            for rid in sorted(ids):
                rec = md.recs.get(rid)
                if rec is None:
                    continue
                full = org.render(md.name, rec, version, selected, single=True)
                data.append({"id": full["id"],
                             **{fd.api_name: full.get(fd.api_name) for fd in selected}})
        return Response(200, {"data": data}) if data else Response(204)

    def _count(self, version: float, md: ModuleData, params: dict[str, str], headers: Any
               ) -> Response:
        converted, approved = self._filters(md, params, False)
        recs = self.sim.org.query(md.name, converted=converted, approved=approved,
                                  since=self._since(headers))
        return Response(200, {"count": len(recs)})

    def _per_page(self, params: dict[str, str]) -> tuple[int, int]:
        per_page = self._int(params, "per_page", MAX_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            raise invalid("per_page")
        return self._int(params, "page", 1), per_page

    # ------------------------------------------------------------ deleted records
    def _deleted(self, md: ModuleData, params: dict[str, str], headers: Any) -> Response:
        """GET /{module}/deleted. Zoho's docs leave two things open; the simulator assumes:
        * If-Modified-Since keeps entries with deleted_time >= the header (inclusive, like
          Get Records), and answers 304 when it leaves none;
        * entries come newest first (Zoho's default order), oldest first with sort_order=asc.
        No retention window (60/120 days) is modelled; a discrete page cap like Get Records'
        is, behind the `deleted_page_cap` switch."""
        if not (deleted_supported(md.spec) or md.name == "Activities"):
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        kind = params.get("type", "all")
        if kind not in ("all", "recycle", "permanent"):
            raise invalid("type")
        page, per_page = self._per_page(params)
        sort_order = params.get("sort_order", "desc")
        if sort_order not in ("asc", "desc"):
            raise invalid("sort_order")
        rows = self.sim.org.deleted_rows(md.name, kind, self._since(headers),
                                         desc=sort_order == "desc")
        start = (page - 1) * per_page
        check_deleted_page_cap(self.sim.config.get("deleted_page_cap"), start, per_page)
        chunk = rows[start:start + per_page]
        if not chunk:
            return self._empty(headers)
        return Response(200, {"data": chunk, "info": {
            "per_page": per_page, "count": len(chunk), "page": page,
            "more_records": start + per_page < len(rows)}})

    # ------------------------------------------------------------ attachments
    def _attachments(self, version: float, md: ModuleData, raw_id: str,
                     params: dict[str, str], token: AccessToken) -> Response:
        """GET /{module}/{record_id}/Attachments. Per record only: Zoho has no org-wide
        attachments list (no GET /Attachments), so none is simulated.
        Assumptions where the docs are silent: `fields` (mandatory from v3, optional in v2)
        may name any key of the attachment object, `$` keys included, and only the named
        keys (plus id) come back, as in the v7 sample; attachments come newest first; an
        unknown record id answers 204."""
        if not md.spec.record_module:
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        self._require_scope(token, {"zohocrm.modules.all", "zohocrm.modules.attachments.read",
                                    "zohocrm.modules.attachments.all"})
        if not raw_id.isdigit():
            raise invalid("record_id")
        raw_fields = params.get("fields")
        if version >= 3 and raw_fields is None:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                           "missing", {"param_name": "fields"})
        selected: list[str] | None = None
        if raw_fields is not None:
            selected = list(dict.fromkeys(n.strip() for n in raw_fields.split(",") if n.strip()))
            if not selected:
                raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter "
                               "is missing", {"param_name": "fields"})
            if len(selected) > MAX_FIELDS:
                raise ApiError(400, "LIMIT_EXCEEDED", "Fields limit exceeded",
                               {"param_name": "fields", "limit": MAX_FIELDS})
            for n in selected:
                if n not in ATTACHMENT_KEYS:
                    raise ApiError(400, "INVALID_DATA", "invalid data",
                                   {"api_name": n, "param_name": "fields"})
        if "page_token" in params:  # never issued: a record has at most a few attachments
            raise invalid("page_token")
        ids = self._ids(params)
        page, per_page = self._per_page(params)
        items = self.sim.org.record_attachments(md.name, int(raw_id))
        if not items:
            return Response(204)
        if ids is not None:
            items = [a for a in items if int(a["id"]) in ids]
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        if not chunk:
            return Response(204)
        if selected is not None:
            keep = {*selected, "id"}
            chunk = [{k: v for k, v in a.items() if k in keep} for a in chunk]
        more = start + per_page < len(items)
        info: dict[str, Any] = {"per_page": per_page, "count": len(chunk), "page": page,
                                "more_records": more}
        if version >= 3:
            info = {"per_page": per_page, "next_page_token": None, "count": len(chunk),
                    "page": page, "previous_page_token": None, "page_token_expiry": None,
                    "more_records": more}
        return Response(200, {"data": chunk, "info": info})

    # ------------------------------------------------------------ bulk read
    def _bulk(self, method: str, label: str, rest: list[str], headers: Any, body: bytes
              ) -> Response:
        """POST /crm/bulk/{v}/read, GET /crm/bulk/{v}/read/{job_id}[/result] (see bulk.py)."""
        version = VERSIONS[label]
        bulk = self.sim.bulk
        if len(rest) > 2 or (len(rest) == 2 and rest[1] != "result"):
            raise ApiError(404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one")
        if (method, bool(rest)) not in (("POST", False), ("GET", True)):
            raise ApiError(400, "INVALID_REQUEST_METHOD",
                           "The http request method type is not a valid one")
        token = self._auth(headers)
        self._require_scope(token, BULK_SCOPES)
        if not rest:  # create a job
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise ApiError(415, "MEDIA_TYPE_NOT_SUPPORTED",
                               "The media type of the request is not supported. Use "
                               "Content-Type: application/json")
            if not body.strip():
                raise ApiError(400, "REQUEST_BODY_IS_EMPTY", "The request body is empty")
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise ApiError(400, "REQUEST_BODY_NOT_READABLE",
                               "The request body is not a valid JSON object")
            job = bulk.create(version, data, lambda name: self._module(version, name, token))
            return Response(201, {"data": [{
                "status": "success", "code": "ADDED_SUCCESSFULLY",
                "message": "Added successfully.", "details": bulk.created_details(job)}],
                "info": {}})
        download = len(rest) == 2
        if download and not bulk.allow_download():
            raise ApiError(429, "TOO_MANY_REQUESTS", "You have reached the limit of 10 "
                           "download requests per minute. Please try again after some time.")
        job = bulk.get(rest[0])
        if job is None:
            raise ApiError(400 if download else 404, "RESOURCE_NOT_FOUND",
                           "The requested resource doesn't exist.",
                           {"resource": "result" if download else "job_id"})
        self._module(version, job.module, token)  # the module's read scope
        if not download:
            return Response(200, {"data": [bulk.details(job, label)]})
        if job.state(self.sim.clock.now()) != "COMPLETED":
            raise ApiError(400, "RESOURCE_NOT_FOUND", "The result of the job is not available "
                           "yet: the job is not completed.", {"resource": "result"})
        path, size = bulk.result_file(job)
        # OAS: Download Result answers `application/x-download`.
        return Response(200, FileBody(path, size), {
            "Content-Type": "application/x-download",
            "Content-Disposition": f'attachment; filename="{job.id}.zip"'})

    # ------------------------------------------------------------ users
    def _users(self, version: float, rest: list[str], params: dict[str, str], headers: Any,
               token: AccessToken) -> Response:
        """GET /users (type, page, per_page <= 200, ids, If-Modified-Since on Modified_Time)
        and GET /users/{id}. Users come in id order (assumption)."""
        self._require_scope(token, {"zohocrm.users.read", "zohocrm.users.all"})
        org = self.sim.org
        since = self._since(headers)
        users = org.user_directory()
        if len(rest) == 1:
            if not rest[0].isdigit():
                raise invalid("user_id")
            found = [u for u in users if u["id"] == rest[0]]
            if not found:
                return Response(204)
            if since is not None and parse_iso(found[0]["Modified_Time"]) < since:
                return Response(304)
            return Response(200, {"users": found})
        if rest:
            raise ApiError(404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one")
        kind = params.get("type", "AllUsers")
        if kind not in USER_TYPES or not user_type_served(self.sim.config, version, kind):
            raise invalid("type")
        ids = self._ids(params)
        page, per_page = self._per_page(params)
        current = org.directory[org.current_user]["id"]
        rows = [u for u in users if user_matches(u, kind, current)
                and (ids is None or int(u["id"]) in ids)
                and (since is None or parse_iso(u["Modified_Time"]) >= since)]
        start = (page - 1) * per_page
        chunk = rows[start:start + per_page]
        if not chunk:
            return self._empty(headers)
        return Response(200, {"users": chunk, "info": {
            "per_page": per_page, "count": len(chunk), "page": page,
            "more_records": start + per_page < len(rows)}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Zoho's front end
    # Headers and body go out in separate writes; with Nagle on, small responses wait ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "ZGS"
    sim: Simulator  # set on the subclass built by make_server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        resp = self.sim.api.handle(method, split.path, query, self.headers, body)
        if isinstance(resp.body, FileBody):
            self._send_file(resp, resp.body)
            return
        payload = resp.payload()
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if resp.status not in (204, 304):
            if "Content-Type" not in resp.headers:
                self.send_header("Content-Type", JSON_CT)
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
