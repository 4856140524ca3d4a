"""What a Bulk Read export leaves out, made up over REST.

* Fields: an export has no column for file and image uploads (Zoho's peers report them not
  exportable; the schema marks them, schema.fields.is_upload), nor for a field the job refuses
  (FIELD_NOT_SUPPORTED) or one its CSV simply lacks. Their values are read for the exported
  records by `ids=` calls with just those fields (100 ids, 50 fields a call), as the field groups
  of a REST read are, and joined in: into the record dicts, or into each Arrow row group of the
  Parquet path before it is written.
* Records: Bulk Read has no `converted`/`approved` parameters, so whether converted Leads and
  records pending approval are exported is undocumented. ExportedIds counts the rows and keeps
  their ids (as Arrow arrays: about 20 bytes a record), so the stream can compare the count with
  Zoho's Record Count at the job's start and read what is missing without emitting a record twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tap_zohocrm.batch_files.parquet import ParquetRows
from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, MAX_IDS_PER_CALL, batched

# (ids, fields) -> the records Get Records answers for those ids, with those fields.
FetchByIds = Callable[[tuple[str, ...], list[str]], list[dict[str, Any]]]


class LeftOutFields:
    """Selected fields an export does not carry, filled over REST for the exported records."""

    def __init__(self, schema: dict[str, Any], wanted: list[str], left_out: list[str],
                 fetch: FetchByIds, logger: logging.Logger, module: str) -> None:
        self.schema = schema
        self.wanted = wanted  # the selected fields the records must carry
        self.fields = list(left_out)
        self._fetch = fetch
        self.logger = logger
        self.module = module
        self.calls = 0
        self._rows: ParquetRows | None = None
        self._logged: list[str] = []

    def add(self, name: str) -> None:
        if name not in self.fields:
            self.fields.append(name)
            self._rows = None

    def see_header(self, header: list[str]) -> None:
        """Wanted fields the export's CSV has no column for are filled too."""
        columns = {"id" if column == "Id" else column for column in header}
        for name in self.wanted:
            if name not in columns:
                self.add(name)
        if self.fields and self.fields != self._logged:
            self._logged = list(self.fields)
            self.logger.info(
                "%s: the Bulk Read export carries no %s; read over REST for the exported "
                "records (%d call(s) per %d records)", self.module, ", ".join(self.fields),
                -(-len(self.fields) // MAX_FIELDS_PER_CALL), MAX_IDS_PER_CALL)

    def values(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The left-out fields' values of these records, by id (a record deleted since the
        export is not answered)."""
        found: dict[str, dict[str, Any]] = {}
        for fields in batched(self.fields, MAX_FIELDS_PER_CALL):
            for chunk in batched(ids, MAX_IDS_PER_CALL):
                self.calls += 1
                for record in self._fetch(chunk, list(fields)):
                    if record.get("id") is not None:
                        found.setdefault(str(record["id"]), {}).update(
                            {f: record.get(f) for f in fields})
        return found

    def fill_records(self, records: list[dict[str, Any]]) -> None:
        """Record dicts of an export block (REST-shaped, before post_process)."""
        if not self.fields or not records:
            return
        found = self.values([str(r["id"]) for r in records])
        self._warn_gone(len(records) - sum(str(r["id"]) in found for r in records))
        records[:] = [r for r in records if str(r["id"]) in found]
        for record in records:
            values = found[str(record["id"])]
            for name in self.fields:
                record[name] = values.get(name)

    def fill_table(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """An Arrow row group in the stream's Parquet schema: the left-out columns replaced by
        the REST values, typed as the REST path writes them."""
        names = [n for n in self.fields if n in batch.schema.names]
        if not names or batch.num_rows == 0:
            return batch
        if self._rows is None:
            props = self.schema["properties"]
            self._rows = ParquetRows({"type": "object",
                                      "properties": {n: props[n] for n in names}})
        ids = batch.column("id").to_pylist()
        found = self.values([str(i) for i in ids])
        kept = [str(i) in found for i in ids]
        if not all(kept):
            self._warn_gone(kept.count(False))
            batch = batch.filter(pa.array(kept))
            ids = [i for i, keep in zip(ids, kept, strict=True) if keep]
        filled = self._rows.batch([self._rows.row(found[str(i)]) for i in ids])
        arrays = [filled.column(name) if name in names else batch.column(i)
                  for i, name in enumerate(batch.schema.names)]
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)

    def _warn_gone(self, gone: int) -> None:
        """Exported records Zoho no longer has are left out, not written with fields missing."""
        if gone:
            self.logger.warning(
                "%s: %d exported records were deleted in Zoho before their %s were read; they "
                "are not emitted (a deleted-records listing reports them)", self.module, gone,
                ", ".join(self.fields))


class ExportedIds:
    """The ids of the rows an export handed on, and how many (with those of earlier runs)."""

    def __init__(self, rows: int = 0) -> None:
        self.rows = rows  # an export resumed from a saved position counts the earlier rows
        self._chunks: list[pa.Array] = []

    def add(self, ids: pa.Array | pa.ChunkedArray) -> None:
        self.rows += len(ids)
        if isinstance(ids, pa.ChunkedArray):
            self._chunks.extend(ids.chunks)
        else:
            self._chunks.append(ids)

    def add_batch(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        if "id" in names or "Id" in names:
            self.add(batch.column("id" if "id" in names else "Id").cast(pa.string()))

    def exported(self, ids: list[str]) -> list[bool]:
        """Whether each id was among this run's rows."""
        if not ids or not self._chunks:
            return [False] * len(ids)
        known = pa.concat_arrays(self._chunks)
        return pc.is_in(pa.array(ids, pa.string()), value_set=known).to_pylist()
