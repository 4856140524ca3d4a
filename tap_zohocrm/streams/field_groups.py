"""Field groups: Zoho returns at most 50 fields a Get Records call (v3 on), so a module's
selected fields are read in groups. Each page is listed with the first group, and the other
groups are fetched for the page's ids (`ids=`, 100 a call) and merged in.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, MAX_IDS_PER_CALL, batched
from tap_zohocrm.schema.fields import requestable_fields
from tap_zohocrm.streams.module_rules import filter_params

if TYPE_CHECKING:
    from singer_sdk.helpers._catalog import SelectionMask

    from tap_zohocrm.sync.run import ZohoRun



class FieldGroups:
    """The field-group part of a module stream (mixed into ModuleStream)."""

    api_name: str
    path: str
    schema: dict[str, Any]
    mask: SelectionMask
    replication_key: str | None
    logger: logging.Logger
    run: ZohoRun
    _field_groups: list[list[str]]
    _rich_text_fields: list[str]
    _gone_fields: set[str]
    _fields_lock: threading.Lock
    _promised_credits: int

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        def request_json(self, path: str, params: dict[str, Any] | None = None) -> Any: ...
        def _complete_rich_text(self, records: list[dict[str, Any]]) -> None: ...

    def field_groups(self) -> list[list[str]]:
        """Selected fields in groups of at most 50, Modified_Time in the first group.

        An empty list means "no fields parameter" (all fields, v2 only).
        """
        selected = [
            f for f in requestable_fields(self.schema) if self.mask.get(("properties", f), True)
        ]
        every = requestable_fields(self.schema)
        if self.run.version.fields_optional and len(selected) == len(every):
            return []
        if self.replication_key and self.replication_key in selected:
            selected.remove(self.replication_key)
            selected.insert(0, self.replication_key)
        if not selected:
            selected = [self.replication_key or "Created_Time"]
        return [list(chunk) for chunk in batched(selected, MAX_FIELDS_PER_CALL)]

    def _completion_credits(self, records: list[dict[str, Any]]) -> int:
        """Calls needed to add the other field groups to a page of records."""
        if not self._field_groups:
            return 0
        return (len(self._field_groups) - 1) * -(-len(records) // MAX_IDS_PER_CALL)

    def _complete_page(self, records: list[dict[str, Any]], promised: int) -> list[dict]:
        """Pool task: add the other field groups and full rich text to one page."""
        try:
            if len(self._field_groups) > 1:
                self._merge_other_field_groups(records)
            if self._rich_text_fields:
                self._complete_rich_text(records)
        finally:
            with self._fields_lock:
                self._promised_credits -= promised
        return records

    def _drop_gone_field(self, exc: ZohoAPIError) -> bool:
        """Stop requesting a field Zoho no longer knows (removed after discovery)."""
        api_name = exc.details.get("api_name") if exc.code == "INVALID_DATA" else None
        with self._fields_lock:
            requested = [f for chunk in self._field_groups for f in chunk]
            if api_name in self._gone_fields and api_name not in requested:
                return True  # another call of the same sync found it gone first
            if not api_name or api_name not in requested or api_name == self.replication_key:
                return False
            self._gone_fields.add(api_name)
            remaining = [f for f in requested if f != api_name]
            self._field_groups = [list(c) for c in batched(remaining, MAX_FIELDS_PER_CALL)]
            self._rich_text_fields = [f for f in self._rich_text_fields if f != api_name]
        self.logger.warning(
            "%s: field %s no longer exists in Zoho (removed after discovery); it is null from "
            "now on. Run discovery again to drop it from the catalog.", self.api_name, api_name,
        )
        return True

    def _merge_other_field_groups(self, records: list[dict[str, Any]]) -> None:
        """Fetch the other field groups for this page's ids and merge them in; a record Zoho no
        longer has (deleted meanwhile) is left out of the page, never emitted with fields
        missing.

        The page itself is read with one fixed field group, because changing `fields` within a
        page_token chain breaks the chain (TOKEN_BOUND_DATA_MISMATCH).
        """
        by_id = {record["id"]: record for record in records}
        for chunk in self._field_groups[1:]:
            found: set[str] = set()
            for ids in batched(by_id, MAX_IDS_PER_CALL):
                for extra in self._fetch_by_ids(ids, chunk):
                    if extra["id"] in by_id:
                        found.add(extra["id"])
                        for field in chunk:
                            if field in extra:
                                by_id[extra["id"]][field] = extra[field]
            by_id = {record_id: by_id[record_id] for record_id in by_id if record_id in found}
        gone = len(records) - len(by_id)
        if gone:
            records[:] = [record for record in records if record["id"] in by_id]
            self.logger.warning(
                "%s: %d records were deleted in Zoho while their fields were read; they are "
                "not emitted (a deleted-records listing reports them)", self.api_name, gone,
            )

    def _fetch_by_ids(self, ids: tuple[str, ...], fields: list[str]) -> list[dict[str, Any]]:
        """These records with these fields, as Zoho has them now. A record an `ids=` answer
        leaves out is asked for by itself (one call); one Zoho no longer has is not returned."""
        found = self._fetch_fields(self.path, {"ids": ",".join(ids),
                                               **filter_params(self.api_name)}, fields)
        answered = {str(record["id"]) for record in found}
        for record_id in ids:
            if str(record_id) not in answered:
                found += self._fetch_fields(f"{self.path}/{record_id}", {}, fields)
        return found

    def _fetch_fields(self, path: str, params: dict[str, Any],
                      fields: list[str]) -> list[dict[str, Any]]:
        while True:
            try:
                response = self.request_json(path, {**params, "fields": ",".join(fields)})
                return list(ZohoStream.parse_response(self, response))
            except ZohoAPIError as exc:
                if not self._drop_gone_field(exc):
                    raise
                gone = exc.details.get("api_name")
                if fields == [gone]:
                    # Every field asked for is gone from Zoho: nothing to add, but the record
                    # is still there (a call without `fields` would read every field).
                    fields = [self.replication_key or "Created_Time"]
                    continue
                fields = [f for f in fields if f != gone]

