"""Field groups: Zoho returns at most 50 fields a Get Records call (v3 on), so a module's selected
fields are read in groups. Each page is listed with the first group, and the other groups are
fetched for the page's ids (`ids=`, 100 a call) and merged in."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, MAX_IDS_PER_CALL, batched
from tap_zohocrm.schema.fields import requestable_fields

if TYPE_CHECKING:
    from tap_zohocrm.reads.calls import Calls


def selected_fields(schema: dict[str, Any], mask: Mapping[Any, bool]) -> list[str]:
    """The selected fields a Get Records call can ask for."""
    return [f for f in requestable_fields(schema) if mask.get(("properties", f), True)]


def field_groups(schema: dict[str, Any], mask: Mapping[Any, bool], replication_key: str | None,
                 *, fields_optional: bool) -> list[list[str]]:
    """Selected fields in groups of at most 50, Modified_Time in the first group. An empty list
    means "no fields parameter" (every field, where the API version allows it)."""
    selected = selected_fields(schema, mask)
    if fields_optional and len(selected) == len(requestable_fields(schema)):
        return []
    if replication_key and replication_key in selected:
        selected.remove(replication_key)
        selected.insert(0, replication_key)
    if not selected:
        selected = [replication_key or "Created_Time"]
    return [list(chunk) for chunk in batched(selected, MAX_FIELDS_PER_CALL)]


FIELDS_BESIDE = MAX_FIELDS_PER_CALL - 1  # a page beside a read asks Modified_Time too


def chunks_beside(groups: list[list[str]]) -> int:
    """Pages beside each page of a read listed with the first of these field groups: one per
    chunk of the other fields (reads.group_pages)."""
    return -(-sum(len(group) for group in groups[1:]) // FIELDS_BESIDE)


def page_reads(groups: list[list[str]]) -> int:
    """Get Records pages per page of a read in these field groups: its own, and those beside."""
    return 1 + chunks_beside(groups)


def gone_field(exc: ZohoAPIError) -> str | None:
    """The field an INVALID_DATA answer names (removed in Zoho since discovery)."""
    name = exc.details.get("api_name") if exc.code == "INVALID_DATA" else None
    return str(name) if name else None


class FieldGroups:
    """A module's field groups for one sync; a field Zoho no longer knows is dropped from them
    (with `on_gone` told), never the run."""

    def __init__(self, calls: Calls, *, path: str, groups: list[list[str]],
                 replication_key: str | None, filters: Mapping[str, Any],
                 on_gone: Callable[[str], object] = lambda name: None) -> None:
        self.calls = calls
        self.path = path
        self.groups = groups
        self.replication_key = replication_key
        self.filters = dict(filters)
        self.on_gone = on_gone
        self.lock = threading.Lock()
        self._gone: set[str] = set()

    @property
    def logger(self) -> logging.Logger:
        return self.calls.logger

    @property
    def first(self) -> list[str]:
        """The fields the pages are listed with (empty: no fields parameter)."""
        return self.groups[0] if self.groups else []

    def completion_calls(self, records: int) -> int:
        """`ids=` calls that add the other groups to a page of `records` records."""
        if not self.groups:
            return 0
        return (len(self.groups) - 1) * -(-records // MAX_IDS_PER_CALL)

    def drop_gone(self, exc: ZohoAPIError) -> bool:
        """Stop asking for a field Zoho no longer knows: whether `exc` named one."""
        api_name = gone_field(exc)
        with self.lock:
            requested = [f for chunk in self.groups for f in chunk]
            if api_name in self._gone and api_name not in requested:
                return True  # another call of the same sync found it gone first
            if not api_name or api_name not in requested or api_name == self.replication_key:
                return False
            self._gone.add(api_name)
            remaining = [f for f in requested if f != api_name]
            self.groups = [list(c) for c in batched(remaining, MAX_FIELDS_PER_CALL)]
        self.on_gone(api_name)
        self.logger.warning(
            "%s: field %s no longer exists in Zoho (removed after discovery); it is null from "
            "now on. Run discovery again to drop it from the catalog.",
            self.calls.module_api_name, api_name)
        return True

    def merge_others(self, records: list[dict[str, Any]],
                     filled: frozenset[str] = frozenset()) -> None:
        """Fetch the other field groups for these records' ids and merge them in (but for the
        records `filled` names: they have them from pages beside); a record Zoho no longer has
        (deleted meanwhile) is left out, never emitted with fields missing.

        The page itself is read with one fixed group, because changing `fields` within a
        page_token chain breaks the chain (TOKEN_BOUND_DATA_MISMATCH).
        """
        by_id = {record["id"]: record for record in records if str(record["id"]) not in filled}
        if not by_id:
            return
        asked = len(by_id)
        for chunk in self.groups[1:]:
            found: set[str] = set()
            for ids in batched(by_id, MAX_IDS_PER_CALL):
                for extra in self.fetch_by_ids(ids, chunk):
                    if extra["id"] in by_id:
                        found.add(extra["id"])
                        for name in chunk:
                            if name in extra:
                                by_id[extra["id"]][name] = extra[name]
            by_id = {record_id: by_id[record_id] for record_id in by_id if record_id in found}
        gone = asked - len(by_id)
        if gone:
            records[:] = [record for record in records
                          if record["id"] in by_id or str(record["id"]) in filled]
            self.logger.warning(
                "%s: %d records were deleted in Zoho while their fields were read; they are "
                "not emitted (a deleted-records listing reports them)",
                self.calls.module_api_name, gone)

    def fetch_by_ids(self, ids: tuple[str, ...], fields: list[str]) -> list[dict[str, Any]]:
        """These records with these fields, as Zoho has them now. A record an `ids=` answer
        leaves out is asked for by itself (one call); one Zoho no longer has is not returned."""
        found = self._fetch(self.path, {"ids": ",".join(ids), **self.filters}, fields)
        answered = {str(record["id"]) for record in found}
        for record_id in ids:
            if str(record_id) not in answered:
                found += self._fetch(f"{self.path}/{record_id}", {}, fields)
        return found

    def _fetch(self, path: str, params: dict[str, Any],
               fields: list[str]) -> list[dict[str, Any]]:
        while True:
            try:
                response = self.calls.call(path, {**params, "fields": ",".join(fields)})
                return self.calls.items(response)
            except ZohoAPIError as exc:
                if not self.drop_gone(exc):
                    raise
                gone = gone_field(exc)
                if fields == [gone]:
                    # Every field asked for is gone from Zoho: nothing to add, but the record
                    # is still there (a call without `fields` would read every field).
                    fields = [self.replication_key or "Created_Time"]
                    continue
                fields = [f for f in fields if f != gone]
