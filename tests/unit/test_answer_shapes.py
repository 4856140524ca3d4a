"""The response layer, for any body: a page, a retryable error, or a clear final error; an empty
page only for the empty answers Zoho documents (204, 304, an empty list)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.exceptions import RetriableAPIError

from tap_zohocrm.responses import UnexpectedAnswer, answer_items, check_answer, list_key

BASE = "https://www.zohoapis.com/crm/v8"
# (method, url) of the calls the tap makes, each answered by a list (or a count).
CALLS = [
    ("GET", f"{BASE}/Leads?fields=Modified_Time&per_page=200&sort_by=Modified_Time"),
    ("GET", f"{BASE}/Leads?ids=1,2&fields=Email"),
    ("GET", f"{BASE}/Leads/deleted?type=all&per_page=200&page=1"),
    ("GET", f"{BASE}/users?type=AllUsers&page=1&per_page=200"),
    ("GET", f"{BASE}/settings/fields?module=Leads"),
    ("GET", f"{BASE}/settings/modules"),
    ("GET", f"{BASE}/org"),
    ("POST", "https://www.zohoapis.com/crm/bulk/v8/read"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["data", "users", "fields", "modules", "org", "info",
                                       "id", "more_records", "count", "x"]) | st.text(),
                      children, max_size=4),
    max_leaves=12,
)


def _answer(method: str, url: str, status: int, body: bytes,
            content_type: str = "application/json;charset=utf-8") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    response.request = requests.Request(method, url).prepare()
    return response


def _documented_empty(status: int, body: bytes, url: str) -> bool:
    if status in (204, 304):
        return True
    doc = json.loads(body)
    path = url.split("?")[0].removeprefix("https://www.zohoapis.com")
    return isinstance(doc, dict) and doc.get(list_key(path)) == []


def _read(response: requests.Response) -> list[dict[str, Any]] | None:
    """The page, or None for a retryable error; any other exception fails the property."""
    try:
        return answer_items(response)
    except RetriableAPIError as exc:
        assert isinstance(exc, UnexpectedAnswer)
        assert "documented shape" in str(exc) and "/" in str(exc)  # names the call
        return None


@settings(max_examples=300, deadline=None)
@given(call=st.sampled_from(CALLS), status=st.sampled_from([200, 201, 202, 204, 304]),
       doc=json_values)
def test_any_json_body_is_a_page_or_a_retryable_error(call, status, doc) -> None:
    body = b"" if status in (204, 304) else json.dumps(doc).encode()
    items = _read(_answer(*call, status, body))
    if items is None:
        return
    assert isinstance(items, list) and all(isinstance(i, dict) for i in items)
    if not items:
        assert _documented_empty(status, body, call[1]), body
    if call[0] == "GET":
        assert all(i.get("id") for i in items)


@settings(max_examples=200, deadline=None)
@given(call=st.sampled_from(CALLS), body=st.binary(max_size=64))
def test_any_bytes_are_a_page_or_a_retryable_error(call, body) -> None:
    items = _read(_answer(*call, 200, body))
    if items is not None and not items:
        assert _documented_empty(200, body, call[1])


@settings(max_examples=100, deadline=None)
@given(records=st.lists(st.fixed_dictionaries({"id": st.text(min_size=1)}, optional={
    "Email": st.text(), "Modified_Time": st.text()}), max_size=5), more=st.booleans())
def test_documented_pages_are_read_as_they_are(records, more) -> None:
    body = msgspec.json.encode({"data": records, "info": {"more_records": more}})
    assert _read(_answer(*CALLS[0], 200, body)) == records


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "application/xml"])
def test_a_body_that_is_not_json_is_retryable(content_type) -> None:
    assert _read(_answer(*CALLS[0], 200, b"<html>gateway</html>", content_type)) is None


def test_a_bulk_read_result_download_is_not_read_as_json() -> None:
    url = "https://www.zohoapis.com/crm/bulk/v8/read/554/result"
    response = _answer("GET", url, 200, b"PK\x03\x04", "application/zip")

    check_answer(response)  # no error: the ZIP is read by the Bulk Read download


@pytest.mark.parametrize(("count", "ok"), [('"12"', True), ("12", True), ("null", False),
                                           ('"x"', False), ("-1", False), ("true", False)])
def test_record_count_answers(count, ok) -> None:
    response = _answer("GET", f"{BASE}/Leads/actions/count", 200, f'{{"count": {count}}}'.encode())

    if ok:
        check_answer(response)
    else:
        with pytest.raises(UnexpectedAnswer, match="no count"):
            check_answer(response)
