"""Deleted records: the `deleted_records` stream, and delete markers on module streams.

Zoho keeps deleted ids for 60 days (recycle bin) and 120 days (permanently deleted) at
`/{module}/deleted`; a warehouse that never reads them keeps deleted deals forever.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import PagePaginator
from tap_zohocrm.responses import is_refusal
from tap_zohocrm.schema.values import to_utc
from tap_zohocrm.streams.module_rules import named_in_modules
from tap_zohocrm.streams.org import REF

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun

DELETED_AT = "_sdc_deleted_at"


def deleted_pages(stream: ZohoStream, module: str, since: str | None) -> Iterator[list[dict]]:
    """Pages of `/{module}/deleted?type=all`, deleted at or after `since` (If-Modified-Since).

    That the header filters on deleted_time is an assumption: Zoho documents the header for
    this endpoint ("recently modified records") without saying which time it compares.
    """
    page = 1
    headers = {"If-Modified-Since": since} if since else {}
    while True:
        params = {"type": "all", "page": page, "per_page": 200}
        response = stream.request_json(f"/{module}/deleted", params, headers=headers)
        records = list(ZohoStream.parse_response(stream, response))
        if records:
            yield records
        if not records or not PagePaginator(1).has_more(response):
            return
        page += 1


class DeletedRecordsStream(ZohoStream):
    """One row per deleted record of every selected module, incremental on deleted_time."""

    name = "deleted_records"
    primary_keys = ("module", "id")
    replication_key = "deleted_time"
    # Zoho lists the newest deletions first: the bookmark moves at the end of each module.
    is_sorted = False
    schema = th.PropertiesList(
        th.Property("module", th.StringType, required=True),
        th.Property("id", th.StringType, required=True),
        th.Property("display_name", th.StringType),
        th.Property("type", th.StringType, description="recycle or permanent"),
        th.Property("deleted_by", REF),
        th.Property("created_by", REF),
        th.Property("deleted_time", th.DateTimeType),
    ).to_dict()
    path = "/deleted"

    def __init__(self, tap: Tap, run: ZohoRun, schema: dict | None = None,
                 modules: list[str] | None = None) -> None:
        super().__init__(tap, run, schema=schema or self.schema)
        self.modules = modules or []

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [{"module": module} for module in self.modules]

    @property
    def module_api_name(self) -> str:
        return (self.context or {}).get("module", self.name)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        module = (context or {})["module"]
        start = self.get_starting_timestamp(context)
        since = start.replace(microsecond=0).isoformat() if start else None
        try:
            for page in deleted_pages(self, module, since):
                for record in page:
                    record["module"] = module
                    yield record
        except ZohoAPIError as exc:
            if exc.code == "INVALID_MODULE":
                self.logger.warning("Zoho lists no deleted records for module %s", module)
            elif is_refusal(exc.status, exc.code) and not named_in_modules(module, self.config):
                # As for the module's own stream: a module the user did not name is skipped.
                self.logger.warning("Skipping the deleted records of module %s: %s", module, exc)
            else:
                raise


class _NullBookmarkFilter(logging.Filter):
    """Delete markers carry no Modified_Time; the SDK's note about that is expected."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return "New replication value is null" not in record.getMessage()


def install_marker_log_filter() -> None:
    logging.getLogger("singer_sdk").addFilter(_NullBookmarkFilter())


def delete_markers(stream: ZohoStream, module: str, since: str | None) -> list[dict[str, Any]]:
    """Records `{id, _sdc_deleted_at}` for ids deleted since `since` (opt-in: emit_deletes).

    target-postgres stores `_sdc_deleted_at` on the row (soft delete); Modified_Time stays null
    so the module's bookmark is not moved by them.
    """
    markers: list[dict[str, Any]] = []
    try:
        for page in deleted_pages(stream, module, since):
            markers.extend(
                {"id": r["id"], DELETED_AT: to_utc(r["deleted_time"]), "Modified_Time": None}
                for r in page if r.get("deleted_time")
            )
    except ZohoAPIError as exc:
        if exc.code != "INVALID_MODULE":
            raise
    return markers
