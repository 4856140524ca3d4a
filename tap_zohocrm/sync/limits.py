"""Zoho's limits, enforced on our side: concurrent calls per org and API credits per run.

Zoho counts concurrency per org and app (5 on the smallest edition) and credits per rolling
24 h shared by every integration of the org, so the tap caps both across all its streams.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator

import requests

from tap_zohocrm.sync.stop import CHECK_SECONDS, RunStop

CREDITS_HEADER = "X-API-CREDITS-REMAINING"
# Credits per call (Zoho API limits page); 1 unless listed.
_CREDIT_COSTS = (("/deleted", 2), ("/bulk/", 50))


# Zoho answers 429 TOO_MANY_REQUESTS, without Retry-After, both to too many calls in flight and
# once the org's 24-hour credits are used up. The day counts as used up when Zoho's credits
# header says this few are left, or when one call got this many 429s in a row (after backoffs of
# 2, 4 and 8 s at the default retry_backoff_seconds) while no call of the run got through: too
# many calls in flight clear within seconds, an exhausted day does not.
EXHAUSTED_CREDITS = 10
PERSISTENT_429_TRIES = 4


class CreditBudgetReached(Exception):
    """The run's credit budget or the org's reserve is reached: stop cleanly, resumably."""


class DailyCreditsExhausted(CreditBudgetReached):
    """The org's API credits for the day are used up: stop, resumably, and fail the run."""


# COQL costs by its LIMIT: up to 200 rows 1 credit, up to 1,000 2, up to 2,000 3.
COQL_CREDITS = ((200, 1), (1000, 2), (2000, 3))
COQL_DEFAULT_LIMIT = 200
# COQL is in Zoho's sub-concurrency group: this many calls in flight at most, on every edition.
COQL_CONCURRENCY = 10
_LIMIT = re.compile(rb"\blimit\s+(?:\d+\s*,\s*)?(\d+)", re.IGNORECASE)


def is_coql(path: str) -> bool:
    return path.split("?")[0].endswith("/coql")


def coql_credits(limit: int) -> int:
    """Credits of a COQL query with this LIMIT."""
    return next((cost for most, cost in COQL_CREDITS if limit <= most), COQL_CREDITS[-1][1])


def call_cost(method: str, path: str, body: bytes | str | None = None) -> int:
    """Credits one call costs (`body`: a COQL query's, for its LIMIT)."""
    if is_coql(path):
        raw = body.encode() if isinstance(body, str) else body or b""
        found = _LIMIT.search(raw)
        return coql_credits(int(found.group(1)) if found else COQL_DEFAULT_LIMIT)
    if "/bulk/" in path and method.upper() != "POST":
        return 1  # polling and downloads of a Bulk Read job
    for marker, cost in _CREDIT_COSTS:
        if marker in path:
            return cost
    return 1


class ApiLimits:
    """Shared by every stream of one tap process."""

    def __init__(
        self, *, max_concurrency: int, max_api_credits: int | None, credits_reserve: int,
        stop: RunStop | None = None,
    ) -> None:
        self.call_slots = threading.BoundedSemaphore(max_concurrency)
        self.coql_slots = threading.BoundedSemaphore(min(max_concurrency, COQL_CONCURRENCY))
        self.stop = stop or RunStop()
        self.max_api_credits = max_api_credits
        self.credits_reserve = credits_reserve
        self.credits_used = 0
        self.credits_remaining: int | None = None  # last X-API-CREDITS-REMAINING seen
        self.day_exhausted: str | None = None  # why the day's credits count as used up
        self._last_success = 0.0  # time.monotonic() of the last answer that was no error
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def call_slot(self, path: str = "") -> Iterator[None]:
        """One of the run's `max_concurrency` call slots, held for one call, and for a COQL
        query one of its sub-concurrency slots too; waiting ends in RunStopped once the run is
        stopped."""
        slots = [self.coql_slots, self.call_slots] if is_coql(path) else [self.call_slots]
        taken: list[threading.BoundedSemaphore] = []
        try:
            for slot in slots:
                self.stop.check()
                while not slot.acquire(timeout=CHECK_SECONDS):
                    self.stop.check()
                taken.append(slot)
            yield
        finally:
            for slot in reversed(taken):
                slot.release()

    def reserve(self, method: str, path: str, body: bytes | str | None = None) -> int:
        """Account for a call about to be made, or raise if the budget does not allow it
        (RunStopped once the run is stopped: no call starts after a stop)."""
        cost = call_cost(method, path, body)
        self.stop.check()
        with self._lock:
            if self.day_exhausted:
                raise DailyCreditsExhausted(self.day_exhausted)
            self._check_budget(cost)
            if (
                self.credits_reserve
                and self.credits_remaining is not None
                and self.credits_remaining - cost < self.credits_reserve
            ):
                msg = (
                    f"Zoho reports {self.credits_remaining} API credits left today, at the "
                    f"reserve of {self.credits_reserve} kept for other integrations "
                    "(api_credits_reserve)"
                )
                raise CreditBudgetReached(msg)
            self.credits_used += cost
        return cost

    def check_headroom(self, credits: int) -> None:
        """Raise if the budget cannot cover `credits` more (calls already promised included)."""
        with self._lock:
            self._check_budget(credits)

    def _check_budget(self, credits: int) -> None:
        if self.max_api_credits is not None and self.credits_used + credits > self.max_api_credits:
            msg = (
                f"the run's credit budget is spent ({self.credits_used} of max_api_credits "
                f"{self.max_api_credits} used, {credits} more needed to go on)"
            )
            raise CreditBudgetReached(msg)

    def observe(self, response: requests.Response) -> None:
        """Read the org's remaining daily credits when Zoho reports them."""
        if response.status_code < 400:
            self._last_success = time.monotonic()
        value = response.headers.get(CREDITS_HEADER)
        if value is None:
            return
        try:
            remaining = int(value)
        except ValueError:
            return
        with self._lock:
            self.credits_remaining = remaining

    def too_many_requests(self, response: requests.Response, tries: int,
                          first_429_at: float) -> None:
        """A call got 429 on its `tries`-th try (its first 429 at `first_429_at`, monotonic):
        raise DailyCreditsExhausted when that means the day's credits are used up."""
        self.observe(response)
        with self._lock:
            remaining = self.credits_remaining
            if remaining is not None and remaining <= EXHAUSTED_CREDITS:
                why = f"Zoho reports {remaining} API credits left"
            elif tries >= PERSISTENT_429_TRIES and self._last_success < first_429_at:
                why = (f"{tries} answers 429 in a row, and no call of this run got through "
                       "meanwhile")
            else:
                return  # too many calls in flight: back off and retry
            if not self.day_exhausted:
                self.day_exhausted = (
                    f"the org's API credits for the day are used up ({why}); Zoho counts "
                    "them over 24 hours, shared by every integration of the org"
                )
            raise DailyCreditsExhausted(self.day_exhausted)
