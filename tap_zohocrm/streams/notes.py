"""Notes: read right whether or not Zoho honours If-Modified-Since and page_token on them.

The reference says Notes take If-Modified-Since; the v8 OpenAPI lists neither it nor page_token
for GET /Notes. The stream reads Notes as every module (pages anchored on the last
Modified_Time read) and checks the Modified_Time that comes back: a note older than the
If-Modified-Since sent means the header was ignored. Then the notes are read newest first
instead, kept from the bookmark on and emitted oldest first, so the bookmark stays a safe resume
point. That read reaches 2,000 notes with `page` (100,000 if Zoho gives page tokens); past it,
a warning says what was left, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.pagination import DISCRETE_PAGE_LIMIT, PagePaginator, RecordsPage
from tap_zohocrm.responses import PAGE_LIMIT_CODES, error_code, response_json
from tap_zohocrm.schema.values import utc_or_none
from tap_zohocrm.streams.module_rules import REPLICATION_KEY, filter_params

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    import requests

    from tap_zohocrm.sync.run import ZohoRun

TOKEN_CHAIN_LIMIT = 100_000  # records one page_token chain reaches


class _HeaderIgnored(Exception):
    """A note older than the If-Modified-Since sent came back."""


class NotesPaging:
    """Mixin of the module stream: how the Notes module is paged."""

    api_name: str
    config: Mapping[str, Any]
    logger: logging.Logger
    path: str
    run: ZohoRun
    _field_groups: list[list[str]]
    _last_modified: str | None
    _ids_at_last_modified: set[str]
    _notes_since: str | None = None


    if TYPE_CHECKING:  # the module stream's
        def _anchored_pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]: ...
        def _drop_restart_duplicates(self, records: list[dict[str, Any]]) -> Iterator[dict]: ...
        def request_json(self, path: str, params: dict[str, Any] | None = None, *,
                         headers: dict[str, str] | None = None) -> requests.Response: ...

    def _notes_pages(self, start: RecordsPage) -> Iterator[list[dict[str, Any]]]:
        self._notes_since = utc_or_none(start.modified_since)
        try:
            yield from self._anchored_pages(start)
        except _HeaderIgnored:
            self.logger.info("Zoho ignored If-Modified-Since on Notes: reading them newest "
                             "first down to the bookmark")
            yield from self._newest_first(start.modified_since)

    def _check_since_honoured(self, records: list[dict[str, Any]]) -> None:
        anchor = self._last_modified or self._notes_since
        if anchor and any((m := utc_or_none(r.get(REPLICATION_KEY))) and m < anchor
                          for r in records):
            raise _HeaderIgnored

    def _newest_first(self, since: str | None) -> Iterator[list[dict[str, Any]]]:
        floor = utc_or_none(since)
        per_page = int(self.config["per_page"])
        notes: dict[str, dict[str, Any]] = {}  # by id: a shifted page repeats a note
        page, token, first_ids = 1, None, None
        while True:
            params: dict[str, Any] = {"per_page": per_page, "sort_by": REPLICATION_KEY,
                                      "sort_order": "desc", **filter_params(self.api_name)}
            if self._field_groups:
                params["fields"] = ",".join(self._field_groups[0])
            params.update({"page_token": token} if token else {"page": page})
            headers = {"If-Modified-Since": since} if since else {}
            response = self.request_json(self.path, params, headers=headers)
            if error_code(response) in PAGE_LIMIT_CODES:
                self._warn_unread(len(notes))
                break
            raw = list(ZohoStream.parse_response(self, response))  # type: ignore[arg-type]
            ids = [r["id"] for r in raw]
            if not raw or ids == first_ids:  # a page_token Zoho ignored: the same page again
                break
            first_ids = ids
            older = False
            for record in raw:
                modified = utc_or_none(record.get(REPLICATION_KEY))
                if floor and modified and modified < floor:
                    older = True
                    continue
                notes[record["id"]] = record
            if older or not PagePaginator(1).has_more(response):
                break
            info = response_json(response).get("info") or {}
            token = info.get("next_page_token") if self.run.version.page_tokens else None
            reached = len(notes) if token else page * per_page
            if reached >= (TOKEN_CHAIN_LIMIT if token else DISCRETE_PAGE_LIMIT):
                self._warn_unread(len(notes))
                break
            page += 1
        ordered = sorted(notes.values(),
                         key=lambda r: (utc_or_none(r.get(REPLICATION_KEY)) or "", r["id"]))
        self._last_modified = None
        self._ids_at_last_modified = set()
        for i in range(0, len(ordered), per_page):
            yield list(self._drop_restart_duplicates(ordered[i:i + per_page]))

    def _warn_unread(self, read: int) -> None:
        self.logger.warning(
            "Zoho ignores If-Modified-Since on Notes and its paging stopped after %d notes "
            "changed since the bookmark: older changes were skipped and are read again only if "
            "they change. Run more often, or read Notes with another API version.", read)
