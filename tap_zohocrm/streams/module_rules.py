"""Zoho's rules for its kinds of module, in one place: which modules list their deletions, which
Bulk Read can export, which are for administrators only, and the filters that show every record.

A module's `generated_type` (settings/modules) tells its kind: `default` (standard), `custom`,
`linking` (a multi-select lookup's join module) or `subform` (line items of a parent record).
"""

from __future__ import annotations

from typing import Any

REPLICATION_KEY = "Modified_Time"

# Kinds whose deletions Zoho lists (`/{module}/deleted`): standard and custom modules; linking
# and subform modules have no such listing.
DELETABLE_GENERATED_TYPES = frozenset({"default", "custom", None})
# Kinds Bulk Read can export.
BULK_READABLE_GENERATED_TYPES = DELETABLE_GENERATED_TYPES | {"subform"}
# Notes: readable by administrators only, and neither listed in `/deleted` nor exported by
# Bulk Read.
NOTES = "Notes"


def stream_name(module_api_name: str) -> str:
    """Stream name of a module: its API name in lower case (`Price_Books` -> `price_books`)."""
    return module_api_name.lower()


def lists_deletions(api_name: str, generated_type: str | None) -> bool:
    """Whether Zoho lists the module's deleted records."""
    return generated_type in DELETABLE_GENERATED_TYPES and api_name != NOTES


def bulk_readable(api_name: str, generated_type: str | None) -> bool:
    """Whether a Bulk Read job can export the module."""
    return generated_type in BULK_READABLE_GENERATED_TYPES and api_name != NOTES


def skippable_codes(api_name: str) -> frozenset[str]:
    """Zoho error codes that skip the module's stream (with a warning) instead of failing the
    run: a non-administrator reading Notes."""
    return frozenset({"NOT_SUPPORTED"}) if api_name == NOTES else frozenset()


def filter_params(api_name: str) -> dict[str, Any]:
    """Get Records parameters that show every record: Zoho hides converted leads and records
    pending approval unless asked."""
    params: dict[str, Any] = {"approved": "both"}
    if api_name == "Leads":
        params["converted"] = "both"
    return params


def field_list_params(api_name: str, version: float) -> dict[str, Any]:
    """settings/fields parameters that list every field of a module: by default Zoho lists the
    used ones only, and a field taken out of every layout keeps its values. `type=all` is
    accepted from v2.1 on."""
    params: dict[str, Any] = {"module": api_name}
    if version >= 2.1:
        params["type"] = "all"
    return params
