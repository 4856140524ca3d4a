"""Get Records pages of a module, anchored on (Modified_Time, id): each page starts a new query
at the last Modified_Time read (pagination.RecordsPaginator), and the records of that second
already read are dropped (reads.anchor)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tap_zohocrm.pagination import RecordsPage, RecordsPaginator
from tap_zohocrm.reads.anchor import Anchor
from tap_zohocrm.responses import answered_at, response_json

if TYPE_CHECKING:
    import requests

    from tap_zohocrm.reads.calls import Calls

ANCHOR_REPEATS = 5  # records a page carries again, on average, from the second it starts at


def rest_calls(records: int, per_page: int, page_reads: int) -> int:
    """Get Records calls to read `records` records: pages of the first field group, and
    `page_reads` - 1 pages beside each for the other fields (field_groups.page_reads)."""
    if records == 0:
        return 1  # the 304/204 answer
    pages = math.ceil(records / per_page)
    # Each page starts at the last Modified_Time read: that second's records come again.
    repeats = math.ceil(pages * ANCHOR_REPEATS / per_page) if pages > 1 else 0
    return pages + repeats + (page_reads - 1) * pages


class RestPages:
    """One module's Get Records pages, in Modified_Time order.

    `fields` gives the first field group at each call (a field dropped mid-read leaves it);
    `before_call` runs before each call (the credit budget's headroom); `on_more` once a page
    shows there is more to read (the progress count).
    """

    def __init__(self, calls: Calls, *, path: str, replication_key: str | None, per_page: int,
                 page_tokens: bool, filters: Mapping[str, Any],
                 fields: Callable[[], list[str]] = list,
                 before_call: Callable[[], None] = lambda: None,
                 on_more: Callable[[], None] = lambda: None) -> None:
        self.calls = calls
        self.path = path
        self.replication_key = replication_key
        self.per_page = per_page
        self.page_tokens = page_tokens
        self.filters = dict(filters)
        self.fields = fields
        self.before_call = before_call
        self.on_more = on_more
        self.anchor = Anchor(replication_key)
        # Zoho's Date of the answer that ended the page chain: nothing more to read up to it.
        self.read_to_end_at: datetime | None = None

    def pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]:
        """Pages of the first field group from `start` to the end of the module.

        Unlike the SDK's loop, a page whose records were all repeats of a restart point does
        not end the read: only an empty answer does.
        """
        paginator = RecordsPaginator(start, per_page=self.per_page,
                                     use_page_tokens=self.page_tokens,
                                     restart_key=self.replication_key)
        while not paginator.finished:
            self.before_call()
            response = self._call(paginator.current_value)
            raw = self.calls.items(response)
            if not raw and not paginator.continue_if_empty(response):
                self.read_to_end_at = answered_at(response)
                return
            self.check_page(raw)
            records = self.anchor.fresh(raw)
            paginator.advance(response)
            # The count is asked before this page goes out, so every progress line has its total.
            if not paginator.finished:
                self.on_more()
            else:
                self.read_to_end_at = answered_at(response)
            if records:
                yield records

    def page(self, page: RecordsPage) -> tuple[list[dict[str, Any]], bool]:
        """One page by itself (no anchor): its records, and whether Zoho says more follow."""
        self.before_call()
        response = self._call(page)
        records = self.calls.items(response)
        more = bool(records) and bool(
            (response_json(response).get("info") or {}).get("more_records"))
        return records, more

    def check_page(self, records: list[dict[str, Any]]) -> None:
        """A hook for a module whose answers need checking before their records are taken."""

    def _call(self, page: RecordsPage) -> requests.Response:
        params: dict[str, Any] = {
            "per_page": self.per_page,
            "sort_by": self.replication_key or "id",
            "sort_order": "asc",
            **self.filters,
        }
        if fields := self.fields():
            params["fields"] = ",".join(fields)
        if page.page_token:
            params["page_token"] = page.page_token
        else:
            params["page"] = page.page
        headers = {"If-Modified-Since": page.modified_since} if page.modified_since else {}
        return self.calls.call(self.path, params, headers=headers)
