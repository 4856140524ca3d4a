"""Attachment metadata (file name, size, parent, owner, times; never file contents).

Zoho lists attachments per record only (`/{module}/{record_id}/Attachments`), so this stream is
a child of the module streams: it is read for the records a run reads, i.e. new and modified
ones. Whether adding an attachment bumps the parent's Modified_Time is not documented; this
stream assumes it does (the simulator models it so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.pagination import PagePaginator
from tap_zohocrm.streams.module import ModuleStream
from tap_zohocrm.streams.org import REF

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun

ATTACHMENT_FIELDS = ("id", "File_Name", "Size", "Parent_Id", "Owner", "Created_Time",
                     "Modified_Time", "Created_By", "Modified_By", "$file_id", "$type")


class AttachmentsStream(ZohoStream):
    name = "attachments"
    parent_stream_type = ModuleStream
    primary_keys = ("id",)
    # One bookmark for the stream, not one per parent record.
    state_partitioning_keys: list[str] = []
    path = "/{module}/{record_id}/Attachments"
    schema = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("module", th.StringType),
        th.Property("record_id", th.StringType),
        th.Property("File_Name", th.StringType),
        th.Property("Size", th.IntegerType, description="bytes"),
        th.Property("Parent_Id", REF),
        th.Property("Owner", REF),
        th.Property("Created_By", REF),
        th.Property("Modified_By", REF),
        th.Property("Created_Time", th.DateTimeType),
        th.Property("Modified_Time", th.DateTimeType),
        th.Property("$file_id", th.StringType),
        th.Property("$type", th.StringType),
    ).to_dict()

    def __init__(self, tap: Tap, run: ZohoRun, schema: dict | None = None) -> None:
        super().__init__(tap, run, schema=schema or self.schema)

    @property
    def module_api_name(self) -> str:
        return "Attachments"

    @override
    def cost_row(self) -> CostRow | None:
        return None  # one call per parent record: counted in its module's row


    @override
    def get_new_paginator(self) -> PagePaginator:
        return PagePaginator(start_value=1)

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        fields = [f for f in ATTACHMENT_FIELDS if not f.startswith("$") and f != "id"]
        return HTTPRequest(
            url=self.get_url(page.stream_context),
            params={"fields": ",".join(fields), "page": page.next_page_token or 1,
                    "per_page": 200},
            headers=dict(self.http_headers),
        )

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        row.setdefault("module", (context or {}).get("module"))
        row.setdefault("record_id", (context or {}).get("record_id"))
        return super().post_process(row, context)
