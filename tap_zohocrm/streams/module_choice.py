"""Which of the org's modules discovery makes streams of: the readable ones of settings/modules,
narrowed by the `modules` and `exclude_modules` settings.

A subform or linking module that neither setting names follows its parent
(module_rules.parent_module): `modules: [Quotes]` reads Quoted_Items too, and
`exclude_modules: [Quotes]` leaves it out. So the Airflow DAG's tasks (one per module group with
`modules`, and one for the rest with `exclude_modules`) read every module exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError, ZohoConfigError
from tap_zohocrm.reads.module_rules import (
    chosen_by_settings,
    field_list_params,
    parent_module,
    read_in_full,
    unreadable_reason,
)

if TYPE_CHECKING:
    import logging

    from tap_zohocrm.streams.metadata_reader import MetadataReader


class ModuleChoice:
    """settings/modules and settings/fields as discovery reads them, each list read once."""

    def __init__(self, reader: MetadataReader, config: Any, logger: logging.Logger) -> None:
        self.reader = reader
        self.config = config
        self.logger = logger
        self._fields: dict[str, list[dict[str, Any]] | Exception] = {}

    def fields(self, api_name: str) -> list[dict[str, Any]]:
        """The module's settings/fields (a failed read fails again without a call)."""
        if api_name not in self._fields:
            try:
                self._fields[api_name] = self.reader.get_list(
                    "/settings/fields",
                    field_list_params(api_name, self.reader.run.version))
            except Exception as exc:
                self._fields[api_name] = exc
                raise
        found = self._fields[api_name]
        if isinstance(found, Exception):
            raise found
        return found

    def readable(self, *, from_catalog: bool = False) -> list[dict[str, Any]]:
        """The settings/modules entries of the modules to read.

        From a catalog, a subform or linking module whose parent would need its fields read is
        taken as the catalog has it (discovery chose it by the same settings) unless
        `exclude_modules` names it: a sync from a catalog reads no settings/fields."""
        modules = self.reader.get_list("/settings/modules")
        wanted = self.config.get("modules")
        by_name: dict[str, dict[str, Any]] = {
            m["api_name"]: m for m in modules if isinstance(m, dict)}
        self._check_names(by_name)
        readable = []
        for module in by_name.values():
            api_name = module["api_name"]
            by_settings = self._named_choice(module)
            if by_settings is False:
                continue
            if not module.get("api_supported", False):
                # Home, Reports, Feeds...: pages of Zoho's UI, never records to read.
                self.logger.debug("Skipping module %s: not supported in the API", api_name)
                continue
            if module.get("viewable") is False:
                self.logger.info("Skipping module %s: not viewable by this user", api_name)
                continue
            reason = unreadable_reason(api_name)
            if reason and not wanted:
                self.logger.info("Skipping module %s: Zoho lists it but does not serve its "
                                 "records (%s); name it in `modules` to try anyway",
                                 api_name, reason)
                continue
            if by_settings is None and not self._parent_chosen(module, from_catalog):
                continue
            readable.append(module)
        return readable

    def _named_choice(self, module: dict[str, Any]) -> bool | None:
        """Whether the settings take the module in by its name (or, unset, every module);
        None for a subform or linking module that follows its parent."""
        api_name = module["api_name"]
        named = self.config.get("modules") or ()
        excluded = self.config.get("exclude_modules") or ()
        if (named or excluded) and api_name not in named and api_name not in excluded and (
                read_in_full(module.get("generated_type"))):
            return None
        return chosen_by_settings(api_name, None, self.config)

    def _parent_chosen(self, module: dict[str, Any], from_catalog: bool) -> bool:
        api_name = module["api_name"]
        if from_catalog:
            parent = parent_module(module, fields=list)
            return parent is None or chosen_by_settings(api_name, parent, self.config)
        try:
            parent = parent_module(module, fields=lambda: self.fields(api_name))
        except ZohoAPIError as exc:  # a refusal skips its stream later; the rest stop the run
            self.logger.debug("Module %s: its parent is unknown (%s)", api_name, exc)
            parent = None
        return chosen_by_settings(api_name, parent, self.config)

    def _check_names(self, by_name: dict[str, Any]) -> None:
        unknown = [name for name in self.config.get("modules") or () if name not in by_name]
        if unknown:
            msg = (
                f"Setting `modules` names modules this Zoho org does not have (or the user "
                f"cannot see): {', '.join(unknown)}. Known: {', '.join(sorted(by_name))}"
            )
            raise ZohoConfigError(msg)
        absent = [n for n in self.config.get("exclude_modules") or () if n not in by_name]
        if absent:
            self.logger.warning("Setting `exclude_modules` names modules this Zoho org does "
                                "not have (or the user cannot see): %s", ", ".join(absent))
