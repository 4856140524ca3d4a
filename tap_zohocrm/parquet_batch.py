"""Rows for the SDK's Parquet BATCH files.

The SDK's Parquet batcher infers each file's columns from its rows (`pa.Table.from_pylist`),
so a key missing from the first record vanishes from the whole file, an object that is `{}`
everywhere cannot be written (a struct needs fields) and a field whose JSON type varies between
records fails. Rows are therefore built from the schema: every property present, empty objects
as null, and values whose type may vary (open "any" fields, `_zoho_mismatched_values`) as JSON
text.
"""

from __future__ import annotations

import json
from typing import Any

from tap_zohocrm.schema import MISMATCH_PROPERTY


def _varies(prop: dict[str, Any]) -> bool:
    types = prop.get("type") or []
    types = {types} if isinstance(types, str) else set(types)
    return len(types - {"null"}) != 1


def _no_empty_objects(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_empty_objects(v) for k, v in value.items()} or None
    if isinstance(value, list):
        return [_no_empty_objects(v) for v in value]
    return value


def row_plan(schema: dict[str, Any]) -> list[tuple[str, bool]]:
    """(property, written as JSON text) for every property, once per stream."""
    return [
        (name, name == MISMATCH_PROPERTY or _varies(prop))
        for name, prop in schema.get("properties", {}).items()
    ]


def parquet_row(plan: list[tuple[str, bool]], record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, as_json in plan:
        value = record.get(name)
        if value is not None:
            value = json.dumps(value) if as_json else _no_empty_objects(value)
        row[name] = value
    return row
