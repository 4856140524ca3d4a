"""Fault injection rules, request statistics and the request log."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class FaultRule:
    pattern: re.Pattern[str]
    status: int = 500
    remaining: int | None = 1  # None = fire forever
    probability: float = 1.0
    delay: float = 0.0
    truncate: bool = False
    retry_after: int | str | None = None  # a str is sent as is (an unparsable header)
    # An answer that is not Zoho's (a proxy's, a hiccup's): sent as is, with `status`.
    body: str | None = None
    content_type: str = "application/json;charset=utf-8"
    query_regex: re.Pattern[str] | None = None  # matched against the query string too
    after: int = 0  # matching requests let through before the rule fires


class Faults:
    def __init__(self, seed: int) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(f"{seed}:faults")  # seeded: probabilistic runs reproduce
        self.rules: list[FaultRule] = []

    def add(self, path_regex: str, status: int = 500, count: int | None = 1,
            probability: float = 1.0, delay: float = 0.0, truncate: bool = False,
            retry_after: int | str | None = None, body: str | None = None,
            content_type: str | None = None, query_regex: str | None = None,
            after: int = 0) -> None:
        rule = FaultRule(re.compile(path_regex), status, count, probability, delay, truncate,
                         retry_after, body,
                         content_type or FaultRule.content_type,
                         re.compile(query_regex) if query_regex is not None else None, after)
        with self.lock:
            self.rules.append(rule)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def match(self, path: str, query: str = "") -> FaultRule | None:
        """The rule that fires for this request, if any (consumes one of its `count`)."""
        with self.lock:
            for rule in self.rules:
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                if not rule.pattern.search(path):
                    continue
                if rule.query_regex is not None and not rule.query_regex.search(query):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
            return None


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.coql_in_flight = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.api_calls = 0
            self.token_requests = 0
            self.tokens_issued_base = 0
            self.max_concurrent = self.in_flight
            self.max_concurrent_coql = self.coql_in_flight
            self.coql_refused = 0
            self.by_endpoint: dict[str, int] = {}
            self.credits_used = 0
            self.log: list[dict[str, Any]] = []

    def enter(self) -> int:
        """Count a call in; returns the calls now in flight, this one included."""
        with self.lock:
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
            return self.in_flight

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def enter_coql(self, limit: int | None) -> bool:
        """Count a COQL call in, unless `limit` are in flight already (then it is refused)."""
        with self.lock:
            if limit is not None and self.coql_in_flight >= limit:
                self.coql_refused += 1
                return False
            self.coql_in_flight += 1
            self.max_concurrent_coql = max(self.max_concurrent_coql, self.coql_in_flight)
            return True

    def leave_coql(self) -> None:
        with self.lock:
            self.coql_in_flight -= 1

    def record(self, entry: dict[str, Any], *, api: bool, token: bool, credits: int = 1) -> None:
        key = f"{entry['method']} {entry['path']}"
        with self.lock:
            self.by_endpoint[key] = self.by_endpoint.get(key, 0) + 1
            if api:
                self.api_calls += 1
                # Get Records, metadata, users, org, notes, attachments: 1 credit each;
                # Get Deleted Records: 2 (the caller passes the cost).
                self.credits_used += credits
            if token:
                self.token_requests += 1
            self.log.append(entry)

    def snapshot(self, tokens_issued: int) -> dict[str, Any]:
        with self.lock:
            return {"api_calls": self.api_calls, "token_requests": self.token_requests,
                    "tokens_issued": tokens_issued - self.tokens_issued_base,
                    "max_concurrent": self.max_concurrent,
                    "max_concurrent_coql": self.max_concurrent_coql,
                    "coql_refused": self.coql_refused,
                    "by_endpoint": dict(self.by_endpoint), "credits_used": self.credits_used}

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.log]
