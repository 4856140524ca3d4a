"""Zoho answers built in memory, for the tests of the response and paging logic (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import requests

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
