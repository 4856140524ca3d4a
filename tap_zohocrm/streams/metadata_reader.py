"""Reads the settings endpoints (modules, fields, org) for discovery and `--plan`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

    from tap_zohocrm.sync.run import ZohoRun


class MetadataReader:
    """Reads settings/* endpoints for discovery; its calls count in the run report as
    `zoho_metadata`."""

    name = "zoho_metadata"

    def __init__(self, run: ZohoRun, logger: logging.Logger) -> None:
        self.run = run
        self._subject = "metadata"  # what the call being made reads (for a refusal's message)
        self.api = run.api_for(
            self.name, module_api_name=lambda: self._subject,
            required_scope=lambda: f"ZohoCRM.modules.{self._subject.lower()}.READ",
            logger=logger)

    def get_list(self, path: str, params: dict[str, Any] | None = None) -> list[dict]:
        """The list a settings call answers (checked by ZohoApi.validate, retried when odd)."""
        self._subject = (params or {}).get("module") or path
        body = self.api.items(self.api.call(path, params))
        if not params:
            self.run.settings_lists[path] = body
        return body
