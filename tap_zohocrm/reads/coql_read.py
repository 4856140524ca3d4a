"""A module read through COQL, as the REST path would emit it.

Rows come from COQL (reads.coql_pages), a page of 2,000 at a time, and are completed in the
read-ahead's pool in pieces of a Get Records page:

* owner fields (`{id, name, email}` over REST; COQL gives the last name only) from the org's
  users (reads.users_directory); a user the directory lacks has the record's owner fields read
  over REST;
* the fields COQL cannot select (file and image uploads, any Zoho refuses) and the selected
  `$` keys, from Get Records pages of those fields read beside the rows (reads.rest_fields,
  200 records a call); a row those pages did not match (edited between the two reads), and
  lookups COQL gives without their name, over REST by `ids=`, 100 records a call; a record
  Zoho no longer has is left out, as a field group does;
* rich text cut at 500 characters read again in full, for a COQL page at a time (200 ids a
  call; only some rows have a cut value), until a value longer than that shows that COQL gives
  rich text whole.

Whether COQL returns converted Leads and records pending approval is undocumented. So the
records Zoho hides unless asked are listed over REST (`converted=true`, `approved=false`: a call
each while they are few) as COQL's rows pass them, and those COQL did not give are merged into
the rows in Modified_Time order: the output stays sorted and they move the bookmark like any
record. A count compared with the rows would cost the same call and could be fooled by a record
deleted while reading.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tap_zohocrm.pagination import MAX_IDS_PER_CALL, RecordsPage, batched
from tap_zohocrm.reads.group_pages import GroupPages, after_fills
from tap_zohocrm.reads.module_rules import REPLICATION_KEY
from tap_zohocrm.reads.rest_fields import RestFields
from tap_zohocrm.schema.fields import RICH_TEXT_LIST_CUT
from tap_zohocrm.schema.values import instant
from tap_zohocrm.sync.feed_items import FeedItem, Records

if TYPE_CHECKING:
    from tap_zohocrm.errors import ZohoAPIError
    from tap_zohocrm.reads.coql_pages import CoqlPages
    from tap_zohocrm.reads.rest_pages import RestPages
    from tap_zohocrm.reads.rich_text import RichText
    from tap_zohocrm.reads.users_directory import UsersDirectory

FetchByIds = Callable[[tuple[str, ...], list[str]], list[dict[str, Any]]]
# Every field group and full rich text of REST records (reads.completion.PageCompletion).
CompleteRest = Callable[[list[dict[str, Any]], int, frozenset[str]], list[dict[str, Any]]]


class CoqlRead:
    """One sync's COQL read of a module."""

    def __init__(self, pages: CoqlPages, *, users: UsersDirectory, owner_fields: list[str],
                 lookup_fields: list[str], meta_keys: list[str],
                 rest_fields: list[str], fetch: FetchByIds, rich_text: RichText,
                 hidden: Callable[[Mapping[str, Any]], RestPages],
                 rest_pages: Callable[[list[str]], RestPages],
                 drop_gone: Callable[[ZohoAPIError], bool],
                 complete_rest: CompleteRest,
                 hidden_filters: list[dict[str, Any]], pool: ThreadPoolExecutor,
                 per_page: int, logger: logging.Logger,
                 hidden_groups: Callable[[Mapping[str, Any]], GroupPages | None] = (
                     lambda filters: None)) -> None:
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
        self.rest_pages = rest_pages  # Get Records pages of these fields (and `$` keys)
        self.drop_gone = drop_gone  # whether an error names a field removed in Zoho
        self.hidden_filters = hidden_filters
        self.complete_rest = complete_rest  # every field group of a REST page, full rich text
        self.pool = pool
        self.per_page = per_page
        self.logger = logger
        self._seen: dict[str, datetime] = {}  # COQL's rows: id -> Modified_Time
        self._nameless: set[str] = set()  # lookups COQL gives without their name
        self._whole_rich_text = False  # a COQL value longer than a cut one was seen
        # The hidden records' other field groups, from pages beside their lists.
        self.hidden_groups = hidden_groups
        self._group_pages: dict[int, GroupPages | None] = {}  # by list (filter)
        self._listed_in: dict[str, int] = {}  # a hidden record's id -> its list

    def feed(self, since: str | None, put: Callable[[Future[FeedItem]], None]) -> datetime | None:
        """Queue every row from `since`, completed, with the hidden records COQL left out
        merged in Modified_Time order. Returns Zoho's Date of the answer that ended the read."""
        beside: RestFields | None = None
        hidden = _Hidden(self._hidden_records_listed(since))
        try:
            for rows in self.pages.pages(since):
                self._seen.update((str(row["id"]), _modified(row)) for row in rows)
                if beside is None and (fields := self.every_row_fields(rows)) is not None:
                    beside = RestFields(self.rest_pages(fields), since=since, fields=fields,
                                        copy=[*fields, *self.meta_keys],
                                        drop_gone=self.drop_gone)
                filled = beside.match(rows) if beside is not None else set()
                if beside is not None and beside.failed is not None:
                    # The rows before the first one left unfilled go out, with the hidden
                    # records up to them, then the read stops: a budget stop keeps what it
                    # read, and nothing before the bookmark is skipped.
                    self._put_rows(_until_unfilled(rows, filled), filled, hidden, put)
                    raise beside.failed
                self._put_rows(rows, filled, hidden, put)
            for piece in batched(hidden.until(None, self._seen), self.per_page):
                put(self._hidden_part(list(piece)))
        finally:
            if beside is not None:
                beside.close()
            for group_pages in self._group_pages.values():
                if group_pages is not None:
                    group_pages.close()
        read_to_end_at = self.pages.read_to_end_at
        if hidden.found:
            self.logger.info("%s: COQL read %d records; %d records Zoho hides unless asked "
                             "(converted, pending approval) were read over REST",
                             self.pages.module, self.pages.rows, hidden.found)
        return read_to_end_at

    def _put_rows(self, rows: list[dict[str, Any]], filled: set[str], hidden: _Hidden,
                  put: Callable[[Future[FeedItem]], None]) -> None:
        """Queue these rows' completion, merged with the hidden records up to the last."""
        if not rows:
            return
        left_out = hidden.until(rows[-1], self._seen)  # before any row goes out
        parts = [self.pool.submit(self._records, list(piece), filled)
                 for piece in batched(rows, self.per_page)]
        hidden_part = self._hidden_part(left_out) if left_out else None
        # Cut rich text is re-read once the page's rows are complete, for the whole page: a
        # Get Rich Text Fields call takes 200 ids, and only some rows have a cut value.
        put(_merged(parts, hidden_part,
                    self.rich_text.complete if self._may_cut_rich_text(rows) else None))

    def _may_cut_rich_text(self, rows: list[dict[str, Any]]) -> bool:
        """Whether COQL may have cut these rows' rich text (whether COQL cuts it as Get Records
        does is undocumented): yes until a value longer than the cut shows it gives it whole."""
        fields = self.rich_text.fields
        if not fields or self._whole_rich_text:
            return False
        self._whole_rich_text = any(
            isinstance(value := row.get(name), str) and len(value) > RICH_TEXT_LIST_CUT
            for row in rows for name in fields)
        if self._whole_rich_text:
            self.logger.info("%s: COQL gives rich text whole; it is not read again",
                             self.pages.module)
        return not self._whole_rich_text

    def every_row_fields(self, first: list[dict[str, Any]] | None = None) -> list[str] | None:
        """The fields every row needs from Get Records (None: none; an empty list: only the
        `$` keys, which come with any field). Known once the first query was answered (a
        column COQL refuses moves to REST then); with its rows (`first`), the lookups COQL
        gives without their name join them when Get Records pages are read anyway."""
        if first is not None and self.lookup_fields:
            users = self.users.users()
            nameless = [{name for name in self.lookup_fields
                         if isinstance(value := row.get(name), dict) and "name" not in value
                         and str(value.get("id")) not in users} for row in first]
            # A page of Get Records reads 200 rows for a credit, `ids=` 100: pages beside,
            # once they are read anyway or once most rows need a lookup's name.
            if (self.rest_fields or self.pages.refused or self.meta_keys
                    or 2 * sum(map(bool, nameless)) > len(first)):
                self._nameless.update(*nameless)
        fields = sorted({*self.rest_fields, *self.pages.refused, *self._nameless})
        return fields if fields or self.meta_keys else None

    def _records(self, rows: list[dict[str, Any]], filled: set[str]) -> FeedItem:
        return Records(self.complete(rows, filled))

    def _hidden_part(self, records: list[dict[str, Any]]) -> Future[FeedItem]:
        """Queue the completion of hidden records COQL left out. Their other field groups come
        from pages beside their lists, asked for now (in each list's order, as they are
        taken): only records COQL left out cost pages."""
        by_list: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            by_list.setdefault(self._listed_in.get(str(record["id"]), 0), []).append(record)
        fills = []
        for at, part in by_list.items():
            if at not in self._group_pages:
                self._group_pages[at] = self.hidden_groups(self.hidden_filters[at])
            if (group_pages := self._group_pages[at]) is not None:
                fills.append(group_pages.fill(part))
        return after_fills(fills, self.pool, lambda filled: Records(
            self.complete_rest(records, 0, filled)))

    def complete(self, rows: list[dict[str, Any]],
                 filled: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Pool task: owners and user names from the directory, then what COQL cannot give
        for the rows the Get Records pages beside it did not fill (`filled`: their ids), by
        `ids=` (full rich text follows, for the whole COQL page: _merged)."""
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
        kept: set[str] = {str(row["id"]) for row in rows}
        every = self.every_row_fields()
        if every is not None:
            unfilled = [row for row in rows if str(row["id"]) not in filled]
            if unfilled:
                fields = sorted({*every, *needs}) or [REPLICATION_KEY]
                kept -= _ids(unfilled) - _ids(self._fill(unfilled, fields,
                                                        copy=[*fields, *self.meta_keys]))
                needy = {key: row for key, row in needy.items() if key in filled}
        if needy:
            kept -= set(needy) - _ids(self._fill(list(needy.values()), sorted(needs)))
        return [row for row in rows if str(row["id"]) in kept]

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

    def _hidden_records_listed(self, since: str | None) -> Iterator[dict[str, Any]]:
        """Records Zoho hides unless asked, listed over REST (a list per filter, each in
        Modified_Time order), merged in Modified_Time order."""
        lists = [self._listed(at, self.hidden(filters).pages(RecordsPage(modified_since=since)))
                 for at, filters in enumerate(self.hidden_filters)]
        return heapq.merge(*lists, key=_modified)

    def _listed(self, at: int, pages: Iterator[list[dict[str, Any]]]
                ) -> Iterator[dict[str, Any]]:
        for page in pages:
            for record in page:
                self._listed_in[str(record["id"])] = at
                yield record


class _Hidden:
    """The hidden records listed over REST, taken as COQL's rows pass them; a version COQL
    gave too (`seen`), or one taken already, is dropped. A record edited while it is read comes
    again at its new Modified_Time, and that version is taken."""

    def __init__(self, records: Iterator[dict[str, Any]]) -> None:
        self._records = records
        self._next: dict[str, Any] | None = None
        self._ended = False
        self._taken: dict[str, datetime] = {}  # id -> Modified_Time
        self.found = 0

    def until(self, row: dict[str, Any] | None,
              seen: Mapping[str, datetime]) -> list[dict[str, Any]]:
        """The hidden records up to this COQL row in (Modified_Time, id) order (None: all
        that are left) that COQL did not give."""
        cut = None if row is None else _order(row)
        taken: list[dict[str, Any]] = []
        while True:
            if self._next is None and not self._ended:
                self._next = next(self._records, None)
                self._ended = self._next is None
            record = self._next
            if record is None or (cut is not None and _order(record) > cut):
                break
            self._next = None
            key, at = str(record["id"]), _modified(record)
            if seen.get(key, _NEVER) < at and self._taken.get(key, _NEVER) < at:
                self._taken[key] = at
                taken.append(record)
        self.found += len(taken)
        return taken


def _until_unfilled(rows: list[dict[str, Any]], filled: set[str]) -> list[dict[str, Any]]:
    for at, row in enumerate(rows):
        if str(row["id"]) not in filled:
            return rows[:at]
    return rows


_NEVER = datetime.min.replace(tzinfo=UTC)


def _modified(record: Mapping[str, Any]) -> datetime:
    return instant(record.get(REPLICATION_KEY)) or _NEVER


def _order(record: Mapping[str, Any]) -> tuple[datetime, int, str]:
    """COQL's order: Modified_Time, then id (a number: shorter is smaller)."""
    key = str(record["id"])
    return _modified(record), len(key), key


def _merged(parts: list[Future[FeedItem]], hidden: Future[FeedItem] | None,
            finish: Callable[[list[dict[str, Any]]], None] | None) -> Future[FeedItem]:
    """One feed item of a COQL page once its parts are done: the rows of `parts`, `finish`ed
    (full rich text), and the `hidden` records (complete already), in Modified_Time order."""
    merged: Future[FeedItem] = Future()
    every = [*parts, *([hidden] if hidden is not None else [])]
    left = [len(every)]
    lock = threading.Lock()

    def done(_: Future[FeedItem]) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        try:
            rows = [r for part in parts for r in _records_in(part.result())]
            if finish is not None:
                finish(rows)
            if hidden is not None:
                rows = sorted([*rows, *_records_in(hidden.result())], key=_order)
            merged.set_result(Records(rows))
        except BaseException as exc:  # the failure of a part is the item's
            merged.set_exception(exc)

    for part in every:
        part.add_done_callback(done)
    return merged


def _records_in(item: FeedItem) -> list[dict[str, Any]]:
    assert isinstance(item, Records)
    return item.records


def _ids(rows: list[dict[str, Any]]) -> set[str]:
    return {str(row["id"]) for row in rows}
