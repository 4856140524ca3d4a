"""What only Get Records gives (file and image uploads, columns COQL refuses, the `$` keys),
read beside a COQL read as Get Records pages of those fields alone: 200 records a credit, where
`ids=` calls give 100.

Both reads go in Modified_Time order. For each page of COQL's rows, the Get Records pages from
the first row's second are asked at once (`page` 1 to n of one If-Modified-Since, n enough for
the rows), then more windows, each from the last second read, until they pass the last row's
Modified_Time: a page's calls overlap instead of following one another. Rows are matched by
(id, Modified_Time): a record edited between the two reads has another Modified_Time on each
side and is not matched, nor is one an edit moved across a page boundary of the window. Unmatched
rows are the caller's to read by `ids=`, so a value is never taken from another version of its
record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import DISCRETE_PAGE_LIMIT, RecordsPage
from tap_zohocrm.reads.field_groups import gone_field
from tap_zohocrm.reads.module_rules import REPLICATION_KEY
from tap_zohocrm.schema.values import instant

if TYPE_CHECKING:
    from tap_zohocrm.reads.rest_pages import RestPages


class RestFields:
    """One sync's Get Records pages of `fields` from `since`, matched to COQL's rows.

    `pages` asks for `fields` at each call; `copy` names the keys a matched row takes from its
    REST record (the fields and the selected `$` keys); `drop_gone` says whether an error
    names a field removed in Zoho (dropped then)."""

    def __init__(self, pages: RestPages, *, since: str | None, fields: list[str],
                 copy: list[str], drop_gone: Callable[[ZohoAPIError], bool]) -> None:
        self.pages = pages
        self.since = since
        self.fields = fields  # the pages ask for these at each call
        self.copy = copy
        self.drop_gone = drop_gone
        self._held: dict[str, dict[str, Any]] = {}  # read, not matched yet: by id
        self._last: datetime | None = None  # the latest Modified_Time read
        self._from: datetime | None = None  # where the next window starts
        self._ended = False  # Zoho has no more records
        self._lock = threading.Lock()
        self._dropped: set[str] = set()
        # Why the pages stopped early (a failed call, the credit budget): the rows matched
        # before it can still go out, then the read fails with it.
        self.failed: BaseException | None = None
        # `page` alone reaches DISCRETE_PAGE_LIMIT records: ten pages of 200.
        self._pool = ThreadPoolExecutor(min(10, DISCRETE_PAGE_LIMIT // pages.per_page),
                                        thread_name_prefix="rest-fields")

    def match(self, rows: list[dict[str, Any]]) -> set[str]:
        """Fill these rows (a COQL page, in Modified_Time order) from Get Records pages;
        returns the ids of the rows filled. If the pages fail first, `failed` says why and only
        the rows matched until then are filled."""
        if not rows:
            return set()
        last = instant(rows[-1].get(REPLICATION_KEY))
        try:
            while not self._ended and (last is None or self._last is None or self._last <= last):
                self._window(rows)
        except BaseException as exc:  # raised by the caller, after the rows matched
            self.failed = exc
        first = instant(rows[0].get(REPLICATION_KEY))
        filled: set[str] = set()
        for row in rows:
            key = str(row["id"])
            record = self._held.get(key)
            if record is None or instant(record.get(REPLICATION_KEY)) != instant(
                    row.get(REPLICATION_KEY)):
                continue  # edited between the reads, or not listed: read by `ids=`
            del self._held[key]
            row.update((name, record.get(name)) for name in self.copy)
            filled.add(key)
        if first is not None:
            # COQL is past these: a record edited since comes again later, on both sides.
            self._held = {k: r for k, r in self._held.items()
                          if (at := instant(r.get(REPLICATION_KEY))) is None or at >= first}
        return filled

    def _window(self, rows: list[dict[str, Any]]) -> None:
        """Get Records pages from the last second read (the first row's, or `since`, at the
        start), as many at once as the rows from there need."""
        start = self._from or instant(rows[0].get(REPLICATION_KEY))
        since = start.replace(microsecond=0).isoformat() if start else self.since
        ahead = sum(1 for row in rows if start is None or (
            (at := instant(row.get(REPLICATION_KEY))) is not None and at >= start))
        count = min(DISCRETE_PAGE_LIMIT // self.pages.per_page, ahead // self.pages.per_page + 1)
        read = list(self._pool.map(lambda n: self._page(RecordsPage(page=n, modified_since=since)),
                                   range(1, count + 1)))
        records = [record for page, _ in read for record in page]
        for record in records:
            self._held[str(record["id"])] = record
        latest = max((at for r in records if (at := instant(r.get(REPLICATION_KEY)))),
                     default=None)
        if not read[-1][1] or latest is None:
            self._ended = True
            return
        # The next window starts at the last second read (its records may go on past the
        # window); one that got no further (a second holding more than a window reaches)
        # goes on from the next second, and that second's other rows are read by `ids=`.
        start = latest.replace(microsecond=0)
        self._from = start if self._from is None or start > self._from else (
            self._from + timedelta(seconds=1))
        self._last = latest if self._last is None else max(latest, self._last)

    def _page(self, page: RecordsPage) -> tuple[list[dict[str, Any]], bool]:
        while True:
            try:
                return self.pages.page(page)
            except ZohoAPIError as exc:
                # A field removed in Zoho since discovery: null from now on, as on REST.
                gone = gone_field(exc)
                with self._lock:  # the window's other pages meet it too
                    if gone in self._dropped:
                        continue
                    if gone is None or gone not in self.fields or not self.drop_gone(exc):
                        raise
                    self.fields.remove(gone)
                    self._dropped.add(gone)

    def close(self) -> None:
        """The COQL read ended or failed: no more pages."""
        self._pool.shutdown(wait=True, cancel_futures=True)
