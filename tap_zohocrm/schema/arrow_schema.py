"""The Arrow schema of a stream's Parquet files, derived from the stream's JSON Schema.

Every Parquet file of a stream has this one schema, whether written from REST records
(batch_files.parquet) or from a Bulk Read export's CSV (bulk_read.csv_parquet). A column keeps
its type in a file where it is null throughout, so the files of a stream read as one typed table,
without `union_by_name` or casts.

- `format: date-time`: timestamps in UTC, microseconds (the SDK's targets read them back as
  aware datetimes, as they parse the record path's text); `format: date`: date32.
- integers: int64. numbers: float64. Zoho sends currency, decimal and percent values as JSON
  numbers (json_type "double") and the record path carries them as doubles, so float64 holds
  exactly the record path's values, where a decimal column would need a scale per field. A
  number with more than 15 significant digits (a Decimal on the record path) is rounded to a
  double here.
- booleans; objects with properties (lookups, `$approval`, uploaded files): structs of those
  properties; arrays: lists. An SDK target reads a struct back as a dict of every declared key,
  as post_process fills them on every path (schema.values.shape_filler). An object carrying a
  key the schema does not declare cannot be a struct value (Arrow would drop the key): the
  whole value goes to `_zoho_mismatched_values` (batch_files.parquet).
- open values (objects without properties, properties of several JSON types, and
  `_zoho_mismatched_values`): JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import pyarrow as pa

from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.property_kinds import property_kind

Writer = Callable[[Any], Any]

TIMESTAMP = pa.timestamp("us", tz="UTC")
SCALARS: dict[str, pa.DataType] = {
    "date-time": TIMESTAMP,
    "date": pa.date32(),
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}
# Kinds a REST record holds as ISO text: Arrow takes them as text, then casts a whole batch at
# once (much faster than a Python datetime per value).
AS_TEXT = frozenset({"date-time", "date"})


class Column(NamedTuple):
    """How one property is written."""

    arrow: pa.DataType  # its type in the files
    intake: pa.DataType  # the type Arrow first builds REST values into (text for datetimes)
    write: Writer | None  # the Python step a non-null REST value takes first; None: as it is


def _json_text(value: Any) -> str:
    return json.dumps(value, default=float)  # a Decimal (a many-digit number) as a double


def _double(value: Any) -> Any:
    # A many-digit number the record path keeps as a Decimal: float64 holds it as a double.
    return float(value) if type(value) is Decimal else value


def _empty_as_null(value: Any) -> Any:
    # A struct cannot tell `{}` from an object whose properties are all null: written as null.
    return None if value == {} else value


class KeysBeyondStruct(ValueError):
    """An object carrying keys its struct has no field for: Arrow would drop them silently."""


def _struct(names: frozenset[str], children: dict[str, Writer]) -> Writer:
    def write(value: Any) -> Any:
        if not isinstance(value, dict) or not value:
            return _empty_as_null(value)  # a non-object is left for Arrow to refuse
        if not value.keys() <= names:
            raise KeysBeyondStruct(sorted(value.keys() - names))
        if not children:
            return value
        out = dict(value)
        for key, child in children.items():
            item = value.get(key)
            if item is not None:
                out[key] = child(item)
        return out
    return write


def _list(item: Writer) -> Writer:
    def write(value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [None if v is None else item(v) for v in value]
    return write


JSON_TEXT = Column(pa.string(), pa.string(), _json_text)


def column(prop: dict[str, Any]) -> Column:
    """The Parquet column of one JSON Schema property (recursively for structs and lists)."""
    kind = property_kind(prop)
    if kind in SCALARS:
        arrow = SCALARS[kind]
        return Column(arrow, pa.string() if kind in AS_TEXT else arrow,
                      _double if kind == "number" else None)
    if kind == "object" and prop.get("properties"):
        children = {name: column(child) for name, child in prop["properties"].items()}
        writers = {name: c.write for name, c in children.items() if c.write is not None}
        return Column(pa.struct([pa.field(n, c.arrow) for n, c in children.items()]),
                      pa.struct([pa.field(n, c.intake) for n, c in children.items()]),
                      _struct(frozenset(children), writers))
    if kind == "array":
        item = column(prop.get("items") or {})
        return Column(pa.list_(item.arrow), pa.list_(item.intake),
                      None if item.write is None else _list(item.write))
    return JSON_TEXT  # an open object, a value of several types, or of no declared type


def columns(schema: dict[str, Any]) -> dict[str, Column]:
    """Property -> its Parquet column, in the schema's order."""
    return {name: JSON_TEXT if name == MISMATCH_PROPERTY else column(prop)
            for name, prop in schema.get("properties", {}).items()}


def arrow_schema(schema: dict[str, Any]) -> pa.Schema:
    """The one Arrow schema of every Parquet file of the stream whose JSON Schema is `schema`."""
    return pa.schema([pa.field(name, c.arrow) for name, c in columns(schema).items()])
