"""A module read through COQL, as the REST path would emit it.

Rows come from COQL (reads.coql_pages), a page of 2,000 at a time, and are completed in the
read-ahead's pool in pieces of a Get Records page:

* owner fields (`{id, name, email}` over REST; COQL gives the last name only) from the org's
  users (reads.users_directory); a user the directory lacks has the record's owner fields read
  over REST;
* the fields COQL cannot select (file and image uploads, any Zoho refuses), and lookups COQL
  gives without their name, over REST by `ids=`, 100 records a call; a record Zoho no longer
  has is left out, as a field group does;
* rich text cut at 500 characters read again in full (as on the REST path).

Whether COQL returns converted Leads and records pending approval is undocumented. So once the
rows are read, the records Zoho hides unless asked are listed over REST (`converted=true`,
`approved=false`: a call each while they are few) and those COQL did not give are emitted (they
move no bookmark). A count compared with the rows would cost the same call and could be fooled
by a record deleted while reading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tap_zohocrm.pagination import MAX_IDS_PER_CALL, RecordsPage, batched
from tap_zohocrm.sync.feed_items import FeedItem, Records

if TYPE_CHECKING:
    from tap_zohocrm.reads.coql_pages import CoqlPages
    from tap_zohocrm.reads.rest_pages import RestPages
    from tap_zohocrm.reads.rich_text import RichText
    from tap_zohocrm.reads.users_directory import UsersDirectory

FetchByIds = Callable[[tuple[str, ...], list[str]], list[dict[str, Any]]]


class CoqlRead:
    """One sync's COQL read of a module."""

    def __init__(self, pages: CoqlPages, *, users: UsersDirectory, owner_fields: list[str],
                 lookup_fields: list[str], meta_keys: list[str],
                 rest_fields: list[str], fetch: FetchByIds, rich_text: RichText,
                 hidden: Callable[[Mapping[str, Any]], RestPages],
                 complete_rest: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                 hidden_filters: list[dict[str, Any]], pool: ThreadPoolExecutor,
                 per_page: int, logger: logging.Logger) -> None:
        self.pages = pages
        self.users = users
        self.owner_fields = owner_fields
        self.lookup_fields = lookup_fields  # a COQL value without `name`: read over REST
        # Selected `$` keys (approval state, editable, ...): only Get Records gives them, with
        # whatever fields it is asked for.
        self.meta_keys = meta_keys
        self.rest_fields = rest_fields  # selected fields COQL cannot give
        self.fetch = fetch
        self.rich_text = rich_text
        self.hidden = hidden
        self.hidden_filters = hidden_filters
        self.complete_rest = complete_rest  # every field group of a REST page, full rich text
        self.pool = pool
        self.per_page = per_page
        self.logger = logger
        self._seen: set[str] = set()

    def feed(self, since: str | None, put: Callable[[Future[FeedItem]], None]) -> datetime | None:
        """Queue every row from `since`, completed; then the hidden records COQL left out.
        Returns Zoho's Date of the answer that ended the read."""
        for rows in self.pages.pages(since):
            self._seen.update(str(row["id"]) for row in rows)
            for piece in batched(rows, self.per_page):
                put(self.pool.submit(self._records, list(piece), True))
        read_to_end_at = self.pages.read_to_end_at
        for page in self._hidden_pages(since):
            put(self.pool.submit(self._hidden_records, page))
        return read_to_end_at

    def _records(self, rows: list[dict[str, Any]], moves_bookmark: bool) -> FeedItem:
        return Records(self.complete(rows), moves_bookmark=moves_bookmark)

    def _hidden_records(self, page: list[dict[str, Any]]) -> FeedItem:
        # Listed after the rows, out of Modified_Time order: they move no bookmark.
        return Records(self.complete_rest(page), moves_bookmark=False)

    def complete(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Pool task: owners and user names from the directory, then one REST fill of what
        COQL cannot give (every row when it lacks selected fields or `$` keys, else the rows
        that need it), then full rich text."""
        needs: set[str] = set()  # fields some row needs from REST
        needy: dict[str, dict[str, Any]] = {}
        users = self.users.users() if self.owner_fields or self.lookup_fields else {}
        for row in rows:
            for name in self.owner_fields:
                if (value := row.get(name)) is None:
                    continue
                owner = self.users.owner(value)
                if owner is None:
                    needs.update(self.owner_fields)
                    needy[str(row["id"])] = row
                else:
                    row[name] = owner
            for name in self.lookup_fields:
                value = row.get(name)
                if not isinstance(value, dict):
                    continue
                if user := users.get(str(value.get("id"))):
                    value["name"] = user.get("full_name")  # COQL: the last name only
                elif "name" not in value:  # e.g. a multi-module lookup: the id only
                    needs.add(name)
                    needy[str(row["id"])] = row
        every = [*self.rest_fields, *self.pages.refused]
        fields = sorted({*every, *needs})
        if every or self.meta_keys:
            rows = self._fill(rows, fields or ["Modified_Time"], copy=[*fields, *self.meta_keys])
        elif needy:
            kept = {str(r["id"]) for r in self._fill(list(needy.values()), fields)}
            rows = [r for r in rows if str(r["id"]) not in needy or str(r["id"]) in kept]
        if self.rich_text.fields:
            self.rich_text.complete(rows)
        return rows

    def _fill(self, rows: list[dict[str, Any]], fields: list[str],
              copy: list[str] | None = None) -> list[dict[str, Any]]:
        """These fields over REST for these rows (`copy`: the keys taken from the answer, the
        fields by default); a row Zoho no longer has is left out."""
        copy = fields if copy is None else copy
        by_id = {str(row["id"]): row for row in rows}
        found: set[str] = set()
        for ids in batched(by_id, MAX_IDS_PER_CALL):
            for record in self.fetch(ids, fields):
                row = by_id.get(str(record.get("id")))
                if row is not None:
                    found.add(str(record["id"]))
                    row.update((name, record.get(name)) for name in copy)
        gone = len(by_id) - len(found)
        if gone:
            self.logger.warning("%s: %d records were deleted in Zoho while their fields were "
                                "read; they are not emitted (a deleted-records listing "
                                "reports them)", self.pages.module, gone)
        return [row for row in rows if str(row["id"]) in found]

    def _hidden_pages(self, since: str | None) -> Iterator[list[dict[str, Any]]]:
        """Records Zoho hides unless asked, that COQL did not give."""
        found = 0
        for filters in self.hidden_filters:
            for page in self.hidden(filters).pages(RecordsPage(modified_since=since)):
                new = [r for r in page if str(r["id"]) not in self._seen]
                self._seen.update(str(r["id"]) for r in new)
                if new:
                    found += len(new)
                    yield new
        if found:
            self.logger.info("%s: COQL read %d records; %d records Zoho hides unless asked "
                             "(converted, pending approval) were read over REST",
                             self.pages.module, self.pages.rows, found)
