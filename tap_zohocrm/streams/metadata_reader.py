"""Reads the settings endpoints (modules, fields, org) for discovery and `--plan`."""

from __future__ import annotations

from typing import Any

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.responses import answer_items


class MetadataReader(ZohoStream):
    """Reads settings/* endpoints for discovery; never synced itself."""

    name = "zoho_metadata"
    path = ""  # every call names its endpoint (get_list)
    schema: dict[str, Any] = {"type": "object", "properties": {}}  # type: ignore[assignment]

    _subject = "metadata"

    @property
    def module_api_name(self) -> str:
        return self._subject

    def get_list(self, path: str, params: dict[str, Any] | None = None) -> list[dict]:
        """The list a settings call answers (checked by validate_response, retried when odd)."""
        self._subject = (params or {}).get("module") or path
        body = answer_items(self.request_json(path, params))
        if not params:
            self.run.settings_lists[path] = body
        return body
