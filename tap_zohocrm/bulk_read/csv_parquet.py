"""Bulk Read CSV -> Parquet BATCH files with Arrow compute: no per-record Python.

With Parquet batch output, a Bulk Read backfill never builds Python dicts: the export's CSV is
parsed by pyarrow a block at a time, blocks are joined into row groups, every column is cast to
the shape the REST path writes (integers, numbers, booleans, UTC datetime text, lookups as `{id}`
structs, multi-select values as lists, tags as `[{name}]`), properties the CSV lacks become null
columns, and each row group is appended to a Parquet file (parquet_batch.ParquetFiles). A row
group whose values do not cast (bad data in a typed column) goes through the per-record path
instead, so its odd values land in `_zoho_mismatched_values` as they would over REST.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ColumnCast = Callable[[pa.Array], pa.Array]

ROW_GROUP_ROWS = 4_000
LOOKUP_TYPE = pa.struct([pa.field("id", pa.string())])
TAGS_TYPE = pa.list_(pa.struct([pa.field("name", pa.string())]))


def _as_is(column: pa.Array) -> pa.Array:
    return column


def _cast_to(arrow_type: pa.DataType) -> ColumnCast:
    def cast(column: pa.Array) -> pa.Array:
        return pc.cast(column, arrow_type)
    return cast


def _utc_text(column: pa.Array) -> pa.Array:
    # Parsing raises on a value that is no time, or one without an offset (not a Zoho time).
    parsed = pc.cast(column, pa.timestamp("s", tz="UTC"))
    if pc.all(pc.and_(pc.ends_with(column, "+00:00"),
                      pc.equal(pc.binary_length(column), len("2025-01-31T17:04:05+00:00")))
              ).as_py() in (True, None):
        return column  # already as schema.to_utc writes it (the usual case)
    # Printed as naive text ("2025-01-31 17:04:05"): Arrow formats timestamps with a time
    # zone (and strftime) ~15x slower.
    text = pc.replace_substring(pc.cast(pc.cast(parsed, pa.timestamp("s")), pa.string()),
                                " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "+00:00", "")


def _lookup(column: pa.Array) -> pa.Array:
    return pa.StructArray.from_arrays([column], fields=list(LOOKUP_TYPE),
                                      mask=pc.is_null(column))


def _split(separator: str) -> ColumnCast:
    def split(column: pa.Array) -> pa.Array:
        return pc.split_pattern(column, separator)
    return split


def _tags(column: pa.Array) -> pa.Array:
    names = pc.split_pattern(column, ",")
    items = pa.StructArray.from_arrays([names.flatten()], fields=list(TAGS_TYPE.value_type))
    return pa.ListArray.from_arrays(names.offsets, items, mask=pc.is_null(names))


def column_casts(schema: dict[str, Any]) -> dict[str, tuple[pa.DataType, ColumnCast] | None]:
    """Per property: its Parquet type and how a CSV text column becomes it; None when Arrow
    alone cannot rebuild the REST shape (open JSON objects, values of varying type)."""
    casts: dict[str, tuple[pa.DataType, ColumnCast] | None] = {}
    for name, prop in schema.get("properties", {}).items():
        types = prop.get("type") or []
        types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
        kind = types[0] if len(types) == 1 else None
        if name == "Tag":
            casts[name] = (TAGS_TYPE, _tags)
        elif kind == "string" and prop.get("format") == "date-time":
            casts[name] = (pa.string(), _utc_text)
        elif kind == "string":
            casts[name] = (pa.string(), _as_is)
        elif kind == "integer":
            casts[name] = (pa.int64(), _cast_to(pa.int64()))
        elif kind == "number":
            casts[name] = (pa.float64(), _cast_to(pa.float64()))
        elif kind == "boolean":
            casts[name] = (pa.bool_(), _cast_to(pa.bool_()))
        elif kind == "object" and "id" in (prop.get("properties") or {}):
            casts[name] = (LOOKUP_TYPE, _lookup)  # the CSV carries a lookup's id only
        elif kind == "array" and (prop.get("items") or {}).get("type") == "string":
            casts[name] = (pa.list_(pa.string()), _split(";"))
        else:
            casts[name] = None
    return casts


class ArrowConverter:
    """Turns the CSV's record batches (every column text) into the stream's Parquet schema."""

    def __init__(self, schema: dict[str, Any], header: list[str]) -> None:
        casts = column_casts(schema)
        in_csv = {("id" if column == "Id" else column): column for column in header}
        self.unsupported = [n for n, c in casts.items() if c is None and n in in_csv]
        fields, self._plan = [], []
        for name, cast in casts.items():
            column = in_csv.get(name)
            if cast is None or column is None:
                # Not in the export (system keys, subforms...): null, as a REST record lacking
                # the key is written by parquet_batch.
                fields.append(pa.field(name, pa.null()))
                self._plan.append((None, None))
            else:
                fields.append(pa.field(name, cast[0]))
                self._plan.append((column, cast[1]))
        self.schema = pa.schema(fields)

    @property
    def complete(self) -> bool:
        """Whether every exported column has an Arrow conversion."""
        return not self.unsupported

    def convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch in the Parquet schema; raises pa.ArrowInvalid when a value does not cast."""
        rows = batch.num_rows
        arrays = [
            pa.nulls(rows) if column is None else cast(batch.column(column))
            for column, cast in self._plan
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
