"""An optional log of whole exchanges (request and answer as sent), for checks against Zoho's
OpenAPI files (tests/zoho_openapi.py). Off by default: it keeps every response body."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Exchange:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    response_headers: dict[str, str]
    body: bytes | None  # None: a file (Bulk Read result ZIP), not kept
    request_body: bytes = b""


class ExchangeLog:
    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.closed = False  # its simulator stopped: nothing more will come
        self._lock = threading.Lock()
        self._items: list[Exchange] = []

    def record(self, method: str, path: str, query: dict[str, list[str]],
               headers: Mapping[str, str], status: int, response_headers: Mapping[str, str],
               body: bytes | None, request_body: bytes = b"") -> None:
        if not self.enabled:
            return
        exchange = Exchange(method, path, {k: list(v) for k, v in query.items()},
                            dict(headers.items()), status, dict(response_headers), body,
                            request_body)
        with self._lock:
            self._items.append(exchange)

    def drain(self) -> list[Exchange]:
        """The exchanges logged since the last drain."""
        with self._lock:
            items, self._items = self._items, []
        return items


class _Registry:
    """Logs of every simulator built while recording is on (test fixtures switch it on)."""

    def __init__(self) -> None:
        self.recording = False
        self.logs: list[ExchangeLog] = []

    def new_log(self) -> ExchangeLog:
        log = ExchangeLog(enabled=self.recording)
        if self.recording:
            self.logs.append(log)
        return log

    def drain_all(self) -> list[Exchange]:
        """Every exchange logged since the last call; forgets the logs of stopped simulators."""
        found: list[Exchange] = []
        for log in list(self.logs):
            found.extend(log.drain())
            if log.closed:
                self.logs.remove(log)
        return found


REGISTRY = _Registry()


def record_every_simulator(on: bool = True) -> None:
    """From now on, each new Simulator logs its exchanges into REGISTRY (or stops doing so)."""
    REGISTRY.recording = on
