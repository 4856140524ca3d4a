"""Rich text cut by list calls (ApiVersion.cuts_rich_text: the first 500 characters): the full
values are re-read, a page at a time where Get Rich Text Fields exists
(ApiVersion.rich_text_per_page), else one record at a time."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, batched
from tap_zohocrm.reads.field_groups import gone_field
from tap_zohocrm.schema.fields import RICH_TEXT_LIST_CUT, RICH_TEXT_MEDIA_TYPE

if TYPE_CHECKING:
    import logging

    from tap_zohocrm.api_versions import ApiVersion
    from tap_zohocrm.reads.calls import Calls

RICH_TEXT_IDS_PER_CALL = 200  # Get Rich Text Fields: ids a call


def rich_text_fields(schema: dict[str, Any], mask: Mapping[Any, bool], version: ApiVersion, *,
                     full_rich_text: bool, logger: logging.Logger, module: str) -> list[str]:
    """Selected rich-text fields whose list-call values may be cut, to read again in full."""
    if not version.cuts_rich_text:
        return []
    rich = [name for name, prop in schema["properties"].items()
            if prop.get("contentMediaType") == RICH_TEXT_MEDIA_TYPE
            and mask.get(("properties", name), True)]
    if rich and not full_rich_text:
        logger.warning("%s: rich-text values longer than 500 characters are cut by Zoho's list "
                       "calls and kept cut (full_rich_text is false)", module)
        return []
    return rich


def rereads(records: int, per_page: int, *, per_page_calls: bool) -> int:
    """The most calls that read cut rich text again for `records` records."""
    return -(-records // per_page) if per_page_calls else records


class RichText:
    """Full rich text for pages whose values a list call cut."""

    def __init__(self, calls: Calls, *, path: str, fields: list[str], per_page: bool,
                 pool: ThreadPoolExecutor) -> None:
        self.calls = calls
        self.path = path
        self.fields = fields
        self.per_page = per_page
        # Per-record re-reads run side by side here: never the pool the page's task runs in.
        self.pool = pool
        self._lock = threading.Lock()

    def forget(self, api_name: str) -> bool:
        """Stop re-reading a field (removed, or no longer rich text); whether it was read."""
        with self._lock:
            known = api_name in self.fields
            self.fields = [f for f in self.fields if f != api_name]
        return known

    def complete(self, records: list[dict[str, Any]]) -> None:
        """Re-read the rich text a list call cut at 500 characters, in place."""
        fields = self.fields
        cut = [record for record in records
               if any(isinstance(record.get(f), str) and len(record[f]) >= RICH_TEXT_LIST_CUT
                      for f in fields)]
        if not cut:
            return
        by_id = {str(record["id"]): record for record in cut}
        calls: list[tuple[str, dict[str, Any]]] = []
        for group in batched(fields, MAX_FIELDS_PER_CALL):
            if self.per_page:
                calls += [(f"{self.path}/actions/fetch_full_data",
                           {"ids": ",".join(ids), "fields": ",".join(group)})
                          for ids in batched(by_id, RICH_TEXT_IDS_PER_CALL)]
            else:
                calls += [(f"{self.path}/{rid}", {"fields": ",".join(group)}) for rid in by_id]
        for done in [self.pool.submit(self._read, path, params, by_id)
                     for path, params in calls]:
            done.result()

    def _read(self, path: str, params: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> None:
        fields = params["fields"].split(",")
        while fields:
            try:
                response = self.calls.call(path, {**params, "fields": ",".join(fields)})
            except ZohoAPIError as exc:
                refused = self._refused(exc, fields)
                if refused is None:
                    raise
                fields.remove(refused)
                continue
            for full in self.calls.items(response):
                record = by_id.get(str(full.get("id")))
                if record is not None:
                    record.update((f, full[f]) for f in fields if f in full)
            return

    def _refused(self, exc: ZohoAPIError, fields: list[str]) -> str | None:
        """A field of this call that Zoho refuses (INVALID_DATA: removed, or no longer rich
        text, since discovery): not re-read again, its values stay as the list calls give them.
        A field removed for good is then dropped by the next list call (FieldGroups)."""
        api_name = gone_field(exc)
        if api_name not in fields:
            return None
        if self.forget(api_name):
            self.calls.logger.warning(
                "%s: Zoho no longer gives the full rich text of %s (%s); its values stay as "
                "list calls give them (cut at %d characters)", self.calls.module_api_name,
                api_name, exc.code, RICH_TEXT_LIST_CUT)
        return api_name
