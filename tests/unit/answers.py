"""Zoho answers built in memory, for the tests of the response and paging logic (no HTTP)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.responses import answer_items

BASE = "https://www.zohoapis.com/crm/v8"


def answer(status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None,
           method: str = "GET", url: str = f"{BASE}/Leads") -> requests.Response:
    """A response as `requests` would hand it over: `body` is JSON-encoded unless it is bytes
    (None: no body, as with 204 and 304)."""
    response = requests.Response()
    response.status_code = status
    if body is None:
        response._content = b""
    elif isinstance(body, bytes):
        response._content = body
    else:
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json;charset=utf-8"
    response.headers.update(headers or {})
    response.request = requests.Request(method, url).prepare()
    return response


def zoho_error(status: int, code: str, message: str = "", **kwargs: Any) -> requests.Response:
    """Zoho's error envelope: code, details, message, status "error"."""
    return answer(status, {"code": code, "details": {}, "message": message, "status": "error"},
                  **kwargs)


# (path, params, headers) -> (status, body): a scripted Zoho.
Answer = Callable[[str, dict[str, Any], dict[str, str]], tuple[int, Any]]


class FakeCalls:
    """Answers each call with `answer(path, params, headers)`; keeps the calls made."""

    run: Any = None
    logger = logging.getLogger("tests")
    module_api_name = "Leads"

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.made: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def call(self, path: str, params: Mapping[str, Any] | None = None, *,
             headers: Mapping[str, str] | None = None, method: str = "GET",
             url: str | None = None, json: Any = None,
             stream: bool = False) -> requests.Response:
        made = (path, {**(params or {}), **({"json": json} if json is not None else {})},
                dict(headers or {}))
        self.made.append(made)
        status, body = self.answer(*made)
        if status >= 400 and isinstance(body, dict) and body.get("code"):
            raise ZohoAPIError("refused", code=body["code"], status=status,
                               details=body.get("details"))
        return answer(status, body, url=f"{BASE}{path}", method=method,
                      headers={"Date": "Mon, 07 Dec 2026 12:00:00 GMT"})

    def items(self, answer: requests.Response) -> list[dict[str, Any]]:
        return [] if answer.status_code >= 400 else answer_items(answer)
