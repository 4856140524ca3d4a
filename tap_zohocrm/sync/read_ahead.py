"""Latency hiding: read ahead in background threads while the main thread emits.

The SDK syncs streams one after another and requests one page at a time. Here each module's
page chain runs in its own thread a few pages ahead, the other field groups and rich-text
re-reads of each page run in a shared pool, and the next modules in sync order start reading
while the current one is emitted. Output order is unchanged: pages are handed to the SDK in
order, one stream after another, so STATE messages stay exactly as the sequential run's. Every
HTTP call still passes the process-wide `max_concurrency` gate (`ApiLimits.call_slots`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

from tap_zohocrm.sync.stop import RunStop

PAGES_AHEAD = 4  # per module: bounds memory to a few pages of records


@runtime_checkable
class ReadsAhead(Protocol):
    """A stream whose pages a producer thread may read before its sync takes them."""

    name: str

    @property
    def reads_ahead(self) -> bool:
        """Whether the read-ahead may start its pages early (in sync order)."""
        ...

    def produce_pages(self, feed: PageFeed) -> None:
        """Producer thread: put the sync's feed items (sync.feed_items) on `feed`, in order."""
        ...


class FeedClosed(Exception):
    """The consumer went away (end of sync, record limit, failure)."""


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


class PageFeed:
    """A producer thread putting page futures into a bounded queue, read in order."""

    def __init__(self, name: str, produce: Callable[[PageFeed], None],
                 ahead: int = PAGES_AHEAD, stop: RunStop | None = None) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self._stop = stop or RunStop()
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name=f"zoho-{name}", daemon=True
        )
        self._thread.start()

    def put(self, item: Any) -> None:
        """Queue an item; raises FeedClosed once the consumer has gone."""
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise FeedClosed

    def _run(self, produce: Callable[[PageFeed], None]) -> None:
        try:
            produce(self)
            self.put(_DONE)
        except FeedClosed:
            return
        except BaseException as exc:  # handed to the consumer, raised in the main thread
            try:
                self.put(_Failure(exc))
            except FeedClosed:
                return

    def __iter__(self) -> Iterator[Future]:
        while True:
            item = self._stop.get(self._queue)  # a stop ends the wait for the next page
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def close(self) -> None:
        self._closed.set()


class ReadAhead:
    """Starts each module's feed, and the next modules' feeds, in the tap's sync order."""

    def __init__(self, *, window: int, workers: int, stop: RunStop | None = None) -> None:
        self.window = max(1, window)
        self.stop = stop or RunStop()
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="zoho")
        # For calls a pool task fans out (per-record re-reads): never the task's own pool.
        self.side_pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                            thread_name_prefix="zoho-side")
        self._feeds: dict[str, PageFeed] = {}
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def feed_for(self, stream: ReadsAhead, order: Sequence[ReadsAhead]) -> PageFeed:
        """The feed of `stream`, starting it and the next `window - 1` streams' if needed."""
        with self._lock:
            ahead = order[order.index(stream):][: self.window] if stream in order else [stream]
            for upcoming in ahead:
                # Once per stream and run: a module syncing in its own thread may have
                # taken its feed already; a second producer would share its paging state.
                if upcoming.name not in self._started:
                    self._started.add(upcoming.name)
                    self._feeds[upcoming.name] = PageFeed(upcoming.name, upcoming.produce_pages,
                                                          stop=self.stop)
            feed = self._feeds.pop(stream.name, None)
            # A stream synced again gets a new feed.
            return feed or PageFeed(stream.name, stream.produce_pages, stop=self.stop)

    def close(self) -> None:
        with self._lock:
            for feed in self._feeds.values():
                feed.close()
            self._feeds.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.side_pool.shutdown(wait=False, cancel_futures=True)
