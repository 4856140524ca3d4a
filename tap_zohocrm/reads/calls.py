"""What a read path needs of the API: one call, the items of its answer, and whose it is. The
run's API object (one per stream) is one; tests may pass another."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import requests

    from tap_zohocrm.sync.run import ZohoRun


class Calls(Protocol):
    """Zoho calls through the run's gate, checks and retries."""

    run: ZohoRun
    logger: logging.Logger

    @property
    def module_api_name(self) -> str: ...

    def call(self, path: str, params: Mapping[str, Any] | None = None, *,
             headers: Mapping[str, str] | None = None, method: str = "GET",
             url: str | None = None, json: Any = None,
             stream: bool = False) -> requests.Response: ...

    def items(self, response: requests.Response) -> list[dict[str, Any]]: ...
