"""What a module's Bulk Read export leaves out, read over REST (seen from its stream).

* Fields the export does not carry (file and image uploads, fields the job refuses, columns its
  CSV lacks): bulk_read.export_gaps.LeftOutFields reads them for the exported records with
  `ids=` calls.
* Records: Bulk Read has no `converted`/`approved` parameters. Zoho's Record Count of every
  record (`approved=both`, `converted=both`) is asked when the first job is created; when the
  export has fewer rows (or Zoho refuses those count filters), the records Zoho hides unless
  asked (converted Leads, records pending approval) are listed over REST, whole (every field
  group, rich text in full), those modified before the job's start that the export did not hold
  are emitted; later ones come with the REST read that follows the export.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tap_zohocrm.bulk_read.export_gaps import LeftOutFields
from tap_zohocrm.bulk_read.jobs import BulkRead, BulkReadRefused
from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.schema.fields import is_upload, requestable_fields
from tap_zohocrm.schema.values import utc_or_none
from tap_zohocrm.streams.module_rules import (
    REPLICATION_KEY,
    filter_params,
    hidden_record_filters,
)
from tap_zohocrm.sync.state_checks import BULK_EXPORT_KEY

if TYPE_CHECKING:
    from singer_sdk.helpers._catalog import SelectionMask
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.zoho_api import ZohoApi


class BulkGaps:
    """Mixin of the module stream (before BulkBackfill): what an export leaves out."""

    api: ZohoApi[ZohoRun]
    api_name: str
    tap_name: str
    path: str
    schema: dict[str, Any]
    mask: SelectionMask
    logger: logging.Logger
    stream_state: dict[str, Any]
    reads_whole: bool
    _field_groups: list[list[str]]
    _rich_text_fields: list[str]
    _last_modified: str | None
    _ids_at_last_modified: set[str]
    # Get Records filters of a read of hidden records (None: the sync's own, filter_params).
    _category: dict[str, Any] | None = None
    _bulk_refused = False  # Zoho refused this run's Bulk Read job of the module

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        def request_json(self, path: str, params: dict[str, Any] | None = None,
                         headers: dict[str, str] | None = None) -> Any: ...
        def field_groups(self) -> list[list[str]]: ...
        def rich_text_fields(self) -> list[str]: ...
        def _fetch_by_ids(self, ids: tuple[str, ...], fields: list[str]) -> list[dict]: ...
        def _anchored_pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]: ...
        def _export_progress(self, change: Any, *, out: bool) -> None: ...
        def record_count(self, since: str | None) -> int | None: ...
        def post_process(self, row: dict, context: Context | None = None) -> dict | None: ...

    def selected_fields(self) -> list[str]:
        return [f for f in requestable_fields(self.schema)
                if self.mask.get(("properties", f), True)]

    def bulk_left_out(self) -> list[str]:
        """Selected fields no export carries (file and image uploads)."""
        props = self.schema["properties"]
        return [f for f in self.selected_fields() if is_upload(props[f])]

    def _new_bulk_read(self, resume: dict[str, Any] | None) -> BulkRead:
        """The export of the selected fields it can carry (None: every field), the others
        filled over REST."""
        selected, left_out = self.selected_fields(), self.bulk_left_out()
        exported = [f for f in selected if f not in left_out]
        every = [f for f in requestable_fields(self.schema)
                 if not is_upload(self.schema["properties"][f])]
        fields = None if len(exported) == len(every) else exported
        fill = LeftOutFields(self.schema, selected, left_out, self._fetch_by_ids, self.logger,
                             self.api_name)
        return BulkRead(self.api, fields, resume, schema=self.schema, left_out=fill,
                        count=lambda: self.record_count(None), post_process=self.post_process,
                        tap_name=self.tap_name)

    def _refuse_bulk_read(self, exc: BulkReadRefused) -> None:
        """Zoho will not export the module: this run reads it over REST."""
        self._bulk_refused = True
        self.logger.warning("%s: Zoho refuses Bulk Read for the module (%s); it is read over "
                            "REST instead", self.api_name, exc.code or exc.status)
        self._export_progress(lambda state: state.pop(BULK_EXPORT_KEY, None), out=False)

    def _hidden_records(self, bulk: BulkRead) -> Iterator[list[dict[str, Any]]]:
        """Pages (first field group only) of the records Zoho hides unless asked that were
        modified before the export's start and are not among its rows: none when the export
        holds as many rows as Zoho counted at its start."""
        count, rows = bulk.count_at_start, bulk.exported.rows
        filters = hidden_record_filters(self.api_name)
        if not filters or (count is not None and rows >= count):
            return
        self.logger.info(
            "%s: the Bulk Read export holds %d records, Zoho counted %s at its start: reading "
            "the records it hides unless asked (converted, pending approval) over REST",
            self.api_name, rows, "?" if count is None else count)
        started = utc_or_none(bulk.started_at)
        self._field_groups = self.field_groups()
        self._rich_text_fields = self.rich_text_fields()
        seen: set[str] = set()
        found = 0
        try:
            for params in filters:
                self._category = {**filter_params(self.api_name), **params}
                self._last_modified, self._ids_at_last_modified = None, set()
                for records in self._anchored_pages(RecordsPage()):
                    page, past = [], False
                    for record in records:
                        modified = utc_or_none(record.get(REPLICATION_KEY))
                        if started and modified and modified >= started:
                            past = True  # the REST read after the export has it
                        elif record["id"] not in seen:
                            seen.add(record["id"])
                            page.append(record)
                    flags = bulk.exported.exported([r["id"] for r in page])
                    page = [r for r, exported in zip(page, flags, strict=True) if not exported]
                    if page:
                        found += len(page)
                        yield page
                    if past:  # sorted by Modified_Time: the rest are later still
                        break
        finally:
            self._category = None
            self._last_modified, self._ids_at_last_modified = None, set()
        self.logger.info("%s: %d records the Bulk Read export left out were read over REST",
                         self.api_name, found)
