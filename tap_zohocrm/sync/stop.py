"""A run stopped by SIGTERM or SIGINT: no new calls, no more waiting, the last STATE, an exit.

The signal handler only tells a watchdog thread, started with the sync, which stops the run
(`RunStop`). From then on the call gate refuses new calls and every wait of the run (backoff,
Bulk Read polls, token-request waits, page queues, the main thread waiting for module threads)
ends by raising RunStopped instead of waiting on. The main thread then ends the run
(`end_stopped_run`): it writes the last STATE and exits at once, abandoning calls still in
flight. If the main thread is itself inside a call Zoho answers slowly, the watchdog ends the
run instead once `GRACE_SECONDS` have passed; a second signal ends it at once.

The last STATE is the tap's state as it stands under the run's `state_lock`: every stream
writes a record before its bookmark moves past it, so this STATE covers only records already
written. No message follows it: a record read after it is read again by the next run. With
BATCH output the state also counts records in a file not yet written out, so no STATE is added:
the last one, written after a file, stands.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import queue
import select
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, wait
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from singer_sdk.singerlib import StateMessage

from tap_zohocrm.errors import RunStopped

if TYPE_CHECKING:
    from tap_zohocrm.sync.message_writer import BufferedMsgSpecWriter

T = TypeVar("T")

# How often a wait that cannot wait on the stop event itself (a future, a queue) looks at it.
CHECK_SECONDS = 0.1
# The main thread ends a stopped run within a fraction of a second unless it is inside a call;
# then the watchdog ends it after this long.
GRACE_SECONDS = 2.0
# The last STATE waits this long for a thread writing a message of its own.
LOCK_SECONDS = 1.0


class RunStop:
    """Whether the run was asked to stop; every wait of the run asks it."""

    def __init__(self) -> None:
        self._event = threading.Event()  # set by the watchdog: waits wait on it
        self._asked = False  # set by the signal handler itself: the call gate sees it at once
        self.signum: int | None = None
        self._signals: tuple[int, int] | None = None  # a pipe: the handler to the watchdog

    @property
    def requested(self) -> bool:
        return self._asked or self._event.is_set()

    def watch(self, end: Callable[[], Any]) -> None:
        """Start the watchdog thread, before any signal can stop the run. On the first signal
        it stops the run; if the run has not ended GRACE_SECONDS later (or on a second
        signal), it calls `end`."""
        self._signals = os.pipe()
        read_end = self._signals[0]

        def watchdog() -> None:
            os.read(read_end, 1)
            self._event.set()
            select.select([read_end], [], [], GRACE_SECONDS)
            end()

        threading.Thread(target=watchdog, name="zoho-stop", daemon=True).start()

    def request(self, signum: int) -> None:
        """Stop the run; called from the signal handler, in the main thread, between any two
        of its steps. So it takes no lock (the main thread may hold the one it would wait
        for) and starts no thread: one byte to the watchdog, which does the rest."""
        self.signum = self.signum or signum
        self._asked = True
        if self._signals is None:  # no watchdog (a test calling this directly)
            self._event.set()
            return
        os.write(self._signals[1], b"!")

    def check(self) -> None:
        """Raise RunStopped once the run is stopped."""
        if self.requested:
            raise RunStopped(self.signum or 0)

    def sleep(self, seconds: float) -> None:
        """Sleep, cut short by a stop (then RunStopped)."""
        self.check()
        if self._event.wait(max(0.0, seconds)):
            self.check()

    def result(self, future: Future[T]) -> T:
        """The future's result, unless the run is stopped first."""
        while True:
            self.check()
            with contextlib.suppress(TimeoutError):
                return future.result(timeout=CHECK_SECONDS)

    def get(self, items: queue.Queue[T]) -> T:
        """The queue's next item, unless the run is stopped first."""
        while True:
            self.check()
            with contextlib.suppress(queue.Empty):
                return items.get(timeout=CHECK_SECONDS)

    def wait_all(self, futures: Iterable[Future[Any]]) -> None:
        """Wait until every future is done, unless the run is stopped first."""
        pending = set(futures)
        while pending:
            self.check()
            _, pending = wait(pending, timeout=CHECK_SECONDS)


_ENDING = threading.Lock()


def end_stopped_run(stop: RunStop, state_lock: threading.RLock,
                    state: Callable[[], Mapping[str, Any] | None], writer: BufferedMsgSpecWriter,
                    logger: logging.Logger) -> NoReturn:
    """Write the last STATE (`state()`; None: none after the last one written), log why the
    run stopped and exit with the signal's code, without waiting for calls in flight.

    The interpreter's own exit would wait for every thread of the run's thread pools, some of
    them inside calls that end only when Zoho answers or the read timeout passes: os._exit.
    """
    _ENDING.acquire()  # for good: the main thread and the watchdog may both get here
    stopped = RunStopped(stop.signum or 0)
    if state_lock.acquire(timeout=LOCK_SECONDS):
        try:
            value = state()
            last = None if value is None else StateMessage(value=copy.deepcopy(value))
            writer.write_last(last, timeout=LOCK_SECONDS)
        finally:
            state_lock.release()
    else:  # a thread is stuck writing a STATE of its own (a target not reading its input)
        writer.write_last(None, timeout=LOCK_SECONDS)
    logger.warning(
        "Stopped by %s: no further API calls, calls in flight abandoned; the next run "
        "resumes from the last STATE this run wrote (records read after it are read again, "
        "none are lost). Exit code %d.",
        stopped.signal_name, stopped.exit_code)
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    logging.shutdown()
    os._exit(stopped.exit_code)
