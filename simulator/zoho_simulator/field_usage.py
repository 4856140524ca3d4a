"""Used and unused fields: `settings/fields` lists the used ones unless asked with `type`.

Zoho (field metadata, v2.1 on): "By default, the system fetches all the used fields";
`type=all` adds the unused ones (taken out of every layout), `type=unused` lists those alone.
An unused field keeps its values, and Get Records still serves it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fields import FieldDef
    from .org import Org

FIELD_TYPES = ("all", "used", "unused")


def listed_fields(fields: list[FieldDef], version: float, raw_type: str | None
                  ) -> list[dict[str, Any]]:
    """The field metadata `settings/fields` answers with for `type` (ignored before v2.1)."""
    from .api_types import invalid

    kind = raw_type if version >= 2.1 and raw_type is not None else "used"
    if kind not in FIELD_TYPES:
        raise invalid("type")
    return [f.meta for f in fields if f.min_version <= version
            and kind in ("all", f.meta.get("type", "used"))]


def mark_unused(org: Org, module: str, api_name: str) -> None:
    """Take a field out of every layout: listed only with `type=all`/`unused`, values kept."""
    with org.lock:
        md = org.modules[module]
        if not any(f.api_name == api_name for f in md.fields):
            raise KeyError(api_name)
        # A copy: the module specs' field definitions are shared by every simulator.
        md.fields = [replace(f, meta={**f.meta, "type": "unused"})
                     if f.api_name == api_name else f for f in md.fields]
        md.invalidate()
