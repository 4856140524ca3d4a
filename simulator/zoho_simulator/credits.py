"""Zoho's API limits as the org sees them: the day's credits and the calls in flight.

Zoho answers both "too many calls in flight" and "the 24-hour credit window is used up" with 429
TOO_MANY_REQUESTS and no Retry-After; it adds X-API-CREDITS-REMAINING once half of the day's
credits are spent.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .records import Clock

DAY_SECONDS = 24 * 3600.0
CREDITS_HEADER = "X-API-CREDITS-REMAINING"
EXHAUSTED_MESSAGE = "API credits for the day are exhausted"
CONCURRENCY_MESSAGE = "You have exceeded the concurrency limit. Please try again after some time."


# At most this many COQL calls in flight at once (Kaizen #203: COQL is in the sub-concurrency
# group of the heavy APIs, about 10); more get 429 like the org's concurrency limit.
COQL_CONCURRENCY = 10


def coql_credits(limit: int) -> int:
    """Credits of a COQL call by its LIMIT: 1-200 one, 201-1000 two, 1001-2000 three."""
    return 1 if limit <= 200 else 2 if limit <= 1000 else 3


def too_many_requests(message: str) -> dict[str, object]:
    return {"code": "TOO_MANY_REQUESTS", "details": {}, "message": message, "status": "error"}


class CreditWindow:
    """Credits spent in the current 24 hours of the simulated clock; a new day starts when
    those 24 hours have passed, or on `new_day()` (control call)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.spent = 0
        self.started = clock.now()

    def new_day(self) -> None:
        with self.lock:
            self.spent = 0
            self.started = self.clock.now()

    def _roll(self) -> None:
        if self.clock.now() - self.started >= DAY_SECONDS:
            self.spent = 0
            self.started = self.clock.now()

    def exhausted(self, daily: int | None) -> bool:
        with self.lock:
            self._roll()
            return daily is not None and self.spent >= daily

    def charge(self, daily: int | None, cost: int) -> dict[str, str]:
        """Spend `cost` credits; the headers Zoho adds to the answer."""
        if daily is None:
            return {}
        with self.lock:
            self._roll()
            self.spent += cost
            if self.spent * 2 >= daily:
                return {CREDITS_HEADER: str(max(daily - self.spent, 0))}
        return {}
