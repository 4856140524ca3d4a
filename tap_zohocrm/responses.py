"""Zoho's answers: the JSON body, its error envelope, and what a failed call means."""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import msgspec
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_zohocrm.schema.values import json_number

PAGE_LIMIT_CODES = frozenset({"PAGINATION_LIMIT_EXCEEDED", "DISCRETE_PAGINATION_LIMIT_EXCEEDED"})
EMPTY_STATUSES = frozenset({204, 304})
# 401 codes of an access token Zoho no longer accepts (expired, revoked): Zoho answers either.
REJECTED_TOKEN_CODES = frozenset({"INVALID_TOKEN", "AUTHENTICATION_FAILURE"})
RETRY_AFTER_CAP_SECONDS = 900.0

# What to grant when Zoho refuses a read, by error code.
ACCESS_HINTS = {
    "OAUTH_SCOPE_MISMATCH": "the OAuth client lacks the scope {scope}; generate a new grant "
    "code with it (see README, 'Zoho console')",
    "NO_PERMISSION": "the Zoho user of this refresh token has no permission to read it; give "
    "the user's profile read access to the module, or drop it from `modules`",
    "INVALID_MODULE": "Zoho says the module does not exist or is not supported in this API "
    "version; check the module API name in `modules` and `api_version`",
    "NOT_SUPPORTED": "Zoho allows this only for administrators; use an admin user's refresh token",
    "FEATURE_NOT_ENABLED": "the feature is not enabled in this Zoho edition",
    "INVALID_QUERY": "Zoho does not serve this module's records through the API (a system "
    "module); leave it out of `modules`",
}


def is_refusal(status: int | None, code: str | None) -> bool:
    """Whether Zoho refused a read outright (a 4xx that no retry or token refresh changes):
    a missing scope or permission, an edition feature, a module it does not serve."""
    return (status is not None and 400 <= status < 500 and status != 429
            and code not in REJECTED_TOKEN_CODES)


class UnexpectedAnswer(RetriableAPIError):
    """A 2xx answer outside the shapes Zoho documents for its call (not JSON, not an object,
    no list where one is documented, a record without an id): a proxy's or a hiccup's answer.
    Retried like a 5xx; never read as "no more data"."""


# The list a 2xx answer holds, by the end of the call's path; every other call's is `data`.
LIST_KEYS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/users$"), "users"),
    (re.compile(r"/org$"), "org"),
    (re.compile(r"/settings/fields$"), "fields"),
    (re.compile(r"/settings/modules$"), "modules"),
    (re.compile(r"/settings/roles$"), "roles"),
    (re.compile(r"/settings/profiles$"), "profiles"),
    (re.compile(r"/settings/recycle_bin$"), "recycle_bin"),
)
COUNT_PATH = re.compile(r"/actions/count$")
# A Bulk Read result is a ZIP file, the one answer that is not JSON.
DOWNLOAD_PATH = re.compile(r"/read/[^/]+/result$")


def response_json(response: requests.Response) -> dict[str, Any]:
    """Parse a response body once; 204/304 are an empty result. Raises ValueError for a body
    that is not a JSON object (every answer Zoho documents is one)."""
    cached = getattr(response, "_zoho_json", None)
    if cached is not None:
        return cached
    if response.status_code in EMPTY_STATUSES:
        body: Any = {}
    elif not response.content:
        raise ValueError("an empty body")
    else:
        body = decode_body(response.content)
    if not isinstance(body, dict):
        raise ValueError(f"a JSON {_json_type(body)}, not an object")
    # Kept on the response: its body is decoded once, however many readers ask.
    response._zoho_json = body  # type: ignore[attr-defined]
    return body


def call_name(response: requests.Response) -> str:
    """`GET /crm/v8/Leads`: the call, without its query (which may hold ids)."""
    request = response.request
    path = (request.path_url if request else "").split("?")[0]
    return f"{(request.method if request else None) or 'GET'} {path}"


def list_key(path: str) -> str:
    """The key of the list Zoho answers this call's path with."""
    return next((key for pattern, key in LIST_KEYS if pattern.search(path)), "data")


def answer_items(response: requests.Response) -> list[dict[str, Any]]:
    """The records (or users, fields, ...) of a 2xx answer; [] only for the empty answers
    Zoho documents (204, 304, an empty list). Raises UnexpectedAnswer for any other shape."""
    if response.status_code in EMPTY_STATUSES:
        return []
    check_answer(response)
    request = response.request
    return response_json(response)[list_key((request.path_url if request else "").split("?")[0])]


def check_answer(response: requests.Response) -> dict[str, Any] | None:
    """The body of a 2xx JSON answer, checked: UnexpectedAnswer unless it has the shape Zoho
    documents for its call (None: no body to check, an error status or a download).

    Documented: a JSON object; its list (`data`, `users`, `fields`, ...) a list of objects,
    each with an `id` in the answer to a GET; `info.more_records` a boolean when the call asked
    for a page (`per_page`); `count` an integer for Record Count. 204 and 304 are the empty
    answers, and so is an empty list.
    """
    if response.status_code in EMPTY_STATUSES or not 200 <= response.status_code < 300:
        return None
    if getattr(response, "_zoho_checked", False):  # validate_response checked it already
        return response_json(response)
    request = response.request
    path = (request.path_url if request else "").split("?")[0]
    if DOWNLOAD_PATH.search(path):
        return None
    if "json" not in response.headers.get("Content-Type", "json"):
        _unexpected(response, f"a {response.headers['Content-Type'].split(';')[0]} body, not JSON")
    try:
        body = response_json(response)
    except (msgspec.DecodeError, json.JSONDecodeError):
        _unexpected(response, "truncated or invalid JSON")
    except ValueError as exc:
        _unexpected(response, str(exc))
    if COUNT_PATH.search(path):
        count = body.get("count")  # a string of digits in Zoho's files, a number in practice
        if not (isinstance(count, str) and count.isdigit()) and not (
                type(count) is int and count >= 0):
            _unexpected(response, "no count")
        return body
    key = list_key(path)
    if key not in body:
        _unexpected(response, f"no '{key}'")
    items = body[key]
    if not isinstance(items, list):
        _unexpected(response, f"'{key}' is a JSON {_json_type(items)}, not an array")
    needs_id = (request.method or "GET") == "GET" if request else True
    for item in items:
        if not isinstance(item, dict):
            _unexpected(response, f"an item of '{key}' is not an object")
        if needs_id and not item.get("id"):
            _unexpected(response, f"an item of '{key}' has no id")
    if "per_page=" in (request.path_url if request else ""):
        info = body.get("info")
        if not isinstance(info, dict) or not isinstance(info.get("more_records"), bool):
            _unexpected(response, "no info.more_records")
    # Kept on the response: parse_response reuses validate_response's check.
    response._zoho_checked = True  # type: ignore[attr-defined]
    return body


_JSON_TYPES: dict[type, str] = {dict: "object", list: "array", str: "string"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return _JSON_TYPES.get(type(value), "number")


def _unexpected(response: requests.Response, what: str) -> NoReturn:
    raise UnexpectedAnswer(
        f"Answer not in Zoho's documented shape ({what}) from {call_name(response)}", response)


LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A number with more digits than a float keeps is read as a Decimal (json_number).
_fast = msgspec.json.Decoder(float_hook=json_number)  # several times faster than json


class RepairedBody(dict):
    """A body whose strings held lone surrogates, written with U+FFFD in their place."""

    replaced = 0  # how many strings (values or keys) were changed


def decode_body(content: bytes) -> Any:
    """A JSON body as Python values.

    msgspec reads nearly every body, fast. It refuses valid JSON that escapes a lone UTF-16
    surrogate (`\\ud800`): such a body is read by the standard library, and each string that
    holds one, which no UTF-8 output can carry, gets U+FFFD in its place (an object body says
    how many in `replaced`). Anything neither reads raises ValueError.
    """
    try:
        return _fast.decode(content)
    except msgspec.DecodeError:
        parsed = json.loads(content, parse_float=json_number)
    counter = [0]
    repaired = _without_lone_surrogates(parsed, counter)
    if counter[0] and isinstance(repaired, dict):
        repaired = RepairedBody(repaired)
        repaired.replaced = counter[0]
    return repaired


def lone_surrogates_replaced(body: Any) -> int:
    """How many strings of a decoded body got U+FFFD for a lone surrogate."""
    return body.replaced if isinstance(body, RepairedBody) else 0


def _without_lone_surrogates(value: Any, counter: list[int]) -> Any:
    if isinstance(value, str):
        if LONE_SURROGATE.search(value) is None:
            return value
        counter[0] += 1
        # Through UTF-16: a pair read as two code points (raw CESU-8 bytes) becomes its one
        # character again; only a surrogate without its partner becomes U+FFFD.
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, dict):
        return {_without_lone_surrogates(k, counter): _without_lone_surrogates(v, counter)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(v, counter) for v in value]
    return value


def error_code(response: requests.Response) -> str | None:
    if response.status_code < 400:
        return None
    try:
        body = response_json(response)
    except ValueError:
        return None
    code = body.get("code")
    return code if isinstance(code, str) else None


def describe(response: requests.Response) -> str:
    """One line on a failed call: status, Zoho's code, path, message and details."""
    path = (response.request.path_url if response.request else "").split("?")[0]
    code = error_code(response)
    message = ""
    with contextlib.suppress(ValueError):
        message = str(response_json(response).get("message") or "")
    details = ""
    with contextlib.suppress(ValueError):
        details = json.dumps(response_json(response).get("details") or {}, default=str)
    method = (response.request.method if response.request else None) or "GET"
    return f"HTTP {response.status_code} {code or ''} from {method} {path}: {message} {details}"


def sent_token(response: requests.Response) -> str | None:
    header = (response.request.headers.get("Authorization") if response.request else "") or ""
    if isinstance(header, bytes):  # requests sends a header given as bytes as it is
        header = header.decode("latin-1")
    return header.removeprefix("Zoho-oauthtoken ") or None


def answered_at(response: requests.Response) -> datetime | None:
    """Zoho's clock: the Date of its answer (None without a usable one)."""
    try:
        at = email.utils.parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None
    # An HTTP-date is GMT: its asctime form and a '-0000' zone parse without a zone.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def retry_after_seconds(exc: Any) -> float | None:
    """Seconds Zoho's Retry-After asks to wait (None: no usable header)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
        if not math.isfinite(seconds):  # 'nan', 'inf': not delay-seconds (digits only)
            return None
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # neither seconds nor an HTTP date: the exponential wait applies
        seconds = parsed.timestamp() - time.time() if parsed else 0.0
    return max(0.0, min(seconds, RETRY_AFTER_CAP_SECONDS))


def short_reason(exc: Any) -> str:
    if isinstance(exc, RetriableAPIError):
        return str(exc).split(":")[0]
    return type(exc).__name__ if exc is not None else "an error"
