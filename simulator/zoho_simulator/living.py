"""A living org: records that change while a sync reads them, and how page tokens then behave.

* `Churn`: records edited, deleted and created between Get Records page calls of a module (a
  control that runs during a sync), deterministic for a seed: counted in page calls, not time.
* Page tokens are keyset positions by default (a token resumes after the last record it
  served); with the `positional_page_tokens` switch they are offsets, like `page`, so an edit
  or delete behind the read position shifts the rest by one.
* `crowd_second`: many records sharing one Modified_Time second, across page boundaries.
* `check_deleted_page_cap`: a discrete page cap on `/{module}/deleted` (switch).
* `notes_ignore_paging`: v8 Notes that ignore If-Modified-Since and page_token (switch).
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .records import Rec, fmt_dt

if TYPE_CHECKING:
    from .org import Org

OPERATIONS = ("edit", "delete", "create")


@dataclass
class ChurnPlan:
    per_call: int
    rng: random.Random
    step: int = 0
    # Each record changes at most once, so a test can tell its latest values apart: two edits
    # within one second would share a Modified_Time.
    touched: set[int] = field(default_factory=set)
    done: dict[str, list[str]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})


class Churn:
    """Edits, deletes and creates `per_call` records of a module before each of its Get
    Records page calls (list calls; `ids=` calls change nothing), in turn."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.lock = threading.Lock()
        self.plans: dict[str, ChurnPlan] = {}

    def start(self, module: str, per_call: int = 3, seed: int = 0) -> None:
        if per_call < 1:
            raise ValueError("per_call must be >= 1")
        self.org.changes.stored(module)  # KeyError for a module without records of its own
        with self.lock:
            self.plans[module] = ChurnPlan(per_call, random.Random(f"churn:{seed}:{module}"))

    def stop(self, module: str | None = None) -> dict[str, dict[str, list[str]]]:
        """Stop churning (one module or all); returns what was done, by module."""
        with self.lock:
            names = [module] if module else list(self.plans)
            return {name: plan.done for name in names
                    if (plan := self.plans.pop(name, None)) is not None}

    def summary(self) -> dict[str, dict[str, list[str]]]:
        with self.lock:
            return {name: {op: list(ids) for op, ids in plan.done.items()}
                    for name, plan in self.plans.items()}

    def before_page(self, module: str) -> None:
        with self.lock:
            plan = self.plans.get(module)
            if plan is None:
                return
            for _ in range(plan.per_call):
                op = OPERATIONS[plan.step % len(OPERATIONS)]
                plan.step += 1
                self._apply(module, plan, op)

    def _apply(self, module: str, plan: ChurnPlan, op: str) -> None:
        org = self.org
        if op == "create":
            rid = int(org.changes.create_record(module)["id"])
            plan.touched.add(rid)
            plan.done[op].append(str(rid))
            return
        with org.lock:
            candidates = sorted(set(org.modules[module].recs) - plan.touched)
        if not candidates:
            return
        rid = plan.rng.choice(candidates)
        plan.touched.add(rid)
        if op == "edit":
            org.changes.update_record(module, rid)
        else:
            org.changes.delete_record(module, rid)
        plan.done[op].append(str(rid))


def record_key(sort_by: str, desc: bool) -> Callable[[Rec], Any]:
    """The order Get Records answers in (see org.sort_recs): ties broken by id ascending."""
    if sort_by == "id":
        return (lambda r: -r.id) if desc else (lambda r: r.id)
    attr = {"Created_Time": "ct", "Modified_Time": "mt"}[sort_by]
    if desc:
        return lambda r: (-getattr(r, attr), r.id)
    return lambda r: (getattr(r, attr), r.id)


def keyset_start(recs: list[Rec], after: Any, sort_by: str, desc: bool) -> int:
    """Index of the first record after `after` (the key of the last record a token served)."""
    return bisect_right(recs, after, key=record_key(sort_by, desc))


def crowd_second(org: Org, module: str, count: int, at: float | None = None) -> str:
    """Give `count` records of a module (spread over its Modified_Time order) one Modified_Time
    second: the middle record's unless `at` is given. Returns that second."""
    with org.lock:
        recs = list(org.modules[module].sorted_recs("Modified_Time", False))
    if not 0 < count <= len(recs):
        raise ValueError(f"count must be 1..{len(recs)}")
    step = len(recs) / count
    chosen = [recs[int(i * step)] for i in range(count)]
    second = fmt_dt(at if at is not None else chosen[count // 2].mt)
    for rec in chosen:
        org.changes.update_record(module, rec.id, {"Modified_Time": second})
    return second


def check_deleted_page_cap(cap: int | None, start: int, per_page: int) -> None:
    """The `deleted_page_cap` switch: `/{module}/deleted` reaches only its first `cap` entries
    with `page`, as Get Records does (whether Zoho caps it is undocumented)."""
    from .api_types import ApiError

    if cap and start + per_page > cap:
        raise ApiError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                       f"You can only get the first {cap} records without using page_token "
                       "param.", {"limit": cap})


def notes_ignore_paging(config: dict[str, Any], module: str, version: float) -> bool:
    """The `notes_v8_plain` switch: on v8, GET /Notes takes neither If-Modified-Since nor
    page_token (the v8 OpenAPI lists neither for it): both are ignored, no token is issued."""
    return bool(config.get("notes_v8_plain")) and module == "Notes" and version >= 8
