"""What only Get Records gives (file and image uploads, columns COQL refuses, the `$` keys),
read beside a COQL read as Get Records pages of those fields alone: 200 records a credit, where
`ids=` calls give 100.

Both reads go in Modified_Time order, so the pages are read a little ahead of COQL's rows (a
thread of their own) and matched by (id, Modified_Time): a record edited between the two reads
has another Modified_Time on each side and is not matched. Unmatched rows are the caller's to
read by `ids=`, so a value is never taken from another version of its record.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.reads.field_groups import gone_field
from tap_zohocrm.reads.module_rules import REPLICATION_KEY
from tap_zohocrm.schema.values import instant

if TYPE_CHECKING:
    from datetime import datetime

    from tap_zohocrm.reads.rest_pages import RestPages

# Pages read ahead of COQL's rows (a COQL page of 2,000 rows needs ten): few, so that a run
# stopped by its credit budget has spent little on pages it does not use.
PAGES_AHEAD = 2
_END = object()


class RestFields:
    """One sync's Get Records pages of `fields` from `since`, matched to COQL's rows.

    `pages` is the page chain (asking for `fields` at each call); `copy` names the keys a
    matched row takes from its REST record (the fields and the selected `$` keys);
    `drop_gone` says whether an error names a field removed in Zoho (dropped then)."""

    def __init__(self, pages: RestPages, *, since: str | None, fields: list[str],
                 copy: list[str], drop_gone: Callable[[ZohoAPIError], bool]) -> None:
        self.fields = fields  # the page chain asks for these at each call
        self.copy = copy
        self.drop_gone = drop_gone
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=PAGES_AHEAD)
        self._held: dict[str, dict[str, Any]] = {}  # read, not matched yet: by id
        self._last: datetime | None = None  # Modified_Time of the last REST record read
        self._ended = False
        # Why the pages ended early (a failed call, the credit budget): the rows matched
        # before it can still go out, then the read fails with it.
        self.failed: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(pages, since), daemon=True,
                                        name="rest-fields")
        self._thread.start()

    def _read(self, pages: RestPages, since: str | None) -> None:
        start = RecordsPage(modified_since=since)
        try:
            while True:
                try:
                    for page in pages.pages(start):
                        if not self._put(page):
                            return
                    break
                except ZohoAPIError as exc:
                    # A field removed in Zoho since discovery: null from now on, as on REST.
                    if (gone := gone_field(exc)) not in self.fields or not self.drop_gone(exc):
                        raise
                    self.fields.remove(gone)
                    start = RecordsPage(modified_since=pages.anchor.last_modified or since,
                                        query=start.query + 1)
            self._put(_END)
        except BaseException as exc:  # raised again where the rows are matched
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def match(self, rows: list[dict[str, Any]]) -> set[str]:
        """Fill these rows (a COQL page, in Modified_Time order) from the REST pages; returns
        the ids of the rows filled. Reads pages until they pass the last row's Modified_Time;
        if they fail first, `failed` says why and only the rows matched until then are filled."""
        if not rows:
            return set()
        last = instant(rows[-1].get(REPLICATION_KEY))
        while not self._ended and (last is None or self._last is None or self._last <= last):
            try:
                self._next_page()
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

    def _next_page(self) -> None:
        item = self._queue.get()
        if item is _END:
            self._ended = True
            return
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        for record in item:
            self._held[str(record["id"])] = record
        if item:
            self._last = instant(item[-1].get(REPLICATION_KEY)) or self._last

    def close(self) -> None:
        """Stop reading ahead (the COQL read ended or failed)."""
        self._stop.set()
        self._thread.join(timeout=5)
