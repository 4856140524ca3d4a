"""Zoho's rules for its kinds of module, in one place: which modules list their deletions, which
Bulk Read can export, which are for administrators only, and the filters that show every record.

A module's `generated_type` (settings/modules) tells its kind: `default` (standard), `custom`,
`linking` (a multi-select lookup's join module) or `subform` (line items of a parent record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_zohocrm.api_versions import ApiVersion

REPLICATION_KEY = "Modified_Time"

# Kinds whose deletions Zoho lists (`/{module}/deleted`): standard and custom modules; linking
# and subform modules have no such listing.
DELETABLE_GENERATED_TYPES = frozenset({"default", "custom", None})
# Kinds read in full every run: Zoho lists no deletions for them, so a removed line item or link
# would stay in the warehouse for good. Their streams are FULL_TABLE with ACTIVATE_VERSION, which
# the loader uses to delete (or flag) the rows the run did not emit.
READ_IN_FULL_GENERATED_TYPES = frozenset({"linking", "subform"})
# Kinds Bulk Read can export.
BULK_READABLE_GENERATED_TYPES = DELETABLE_GENERATED_TYPES | {"subform"}
# Notes: readable by administrators only, and neither listed in `/deleted` nor exported by
# Bulk Read (a deleted Note is found by the deleted-records check: reads/plan.py).
NOTES = "Notes"

# System modules settings/modules marks `api_supported` that Get Records will not serve (other
# Zoho connectors leave them out for the same reasons). Discovery leaves them out unless the
# `modules` setting names them.
UNREADABLE_SYSTEM_MODULES: dict[str, str] = {
    "Locking_Information__s": "record locking settings; Get Records answers 403 NO_PERMISSION",
    "CTI_Entry": "telephony (CTI) call entries; Get Records answers INVALID_MODULE",
    "Functions__s": "Deluge functions; Get Records answers INVALID_QUERY",
    "Email_Analytics": "e-mail insights of the Email Analytics feature; not served by Get Records",
    "Email_Template_Analytics": "e-mail template statistics; not served by Get Records",
    "Email_Sentiment": "e-mail sentiment of Zia; not served by Get Records",
    "Visits": "SalesIQ website visits; no fields Get Records can return",
    "Actions_Performed": "a log of automation actions; no fields Get Records can return",
}


def stream_name(module_api_name: str) -> str:
    """Stream name of a module: its API name in lower case (`Price_Books` -> `price_books`)."""
    return module_api_name.lower()


def lists_deletions(api_name: str, generated_type: str | None) -> bool:
    """Whether Zoho lists the module's deleted records."""
    return generated_type in DELETABLE_GENERATED_TYPES and api_name != NOTES


def read_in_full(generated_type: str | None) -> bool:
    """Whether every run reads the module whole (FULL_TABLE): its deletions are not listed."""
    return generated_type in READ_IN_FULL_GENERATED_TYPES


def bulk_readable(api_name: str, generated_type: str | None) -> bool:
    """Whether a Bulk Read job can export the module."""
    return generated_type in BULK_READABLE_GENERATED_TYPES and api_name != NOTES


def unreadable_reason(api_name: str) -> str | None:
    """Why Zoho will not serve a system module's records, or None for a readable module."""
    return UNREADABLE_SYSTEM_MODULES.get(api_name)


def parent_module(module: Mapping[str, Any],
                  fields: Callable[[], list[dict[str, Any]]]) -> str | None:
    """The module a subform or linking module is read with; None for other modules.

    A subform module goes with the module whose records hold its rows (settings/modules
    `parent_module`, else its `Parent_Id` lookup). A linking module joins two modules; it goes
    with its first parent: the module of its first lookup field, in Zoho's order of its fields
    (`Contacts_X_Deals` with Contacts). `fields` reads the module's settings/fields when needed.
    """
    kind = module.get("generated_type")
    if kind == "subform":
        parent = (module.get("parent_module") or {}).get("api_name")
        if parent:
            return str(parent)
        lookups = [f for f in fields() if f.get("api_name") == "Parent_Id"]
    elif kind == "linking":
        lookups = [f for f in fields() if f.get("data_type") == "lookup"]
    else:
        return None
    for field in lookups:
        target = ((field.get("lookup") or {}).get("module") or {}).get("api_name")
        if target:
            return str(target)
    return None


def chosen_by_settings(api_name: str, parent: str | None, config: Mapping[str, Any]) -> bool:
    """Whether `modules` and `exclude_modules` take the module in: a module they do not name
    follows its parent (subform and linking modules; see parent_module)."""
    named = config.get("modules") or ()
    excluded = config.get("exclude_modules") or ()
    if api_name in excluded:
        return False
    if api_name in named:
        return True
    if named:
        return parent is not None and parent in named
    return parent is None or parent not in excluded


def named_in_modules(api_name: str, config: Mapping[str, Any]) -> bool:
    """Whether the `modules` setting names the module (unset: every module, none named).

    A named module is one the user asked for: Zoho refusing it stops the run. A module read
    because `modules` is unset is skipped with a warning when Zoho refuses it."""
    return api_name in (config.get("modules") or ())


def skippable_codes(api_name: str) -> frozenset[str]:
    """Zoho error codes that skip the module's stream (with a warning) instead of failing the
    run: a non-administrator reading Notes."""
    return frozenset({"NOT_SUPPORTED"}) if api_name == NOTES else frozenset()


def filter_params(api_name: str) -> dict[str, Any]:
    """Get Records parameters that show every record: Zoho hides converted leads and records
    pending approval unless asked. Notes have no approval (Zoho's files list no `approved` for
    them)."""
    if api_name == NOTES:
        return {}
    params: dict[str, Any] = {"approved": "both"}
    if api_name == "Leads":
        params["converted"] = "both"
    return params


def hidden_record_filters(api_name: str) -> list[dict[str, Any]]:
    """Get Records filters that list only the records Zoho hides unless asked (converted Leads,
    records pending approval): what a Bulk Read export may leave out."""
    if api_name == NOTES:
        return []
    if api_name == "Leads":
        return [{"converted": "true", "approved": "both"},
                {"converted": "both", "approved": "false"}]
    return [{"approved": "false"}]


def field_list_params(api_name: str, version: ApiVersion) -> dict[str, Any]:
    """settings/fields parameters that list every field of a module: by default Zoho lists the
    used ones only, and a field taken out of every layout keeps its values."""
    params: dict[str, Any] = {"module": api_name}
    if version.lists_unused_fields:
        params["type"] = "all"
    return params


def coql_readable(api_name: str, generated_type: str | None, version: ApiVersion) -> bool:
    """Whether COQL can read the module as Get Records does: from API v7 (lookups with their
    names), not Notes (their parent's module) nor subform modules (read with their parent's
    rows). A module COQL refuses falls back to REST when read."""
    return (version.coql_lookup_names and api_name != NOTES
            and generated_type != "subform")


def read_path(config: Mapping[str, Any], api_name: str) -> str:
    """The read path the settings ask for this module: `read_path_by_module`'s, else
    `read_path`'s (rest by default; auto: chosen by cost)."""
    by_module = config.get("read_path_by_module") or {}
    return str(by_module.get(api_name) or config.get("read_path") or "auto")
