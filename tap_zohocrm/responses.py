"""Zoho's answers: the JSON body, its error envelope, and what a failed call means."""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from datetime import datetime
from typing import Any

import msgspec
import requests
from singer_sdk.exceptions import RetriableAPIError

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
        parsed = msgspec.json.decode(response.content)  # several times faster than json
        body = parsed if isinstance(parsed, dict) else {"data": parsed}
    response._zoho_json = body  # type: ignore[attr-defined]
    return body


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
        details = json.dumps(response_json(response).get("details") or {})
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
