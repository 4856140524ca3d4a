"""Rich text cut by list calls: from v7 on, Get Records returns the first 500 characters of a
rich-text field; the full values are re-read, a page at a time on v8 (Get Rich Text Fields),
one record at a time on v7.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, batched
from tap_zohocrm.schema.fields import (
    RICH_TEXT_LIST_CUT,
    RICH_TEXT_MEDIA_TYPE,
)

if TYPE_CHECKING:
    from singer_sdk.helpers._catalog import SelectionMask

    from tap_zohocrm.sync.run import ZohoRun

RICH_TEXT_IDS_PER_CALL = 200  # Get Rich Text Fields (v8): ids a call


class RichText:
    """The rich-text part of a module stream (mixed into ModuleStream)."""

    api_name: str
    path: str
    schema: dict[str, Any]
    mask: SelectionMask
    config: Any
    logger: logging.Logger
    run: ZohoRun
    _rich_text_fields: list[str]
    _fields_lock: threading.Lock

    if TYPE_CHECKING:  # provided by the stream this is mixed into
        def request_json(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

    def rich_text_fields(self) -> list[str]:
        """Selected rich-text fields whose list-call values may be cut (API v7 and later)."""
        if not self.run.version.cuts_rich_text:
            return []
        rich = [
            name for name, prop in self.schema["properties"].items()
            if prop.get("contentMediaType") == RICH_TEXT_MEDIA_TYPE
            and self.mask.get(("properties", name), True)
        ]
        if rich and not self.config["full_rich_text"]:
            self.logger.warning(
                "%s: rich-text values longer than 500 characters are cut by Zoho's list calls "
                "and kept cut (full_rich_text is false)", self.api_name,
            )
            return []
        return rich

    def _complete_rich_text(self, records: list[dict[str, Any]]) -> None:
        """Re-read rich text that a list call cut at 500 characters.

        From v8, Get Rich Text Fields returns it for up to 200 records a call: one call per
        page. v7 has it for one record at a time, so each cut record is re-read by its own
        call; those calls run side by side in the read_ahead's second pool (this runs in a
        task of the first one, which must not wait on its own pool).
        """
        cut = [
            record for record in records
            if any(isinstance(record.get(f), str) and len(record[f]) >= RICH_TEXT_LIST_CUT
                   for f in self._rich_text_fields)
        ]
        if not cut:
            return
        by_id = {str(record["id"]): record for record in cut}

        def complete(path: str, params: dict[str, Any]) -> None:
            fields = params["fields"].split(",")
            while fields:
                try:
                    response = self.request_json(path, {**params, "fields": ",".join(fields)})
                except ZohoAPIError as exc:
                    refused = self._refused_rich_text_field(exc, fields)
                    if refused is None:
                        raise
                    fields.remove(refused)
                    continue
                for full in ZohoStream.parse_response(self, response):
                    record = by_id.get(str(full.get("id")))
                    if record is not None:
                        record.update((f, full[f]) for f in fields if f in full)
                return

        calls: list[tuple[str, dict[str, Any]]] = []
        for fields in batched(self._rich_text_fields, MAX_FIELDS_PER_CALL):
            if self.run.version.rich_text_per_page:
                calls += [(f"{self.path}/actions/fetch_full_data",
                           {"ids": ",".join(ids), "fields": ",".join(fields)})
                          for ids in batched(by_id, RICH_TEXT_IDS_PER_CALL)]
            else:
                calls += [(f"{self.path}/{rid}", {"fields": ",".join(fields)}) for rid in by_id]
        pool = self.run.read_ahead.side_pool
        for done in [pool.submit(complete, path, params) for path, params in calls]:
            done.result()

    def _refused_rich_text_field(self, exc: ZohoAPIError, fields: list[str]) -> str | None:
        """A field of this Get Rich Text Fields call that Zoho refuses (INVALID_DATA: removed,
        or no longer rich text, since discovery); it is not re-read again, its values stay as
        the list calls give them. A field removed for good is then dropped by the next list
        call (_drop_gone_field)."""
        api_name = exc.details.get("api_name") if exc.code == "INVALID_DATA" else None
        if api_name not in fields:
            return None
        with self._fields_lock:
            known = api_name in self._rich_text_fields
            if known:
                self._rich_text_fields = [f for f in self._rich_text_fields if f != api_name]
        if known:
            self.logger.warning(
                "%s: Zoho no longer gives the full rich text of %s (%s); its values stay as "
                "list calls give them (cut at %d characters)", self.api_name, api_name,
                exc.code, RICH_TEXT_LIST_CUT)
        return api_name
