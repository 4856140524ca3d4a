"""What a failed or finished call means: Zoho's error code, a refusal, Retry-After, Zoho's clock,
the one line that names a failure."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_zohocrm.responses import (
    RETRY_AFTER_CAP_SECONDS,
    UnexpectedAnswer,
    answered_at,
    call_name,
    describe,
    error_code,
    is_refusal,
    retry_after_seconds,
    sent_token,
    short_reason,
)
from tests.unit.answers import BASE, answer, zoho_error

# Zoho's own answers (zoho-crm-api.md, "Error JSON shape").
INVALID_TOKEN = {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token",
                 "status": "error"}


@pytest.mark.parametrize(("response", "code"), [
    (answer(401, INVALID_TOKEN), "INVALID_TOKEN"),
    (zoho_error(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED"), "DISCRETE_PAGINATION_LIMIT_EXCEEDED"),
    (zoho_error(429, "TOO_MANY_REQUESTS"), "TOO_MANY_REQUESTS"),
    # Not an error status: a `code` in a 2xx body is a record's status, not the call's.
    (answer(200, {"code": "SUCCESS", "data": []}), None),
    (answer(204), None),
    # Error answers without Zoho's envelope: a proxy's page, nothing, another JSON.
    (answer(502, b"<html>Bad Gateway</html>"), None),
    (answer(500), None),
    (answer(400, [{"code": "INVALID_DATA"}]), None),
    (answer(400, {"code": 4005, "message": "x"}), None),
    (answer(400, {"message": "no code"}), None),
])
def test_error_code_is_zohos_code_of_an_error_answer_or_none(response, code) -> None:
    assert error_code(response) == code


@pytest.mark.parametrize(("status", "code", "refused"), [
    # Access Zoho withholds: no retry or new token changes it.
    (401, "OAUTH_SCOPE_MISMATCH", True),
    (403, "NO_PERMISSION", True),
    (403, "NOT_SUPPORTED", True),
    (400, "INVALID_MODULE", True),
    (400, "FEATURE_NOT_ENABLED", True),
    (404, None, True),
    # A rejected access token is refreshed; too many requests and 5xx are retried.
    (401, "INVALID_TOKEN", False),
    (401, "AUTHENTICATION_FAILURE", False),
    (429, "TOO_MANY_REQUESTS", False),
    (500, "INTERNAL_ERROR", False),
    (503, None, False),
    # No answer from Zoho at all (the tap's own error).
    (None, "PAGINATION_LIMIT_EXCEEDED", False),
    (None, None, False),
])
def test_is_refusal(status, code, refused) -> None:
    assert is_refusal(status, code) is refused


def _failure(headers: dict[str, str] | None) -> RetriableAPIError:
    return RetriableAPIError("HTTP 429", zoho_error(429, "TOO_MANY_REQUESTS", headers=headers))


def _http_date(seconds_from_now: float) -> str:
    return email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now),
                                       usegmt=True)


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"Retry-After": "120"}, 120.0),
    ({"Retry-After": "0"}, 0.0),
    ({"Retry-After": "1.5"}, 1.5),
    # A wait no longer than the cap, and never a negative one.
    ({"Retry-After": "86400"}, RETRY_AFTER_CAP_SECONDS),
    ({"Retry-After": "-30"}, 0.0),
    ({"Retry-After": _http_date(-3600)}, 0.0),
    ({"Retry-After": _http_date(7 * 86400)}, RETRY_AFTER_CAP_SECONDS),
    # No usable header: the exponential wait applies. (Zoho documents none.)
    (None, None),
    ({"Retry-After": ""}, None),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": "Tue, 99 Foo 2025"}, None),
])
def test_retry_after_seconds(headers, seconds) -> None:
    assert retry_after_seconds(_failure(headers)) == seconds


def test_retry_after_an_http_date_is_the_time_until_it() -> None:
    wait = retry_after_seconds(_failure({"Retry-After": _http_date(60)}))
    assert wait is not None and 57 <= wait <= 60  # the header is whole seconds


def test_retry_after_that_is_not_a_number_of_seconds_is_not_a_wait() -> None:
    assert retry_after_seconds(_failure({"Retry-After": "nan"})) is None


@pytest.mark.parametrize("exc", [
    requests.ConnectionError("reset"), RetriableAPIError("HTTP 500", None), ValueError("x"),
    None, object(),
])
def test_retry_after_needs_an_answer(exc) -> None:
    assert retry_after_seconds(exc) is None


@pytest.mark.parametrize(("date", "at"), [
    ("Tue, 04 Mar 2025 17:15:02 GMT", datetime(2025, 3, 4, 17, 15, 2, tzinfo=UTC)),
    ("Tue, 04 Mar 2025 22:45:02 +0530", datetime(2025, 3, 4, 17, 15, 2, tzinfo=UTC)),
    (None, None),
    ("", None),
    ("yesterday", None),
])
def test_answered_at_is_the_date_of_zohos_answer(date, at) -> None:
    response = answer(200, {"data": []}, headers={"Date": date} if date is not None else None)
    assert answered_at(response) == at


@pytest.mark.parametrize("date", ["Tue Mar  4 17:15:02 2025", "Tue, 04 Mar 2025 17:15:02 -0000"])
def test_answered_at_is_always_an_instant(date) -> None:
    at = answered_at(answer(200, {"data": []}, headers={"Date": date}))
    assert at == datetime(2025, 3, 4, 17, 15, 2, tzinfo=UTC)


@pytest.mark.parametrize(("exc", "reason"), [
    # The retried failure's first part, without Zoho's message and details.
    (RetriableAPIError("HTTP 429 TOO_MANY_REQUESTS from GET /crm/v8/Leads: too many {}"),
     "HTTP 429 TOO_MANY_REQUESTS from GET /crm/v8/Leads"),
    (RetriableAPIError("access token rejected (INVALID_TOKEN)"),
     "access token rejected (INVALID_TOKEN)"),
    (UnexpectedAnswer("Answer not in Zoho's documented shape (no 'data') from GET /crm/v8/Leads"),
     "Answer not in Zoho's documented shape (no 'data') from GET /crm/v8/Leads"),
    # Other failures by their kind: their text may hold a URL with ids.
    (requests.ConnectionError("HTTPSConnectionPool(host=...): Max retries exceeded"),
     "ConnectionError"),
    (ConnectionResetError(104, "Connection reset by peer"), "ConnectionResetError"),
    (None, "an error"),
])
def test_short_reason(exc, reason) -> None:
    assert short_reason(exc) == reason


def test_describe_is_one_line_with_status_code_path_message_and_details() -> None:
    response = zoho_error(400, "INVALID_DATA", "invalid data", url=f"{BASE}/Leads?ids=1,2,3")
    response._content = (b'{"code":"INVALID_DATA","details":{"api_name":"Email"},'
                         b'"message":"invalid data","status":"error"}')
    line = describe(response)
    assert "\n" not in line
    assert line.startswith("HTTP 400 INVALID_DATA from GET /crm/v8/Leads: invalid data")
    assert '"api_name": "Email"' in line
    assert "ids=" not in line  # the query may hold record ids


def test_describe_an_answer_without_zohos_envelope() -> None:
    assert describe(answer(502, b"<html>Bad Gateway</html>")).startswith(
        "HTTP 502  from GET /crm/v8/Leads:")


def test_describe_names_the_method_of_the_call() -> None:
    response = zoho_error(400, "INVALID_DATA", "invalid data", method="POST",
                          url="https://www.zohoapis.com/crm/bulk/v8/read")
    assert "from POST /crm/bulk/v8/read" in describe(response)


@pytest.mark.parametrize(("method", "url", "name"), [
    ("GET", f"{BASE}/Leads?ids=1,2&fields=Email", "GET /crm/v8/Leads"),
    ("POST", "https://www.zohoapis.com/crm/bulk/v8/read", "POST /crm/bulk/v8/read"),
])
def test_call_name_is_the_call_without_its_query(method, url, name) -> None:
    assert call_name(answer(200, {"data": []}, method=method, url=url)) == name


@pytest.mark.parametrize(("authorization", "token"), [
    ("Zoho-oauthtoken 1000.abc.def", "1000.abc.def"),
    (None, None),
    ("", None),
])
def test_sent_token_is_the_access_token_the_call_carried(authorization, token) -> None:
    response = answer(401, INVALID_TOKEN)
    if authorization is not None:
        response.request.headers["Authorization"] = authorization
    assert sent_token(response) == token
