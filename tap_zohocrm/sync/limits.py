"""Zoho's limits, enforced on our side: concurrent calls per org and API credits per run.

Zoho counts concurrency per org and app (5 on the smallest edition) and credits per rolling
24 h shared by every integration of the org, so the tap caps both across all its streams.
"""

from __future__ import annotations

import threading

import requests

CREDITS_HEADER = "X-API-CREDITS-REMAINING"
# Credits per call (Zoho API limits page); 1 unless listed.
_CREDIT_COSTS = (("/deleted", 2), ("/bulk/", 50))


class CreditBudgetReached(Exception):
    """The run's credit budget or the org's reserve is reached: stop cleanly, resumably."""


def call_cost(method: str, path: str) -> int:
    """Credits one call costs."""
    if "/bulk/" in path and method.upper() != "POST":
        return 1  # polling and downloads of a Bulk Read job
    for marker, cost in _CREDIT_COSTS:
        if marker in path:
            return cost
    return 1


class ApiLimits:
    """Shared by every stream of one tap process."""

    def __init__(
        self, *, max_concurrency: int, max_api_credits: int | None, credits_reserve: int
    ) -> None:
        self.call_slots = threading.BoundedSemaphore(max_concurrency)
        self.max_api_credits = max_api_credits
        self.credits_reserve = credits_reserve
        self.credits_used = 0
        self.credits_remaining: int | None = None  # last X-API-CREDITS-REMAINING seen
        self._lock = threading.Lock()

    def reserve(self, method: str, path: str) -> int:
        """Account for a call about to be made, or raise if the budget does not allow it."""
        cost = call_cost(method, path)
        with self._lock:
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
        value = response.headers.get(CREDITS_HEADER)
        if value is None:
            return
        try:
            remaining = int(value)
        except ValueError:
            return
        with self._lock:
            self.credits_remaining = remaining
