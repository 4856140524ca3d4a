"""Zoho's paging: page/per_page for lists, and Get Records anchored on Modified_Time.

`page` is positional, and so may be `page_token` (undocumented): a record edited or deleted
behind the read position shifts the rest by one, and a record is skipped at the next page
boundary. So every Get Records page of a module with `Modified_Time` starts a new query with
`If-Modified-Since` at the last `Modified_Time` read (records come sorted by it, ascending); the
stream drops the records of that second it already emitted. Positional paging (`page`, or a
`page_token` chain) is used only while one second's records do not fit a page; its caps (2,000
records with `page`, 100,000 per token chain) end with an error there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import requests
from singer_sdk.pagination import BaseAPIPaginator, PageNumberPaginator
from typing_extensions import override

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.responses import EMPTY_STATUSES, PAGE_LIMIT_CODES, error_code, response_json
from tap_zohocrm.schema.values import instant

# Get Records per call: fields from v3 on, and ids (field groups, Bulk Read gaps).
MAX_FIELDS_PER_CALL = 50
MAX_IDS_PER_CALL = 100


def batched(items: Iterable[Any], size: int) -> Iterator[tuple[Any, ...]]:
    """itertools.batched for Python 3.11."""
    if size < 1:
        raise ValueError("batched: size must be at least one")
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk

DISCRETE_PAGE_LIMIT = 2000  # records reachable with `page` alone


@dataclass(frozen=True)
class RecordsPage:
    """Where the next Get Records call starts.

    `modified_since` is sent as If-Modified-Since and stays fixed within one page_token chain,
    because a token is bound to the request it came from.
    """

    page: int = 1
    page_token: str | None = None
    modified_since: str | None = None
    query: int = 0  # how many times the query was restarted; keeps tokens distinct


class PagePaginator(PageNumberPaginator):
    """Zoho's page/per_page paging: the next page until `info.more_records` is false."""

    @override
    def has_more(self, response: requests.Response) -> bool:
        if response.status_code in EMPTY_STATUSES:
            return False
        return bool((response_json(response).get("info") or {}).get("more_records"))


class ListPaginator(BaseAPIPaginator[RecordsPage]):
    """A list call's pages in Zoho's order (newest first, say): `page` numbers, or the
    `page_token` chain where the API version gives one, while `info.more_records` says so. A
    page-limit error or an empty answer ends it."""

    def __init__(self, *, page_tokens: bool) -> None:
        super().__init__(RecordsPage())
        self.page_tokens = page_tokens

    def params(self) -> dict[str, Any]:
        """The current page's parameters."""
        page = self.current_value
        return {"page_token": page.page_token} if page.page_token else {"page": page.page}

    @override
    def has_more(self, response: requests.Response) -> bool:
        if response.status_code in EMPTY_STATUSES or error_code(response) in PAGE_LIMIT_CODES:
            return False
        return bool((response_json(response).get("info") or {}).get("more_records"))

    @override
    def get_next(self, response: requests.Response) -> RecordsPage | None:
        token = (response_json(response).get("info") or {}).get("next_page_token")
        return RecordsPage(page=self.current_value.page + 1,
                           page_token=token if self.page_tokens and token else None)


class RecordsPaginator(BaseAPIPaginator[RecordsPage]):
    """Follows `more_records`, switching to `page_token` or a restarted query as needed."""

    def __init__(
        self,
        start: RecordsPage,
        *,
        per_page: int,
        use_page_tokens: bool,
        restart_key: str | None,
    ) -> None:
        super().__init__(start)
        self.per_page = per_page
        self.use_page_tokens = use_page_tokens
        self.restart_key = restart_key
        self.last_restart_value: str | None = None  # last `restart_key` value seen (raw)

    @override
    def has_more(self, response: requests.Response) -> bool:
        if error_code(response) in PAGE_LIMIT_CODES:
            return True
        if response.status_code in EMPTY_STATUSES:
            return False
        info = response_json(response).get("info") or {}
        return bool(info.get("more_records"))

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        # A page-limit error carries no records but the query goes on from a restart point.
        return error_code(response) in PAGE_LIMIT_CODES

    @override
    def get_next(self, response: requests.Response) -> RecordsPage | None:
        current = self.current_value
        if error_code(response) in PAGE_LIMIT_CODES:
            return self._restart(current)
        body = response_json(response)
        data = body.get("data") or []
        if data and self.restart_key:
            value = data[-1].get(self.restart_key)
            if value:
                self.last_restart_value = value
        info = body.get("info") or {}
        if self.restart_key and self._moved_past(current):
            return self._restart(current)
        token = info.get("next_page_token")
        if self.use_page_tokens and token:
            return RecordsPage(
                page=current.page + 1,
                page_token=token,
                modified_since=current.modified_since,
                query=current.query,
            )
        if current.page_token is None and current.page * self.per_page < DISCRETE_PAGE_LIMIT:
            return RecordsPage(
                page=current.page + 1, modified_since=current.modified_since, query=current.query
            )
        return self._restart(current)

    def _moved_past(self, current: RecordsPage) -> bool:
        """Whether the last record read is later than the query's If-Modified-Since: then
        the next page is a new query anchored there; else every record of the page shares the
        anchor's second and positional paging goes on within it."""
        if not self.last_restart_value:
            return False
        if current.modified_since is None:
            return True
        last, since = instant(self.last_restart_value), instant(current.modified_since)
        if last is None or since is None:
            return self.last_restart_value != current.modified_since
        return last > since

    def _restart(self, current: RecordsPage) -> RecordsPage:
        if not self.restart_key or not self.last_restart_value:
            msg = (
                "Zoho's pagination limit was reached and this module has no Modified_Time to "
                "restart the query from; the remaining records cannot be read with Get Records."
            )
            raise ZohoAPIError(msg, code="PAGINATION_LIMIT_EXCEEDED")
        if current.modified_since is not None and not self._moved_past(current):
            # Restarting there would read the same records again, or go back: never loop.
            msg = (
                f"More records share Modified_Time {current.modified_since} than one query can "
                "page through; Zoho's Get Records cannot read past them (use Bulk Read)."
            )
            raise ZohoAPIError(msg, code="PAGINATION_LIMIT_EXCEEDED")
        return RecordsPage(
            page=1, modified_since=self.last_restart_value, query=current.query + 1
        )
