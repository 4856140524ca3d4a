"""What kind of value a JSON Schema property holds: the one answer every schema walker uses."""

from __future__ import annotations

from typing import Any, Literal

PropertyKind = Literal["date-time", "date", "string", "integer", "number", "boolean",
                       "object", "array"]

_KINDS: dict[str, PropertyKind] = {"string": "string", "integer": "integer",
                                   "number": "number", "boolean": "boolean",
                                   "object": "object", "array": "array"}
_DATED: dict[Any, PropertyKind] = {"date-time": "date-time", "date": "date"}


def json_types(prop: dict[str, Any]) -> set[str]:
    """The property's JSON types other than null."""
    types = prop.get("type") or []
    return ({types} if isinstance(types, str) else set(types)) - {"null"}


def property_kind(prop: dict[str, Any]) -> PropertyKind | None:
    """The one kind of a property's values; None when it may hold several (an open field)."""
    types = json_types(prop)
    if len(types) != 1:
        return None
    kind = next(iter(types))
    if kind == "string" and (dated := _DATED.get(prop.get("format"))):
        return dated
    return _KINDS.get(kind)
