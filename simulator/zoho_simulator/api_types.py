"""What the simulated API answers with: its limits, errors, responses and page tokens."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from .hard_values import escaped_surrogates

if TYPE_CHECKING:
    pass


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


class BulkError(Exception):
    """A refused Bulk Read request: the same `{code, details, message, status}` answer."""

    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or {}


def bulk_error(code: str, message: str, **details: Any) -> BulkError:
    return BulkError(400, code, message, details)


def rejected_token_error(code: str) -> ApiError:
    """Zoho's 401 for an expired or revoked access token: INVALID_TOKEN, or on some
    requests AUTHENTICATION_FAILURE (both in Zoho's OpenAPI files)."""
    if code == "AUTHENTICATION_FAILURE":
        return ApiError(401, code, "Authentication failed")
    return ApiError(401, "INVALID_TOKEN", "invalid oauth token")


def invalid(param: str, message: str = "invalid data") -> ApiError:
    return ApiError(400, "INVALID_DATA", message, {"param_name": param})


def field_names(raw: str) -> list[str]:
    """The names a `fields` parameter lists, once each: at least one, at most MAX_FIELDS."""
    names = list(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    if not names:
        raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                       "missing", {"param_name": "fields"})
    if len(names) > MAX_FIELDS:
        raise ApiError(400, "LIMIT_EXCEEDED", "Fields limit exceeded",
                       {"param_name": "fields", "limit": MAX_FIELDS})
    return names



@dataclass
class FileBody:
    """A response body sent from a file (Bulk Read results), streamed."""
    path: str
    size: int


ENCODER = msgspec.json.Encoder(decimal_format="number")


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, bytes, FileBody, or None (no body)
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False
    injected: bool = False  # a fault's answer (`body`), not one Zoho would give
    credits: int | None = None  # what the call costs, when not the path's usual cost

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
            # Decimals (hard values) as the JSON numbers Zoho writes, every digit kept.
            return ENCODER.encode(self.body)
        except UnicodeEncodeError:
            # Text with a lone surrogate: no UTF-8 holds it, JSON's escape does (`\ud800`).
            return ENCODER.encode(escaped_surrogates(self.body))
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


def empty_answer(headers: Any) -> Response:
    """Zoho: 304 when If-Modified-Since matched nothing, 204 for an empty result otherwise."""
    return Response(304 if headers.get("If-Modified-Since") is not None else 204)


def page_answer(key: str, rows: list[Any], page: int, per_page: int, headers: Any) -> Response:
    """One page of a page/per_page listing: `key` holds the page's rows, `info` the paging."""
    start = (page - 1) * per_page
    chunk = rows[start:start + per_page]
    if not chunk:
        return empty_answer(headers)
    return Response(200, {key: chunk, "info": {
        "per_page": per_page, "count": len(chunk), "page": page,
        "more_records": start + per_page < len(rows)}})
