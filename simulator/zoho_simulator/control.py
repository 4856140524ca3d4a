"""`/__sim/*` control API (no auth): the Python API over HTTP for out-of-process tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from .api_types import Response
    from .simulator import Simulator


class Control:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes
               ) -> Response:
        from .api_types import ApiError, Response

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
