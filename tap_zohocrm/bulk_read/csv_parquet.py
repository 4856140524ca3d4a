"""Bulk Read CSV -> Parquet BATCH files with Arrow compute: no per-record Python.

With Parquet batch output, a Bulk Read backfill never builds Python dicts: the export's CSV is
parsed by pyarrow a block at a time, blocks are joined into row groups, every column is cast to
its type in the stream's one Parquet schema (schema.arrow_schema, as REST rows are written:
integers, numbers, booleans, UTC timestamps, dates, lookups as structs carrying the export's id,
multi-select values as lists, tags as structs carrying their name), properties the CSV lacks
become null columns, and each row group is appended to a Parquet file
(batch_files.parquet.ParquetFiles). A row
group whose values do not cast (bad data in a typed column) goes through the per-record path
instead, so its odd values land in `_zoho_mismatched_values` as they would over REST.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tap_zohocrm.schema.arrow_schema import arrow_schema
from tap_zohocrm.schema.property_kinds import property_kind

ColumnCast = Callable[[pa.Array], pa.Array]

ROW_GROUP_ROWS = 4_000


def _as_is(column: pa.Array) -> pa.Array:
    return column


def _cast_to(arrow_type: pa.DataType) -> ColumnCast:
    # Text to timestamps: a value that is no time, or one without an offset (not a Zoho time),
    # raises, and its row group takes the per-record path.
    def cast(column: pa.Array) -> pa.Array:
        return pc.cast(column, arrow_type)
    return cast


def _struct_of(fields: list[pa.Field], name: str, column: pa.Array, mask: pa.Array | None
               ) -> pa.StructArray:
    """A struct array whose `name` is `column`, its other fields null (the CSV lacks them)."""
    return pa.StructArray.from_arrays(
        [column if f.name == name else pa.nulls(len(column), f.type) for f in fields],
        fields=fields, mask=mask)


def _lookup(arrow_type: pa.StructType) -> ColumnCast:
    def lookup(column: pa.Array) -> pa.Array:
        return _struct_of(list(arrow_type), "id", column, pc.is_null(column))
    return lookup


def _split(separator: str) -> ColumnCast:
    def split(column: pa.Array) -> pa.Array:
        return pc.split_pattern(column, separator)
    return split


def _tags(arrow_type: pa.ListType) -> ColumnCast:
    def tags(column: pa.Array) -> pa.Array:
        names = pc.split_pattern(column, ",")
        items = _struct_of(list(arrow_type.value_type), "name", names.flatten(), None)
        return pa.ListArray.from_arrays(names.offsets, items, type=arrow_type,
                                        mask=pc.is_null(names))
    return tags


def _names(arrow_type: pa.DataType) -> set[str]:
    return {f.name for f in arrow_type} if pa.types.is_struct(arrow_type) else set()


def column_casts(schema: dict[str, Any]) -> dict[str, ColumnCast | None]:
    """Per property: how a CSV text column becomes its Parquet type (schema.arrow_schema); None when
    Arrow alone cannot rebuild the REST value (open JSON objects, values of varying type)."""
    types = arrow_schema(schema)
    casts: dict[str, ColumnCast | None] = {}
    for name, prop in schema.get("properties", {}).items():
        arrow_type, kind = types.field(name).type, property_kind(prop)
        items = arrow_type.value_type if pa.types.is_list(arrow_type) else None
        if name == "Tag" and items is not None and "name" in _names(items):
            casts[name] = _tags(arrow_type)
        elif kind in ("date-time", "date", "integer", "number", "boolean"):
            casts[name] = _cast_to(arrow_type)
        elif kind == "string":
            casts[name] = _as_is
        elif kind == "object" and "id" in _names(arrow_type):
            casts[name] = _lookup(arrow_type)  # the CSV carries a lookup's id only
        elif kind == "array" and property_kind(prop.get("items") or {}) == "string":
            casts[name] = _split(";")
        else:
            casts[name] = None
    return casts


class ArrowConverter:
    """Turns the CSV's record batches (every column text) into the stream's Parquet schema."""

    def __init__(self, schema: dict[str, Any], header: list[str]) -> None:
        casts = column_casts(schema)
        in_csv = {("id" if column == "Id" else column): column for column in header}
        self.unsupported = [n for n, c in casts.items() if c is None and n in in_csv]
        self.schema = arrow_schema(schema)
        # Per column: the CSV column and its cast, or None for a null column (not in the
        # export: system keys, subforms...), as a REST record lacking the key is written.
        self._plan = [
            (in_csv[name], cast) if cast is not None and name in in_csv else None
            for name, cast in casts.items()
        ]

    @property
    def complete(self) -> bool:
        """Whether every exported column has an Arrow conversion."""
        return not self.unsupported

    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch in the Parquet schema; raises pa.ArrowInvalid when a value does not cast."""
        rows = batch.num_rows
        arrays = [
            pa.nulls(rows, field.type) if how is None else how[1](batch.column(how[0]))
            for field, how in zip(self.schema, self._plan, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def row_groups(blocks: Iterable[pa.RecordBatch], rows: int = ROW_GROUP_ROWS
               ) -> Iterator[pa.RecordBatch]:
    """CSV blocks (~1,000 records each) joined into batches of about `rows` records: one
    Parquet row group each, and each column converted in one call instead of one per block."""
    group: list[pa.RecordBatch] = []
    count = 0
    for block in blocks:
        group.append(block)
        count += block.num_rows
        if count >= rows:
            yield pa.concat_batches(group)
            group, count = [], 0
    if group:
        yield pa.concat_batches(group)
