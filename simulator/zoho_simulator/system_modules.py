"""System modules a real org lists in settings/modules as `api_supported` but whose records Zoho
will not serve (switch `unservable_modules`, off by default).

With the switch on, settings/modules lists them, settings/fields answers a few fields for each
(as Zoho does), and every record call (Get Records, count, deleted, ...) is refused with the
answer other connectors report for the module.
"""

from __future__ import annotations

from typing import Any

from .fields import FieldDef, ModuleSpec, make_field

# api_name -> (HTTP status, code, message) of Get Records.
REFUSALS: dict[str, tuple[int, str, str]] = {
    "Locking_Information__s": (403, "NO_PERMISSION", "permission denied"),
    "CTI_Entry": (400, "INVALID_MODULE", "the module name given seems to be invalid"),
    "Functions__s": (400, "INVALID_QUERY", "invalid query formed"),
    "Email_Analytics": (400, "INVALID_MODULE", "The given module is not supported in API"),
    "Email_Template_Analytics": (400, "INVALID_MODULE",
                                 "The given module is not supported in API"),
    "Email_Sentiment": (400, "INVALID_MODULE", "The given module is not supported in API"),
    "Visits": (400, "NOT_SUPPORTED", "The given module is not supported for this operation"),
    "Actions_Performed": (400, "NOT_SUPPORTED",
                          "The given module is not supported for this operation"),
}


def _spec(api_name: str) -> ModuleSpec:
    label = api_name.removesuffix("__s").replace("_", " ")
    return ModuleSpec(api_name, label, label, stored=False)


def listed(version: float) -> list[dict[str, Any]]:
    """Their settings/modules entries: `api_supported` true, as real orgs show them."""
    return [_spec(name).module_meta(version) for name in REFUSALS]


def fields(api_name: str) -> list[FieldDef]:
    return [make_field(api_name, "Name", "text", system=True),
            make_field(api_name, "Modified_Time", "datetime", system=True)]


def refusal(api_name: str) -> tuple[int, str, str] | None:
    """Zoho's answer to a record call on the module; None for a module not listed here."""
    return REFUSALS.get(api_name)
