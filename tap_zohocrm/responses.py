"""Zoho's answers: the JSON body, its error envelope, and what a failed call means."""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import time
from datetime import datetime
from typing import Any

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


def response_json(response: requests.Response) -> dict[str, Any]:
    """Parse a response body once; 204/304 and empty bodies are an empty result."""
    cached = getattr(response, "_zoho_json", None)
    if cached is not None:
        return cached
    if response.status_code in EMPTY_STATUSES or not response.content:
        body: dict[str, Any] = {}
    else:
        parsed = decode_body(response.content)
        body = parsed if isinstance(parsed, dict) else {"data": parsed}
    response._zoho_json = body  # type: ignore[attr-defined]
    return body


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
    return f"HTTP {response.status_code} {code or ''} from GET {path}: {message} {details}"


def sent_token(response: requests.Response) -> str | None:
    header = (response.request.headers.get("Authorization") if response.request else "") or ""
    return header.removeprefix("Zoho-oauthtoken ") or None


def answered_at(response: requests.Response) -> datetime | None:
    """Zoho's clock: the Date of its answer (None without a usable one)."""
    try:
        return email.utils.parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None


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
