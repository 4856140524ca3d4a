"""Reads the settings endpoints (modules, fields, org) for discovery and `--plan`."""

from __future__ import annotations

from typing import Any

from tap_zohocrm.client import ZohoStream


class MetadataReader(ZohoStream):
    """Reads settings/* endpoints for discovery; never synced itself."""

    name = "zoho_metadata"
    path = ""  # every call names its endpoint (get_list)
    schema: dict[str, Any] = {"type": "object", "properties": {}}  # type: ignore[assignment]

    _subject = "metadata"

    @property
    def module_api_name(self) -> str:
        return self._subject

    def get_list(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict]:
        self._subject = (params or {}).get("module") or path
        response = self.request_json(path, params)
        body = [] if response.status_code in (204, 304) else response.json().get(key)
        if not isinstance(body, list):
            msg = f"Unexpected answer from {path}: no '{key}' list"
            raise ValueError(msg)
        if not params:
            self.run.settings_lists[path] = body
        return body
