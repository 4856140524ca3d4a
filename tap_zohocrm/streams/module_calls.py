"""A stream's calls as the read paths take them (reads.calls.Calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    import requests

    from tap_zohocrm.client import ZohoStream
    from tap_zohocrm.sync.run import ZohoRun


class StreamCalls:
    """Calls through a stream's gate, checks and retries."""

    def __init__(self, stream: ZohoStream) -> None:
        self._stream = stream
        self.run: ZohoRun = stream.run
        self.logger: logging.Logger = stream.logger

    @property
    def module_api_name(self) -> str:
        return self._stream.module_api_name

    def call(self, path: str, params: Mapping[str, Any] | None = None, *,
             headers: Mapping[str, str] | None = None, method: str = "GET",
             url: str | None = None, json: Any = None,
             stream: bool = False) -> requests.Response:
        return self._stream.request_json(path, dict(params or {}), headers=dict(headers or {}),
                                         method=method, url=url, json=json)

    def items(self, response: requests.Response) -> list[dict[str, Any]]:
        from tap_zohocrm.client import ZohoStream
        return list(ZohoStream.parse_response(self._stream, response))
