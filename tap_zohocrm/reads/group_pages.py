"""The other field groups of a Get Records read, from Get Records pages of those fields read
beside it (reads.rest_fields): 200 records a credit, where `ids=` calls give 100.

Zoho returns at most 50 fields a call, so a module of more than 50 selected fields is listed with
its first group, and the others are added. Each page beside asks Modified_Time too (rows are
matched by id and Modified_Time), so the other fields go in chunks of 49. Matching runs in a
thread of its own, page after page in the read's order (the windows of pages beside follow the
rows), while the read goes on; a row no page matched (edited between the reads) is completed by
`ids=`, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from tap_zohocrm.pagination import batched
from tap_zohocrm.reads.field_groups import FIELDS_BESIDE
from tap_zohocrm.reads.rest_fields import RestFields

if TYPE_CHECKING:
    from tap_zohocrm.errors import ZohoAPIError
    from tap_zohocrm.reads.rest_pages import RestPages

T = TypeVar("T")


def after_fills(fills: list[Future[frozenset[str]]], pool: ThreadPoolExecutor,
                task: Callable[[frozenset[str]], T]) -> Future[T]:
    """`task` run in the pool once every fill is done, given the ids they filled. No pool
    thread waits for a fill: the pool is the whole run's, and a waiting thread would hold back
    the other modules' pages."""
    out: Future[T] = Future()
    left = [len(fills)]
    lock = threading.Lock()

    def start() -> None:
        try:
            filled = frozenset[str]().union(*(fill.result() for fill in fills))
            pool.submit(task, filled).add_done_callback(lambda done: _settle(out, done))
        except BaseException as exc:  # a failed (or cancelled) fill fails the task's page
            out.set_exception(exc)

    def one_done(_: Future[frozenset[str]]) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        start()

    if not fills:
        start()
    for fill in fills:
        fill.add_done_callback(one_done)
    return out


def _settle(out: Future[T], done: Future[T]) -> None:
    try:
        out.set_result(done.result())
    except BaseException as exc:
        out.set_exception(exc)


class GroupPages:
    """One sync's pages beside its Get Records read, one reader per chunk of other fields."""

    def __init__(self, pages: Callable[[list[str]], RestPages], groups: list[list[str]], *,
                 since: str | None, drop_gone: Callable[[ZohoAPIError], bool]) -> None:
        others = [name for group in groups[1:] for name in group]
        # Each reader's pages ask for its list of fields: one list, so a field dropped (gone
        # from Zoho) is no longer asked for.
        chunks = [list(chunk) for chunk in batched(others, FIELDS_BESIDE)]
        self.readers = [RestFields(pages(chunk), since=since, fields=chunk, copy=list(chunk),
                                   drop_gone=drop_gone) for chunk in chunks]
        # In the read's order, one page at a time: a reader's windows follow the rows.
        self._order = ThreadPoolExecutor(1, thread_name_prefix="group-pages")
        self._chunks = ThreadPoolExecutor(max(1, len(self.readers)),
                                          thread_name_prefix="group-chunks")

    def fill(self, records: list[dict[str, Any]]) -> Future[frozenset[str]]:
        """Fill these records (the next page of the read) from the pages beside; the future
        gives the ids of those that got every other field (the rest go to `ids=`)."""
        return self._order.submit(self._fill, records)

    def _fill(self, records: list[dict[str, Any]]) -> frozenset[str]:
        matched = list(self._chunks.map(lambda reader: reader.match(records), self.readers))
        for reader in self.readers:
            if reader.failed is not None:
                raise reader.failed
        return frozenset.intersection(*map(frozenset, matched)) if matched else frozenset()

    def close(self) -> None:
        """The read ended or failed: the pages asked for are filled first (or fail as the read
        did, a credit budget's stop say), so every page read before goes out whole."""
        self._order.shutdown(wait=True)
        self._chunks.shutdown(wait=True)
        for reader in self.readers:
            reader.close()
