"""`/__sim/*` control API (no auth): the Python API over HTTP for out-of-process tests."""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import unquote

from .api_types import ApiError, Response


class ControlledSimulator(Protocol):
    """What the control API asks of the simulator: its Python controls (simulator.py)."""

    @property
    def url(self) -> str: ...
    @property
    def credentials(self) -> dict[str, str]: ...
    @property
    def config(self) -> dict[str, Any]: ...
    def stats(self) -> dict[str, Any]: ...
    def reset_stats(self) -> None: ...
    def requests(self) -> list[dict[str, Any]]: ...
    def records(self, module: str, version: str = "v8") -> list[dict[str, Any]]: ...
    def create_record(self, module: str, values: dict[str, Any] | None = None
                      ) -> dict[str, Any]: ...
    def update_record(self, module: str, id: str | int, values: dict[str, Any] | None = None
                      ) -> dict[str, Any]: ...
    def delete_record(self, module: str, id: str | int, permanent: bool = False,
                      unlisted: bool = False) -> None: ...
    def seed_hard_values(self, module: str, count: int = 4) -> list[str]: ...
    def purge_recycle_bin(self, module: str) -> int: ...
    def start_churn(self, module: str, per_call: int = 3, seed: int = 0) -> None: ...
    def stop_churn(self, module: str | None = None) -> dict[str, dict[str, list[str]]]: ...
    def crowd_second(self, module: str, count: int) -> str: ...
    def change_computed_values(self, seed: int = 0, renamed_records: int = 2,
                               renamed_users: int = 1) -> dict[str, Any]: ...
    def deleted_records(self, module: str) -> list[dict[str, Any]]: ...
    def attachments(self, module: str) -> list[dict[str, Any]]: ...
    def add_attachment(self, module: str, record_id: str | int,
                       values: dict[str, Any] | None = None) -> dict[str, Any]: ...
    def bulk_jobs(self) -> list[dict[str, Any]]: ...
    def users(self) -> list[dict[str, Any]]: ...
    def add_field(self, module: str, field: dict[str, Any]) -> None: ...
    def mark_field_unused(self, module: str, api_name: str) -> None: ...
    def expire_tokens(self) -> None: ...
    def add_fault(self, path_regex: str, status: int = 500, count: int | None = 1,
                  probability: float = 1.0, delay: float = 0.0, truncate: bool = False,
                  retry_after: int | str | None = None, body: str | None = None,
                  content_type: str | None = None, query_regex: str | None = None,
                  after: int = 0) -> None: ...
    def clear_faults(self) -> None: ...
    def set_config(self, **kw: Any) -> None: ...
    def issue_grant_code(self, scope: str = ...) -> str: ...
    def issue_refresh_token(self, scope: str) -> str: ...
    def new_day(self) -> None: ...
    def advance_clock(self, seconds: float) -> None: ...


class Control:
    """The control API over the simulator's Python controls (`sim`)."""

    def __init__(self, sim: ControlledSimulator) -> None:
        self.sim = sim

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes
               ) -> Response:
        sim = self.sim
        parts = [unquote(p) for p in path.strip("/").split("/")[1:]]
        data: Any = json.loads(body) if body.strip() else {}
        route = (method, parts[0] if parts else "", len(parts))
        ok = {"status": "ok"}
        if route == ("GET", "stats", 1):
            return Response(200, sim.stats())
        if route == ("POST", "reset_stats", 1):
            sim.reset_stats()
            return Response(200, ok)
        if route == ("GET", "requests", 1):
            return Response(200, {"requests": sim.requests()})
        if route == ("GET", "credentials", 1):
            return Response(200, {**sim.credentials, "api_url": sim.url,
                                  "accounts_url": sim.url})
        if route == ("GET", "records", 2):
            return Response(200, {"data": sim.records(parts[1])})
        if route == ("POST", "records", 2):
            return Response(201, {"data": sim.create_record(parts[1], data or None)})
        if route == ("PATCH", "records", 3):
            return Response(200, {"data": sim.update_record(parts[1], parts[2], data or None)})
        if route == ("DELETE", "records", 3):
            permanent = (query.get("permanent") or ["false"])[-1].lower() == "true"
            unlisted = (query.get("unlisted") or ["false"])[-1].lower() == "true"
            sim.delete_record(parts[1], parts[2], permanent=permanent, unlisted=unlisted)
            return Response(200, ok)
        if route == ("POST", "hard_values", 2):
            return Response(200, {"ids": sim.seed_hard_values(parts[1], **data)})
        if route == ("POST", "recycle_bin", 3) and parts[2] == "purge":
            return Response(200, {"purged": sim.purge_recycle_bin(parts[1])})
        if route == ("POST", "churn", 2):
            sim.start_churn(parts[1], **data)
            return Response(200, ok)
        if route == ("DELETE", "churn", 1):
            return Response(200, {"done": sim.stop_churn()})
        if route == ("POST", "crowd_second", 2):
            return Response(200, {"second": sim.crowd_second(parts[1], **data)})
        if route == ("POST", "computed_values", 1):
            return Response(200, sim.change_computed_values(**data))
        if route == ("GET", "deleted", 2):
            return Response(200, {"data": sim.deleted_records(parts[1])})
        if route == ("GET", "attachments", 2):
            return Response(200, {"data": sim.attachments(parts[1])})
        if route == ("POST", "attachments", 3):
            return Response(201, {"data": sim.add_attachment(parts[1], parts[2], data or None)})
        if route == ("GET", "bulk_jobs", 1):
            return Response(200, {"jobs": sim.bulk_jobs()})
        if route == ("GET", "users", 1):
            return Response(200, {"users": sim.users()})
        if route == ("POST", "fields", 2):
            sim.add_field(parts[1], data)
            return Response(200, ok)
        if route == ("POST", "fields", 4) and parts[3] == "unused":
            sim.mark_field_unused(parts[1], parts[2])
            return Response(200, ok)
        if route == ("POST", "tokens", 2) and parts[1] == "expire":
            sim.expire_tokens()
            return Response(200, ok)
        if route == ("POST", "faults", 1):
            sim.add_fault(**data)
            return Response(200, ok)
        if route == ("DELETE", "faults", 1):
            sim.clear_faults()
            return Response(200, ok)
        if route == ("POST", "config", 1):
            sim.set_config(**data)
            return Response(200, {"config": dict(sim.config)})
        if route == ("POST", "grant_codes", 1):
            return Response(200, {"code": sim.issue_grant_code(**data)})
        if route == ("POST", "refresh_tokens", 1):
            return Response(200, {"refresh_token": sim.issue_refresh_token(**data)})
        if route == ("POST", "credits", 2) and parts[1] == "new_day":
            sim.new_day()
            return Response(200, ok)
        if route == ("POST", "clock", 1):
            sim.advance_clock(float(data.get("advance", 0)))
            return Response(200, ok)
        raise ApiError(404, "INVALID_URL_PATTERN", "unknown control endpoint")
