"""`--plan`: what a sync would read and cost, before running it.

For the selected streams and the given state it asks Zoho for each module's record count with
the sync's own filter (the count action, 1 credit each) and the org's edition (`/org`), then
computes the calls and credits of the sync from Zoho's paging rules. Subform and linking modules
count whole, whatever the state: every run reads them in full; so do modules due for a
computed-values refresh or the deleted-records check. Org metadata streams that the
state shows were read less than `metadata_refresh_hours` ago count no call: the sync would not
read them. It writes no Singer messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tap_zohocrm.sync.limits import CREDITS_HEADER

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_zohocrm.sync.run import ZohoRun

# Daily credits by edition (Zoho API limits page): base + per user license, capped.
EDITION_CREDITS = {
    "free": (5_000, 0, 5_000),
    "standard": (50_000, 250, 100_000),
    "starter": (50_000, 250, 100_000),
    "professional": (50_000, 500, 3_000_000),
    "enterprise": (50_000, 1_000, 5_000_000),
    "zohoone": (50_000, 1_000, 5_000_000),
    "ultimate": (50_000, 2_000, None),
    "crmplus": (50_000, 2_000, None),
}


@dataclass(frozen=True)
class CostRow:
    """What one stream of the sync will read and cost (a row of `--plan`)."""

    stream: str
    calls: int
    credits: int
    records: int | None = None  # None: not a module's records
    note: str = ""
    read_path: str | None = None  # a module's: rest, coql or bulk (reads/plan.py)
    computed_refresh: bool = False  # read in full for computed values
    deleted_id_check: bool = False  # read in full for the deleted-records check
    # Modules whose deleted listing is due only if the recycle bin shows a deletion.
    recycle_bin_checks: frozenset[str] = frozenset()


class Costs(Protocol):
    """A stream that says what its sync will cost (None: no row of its own)."""

    def cost_row(self) -> CostRow | None: ...


def daily_allowance(org: dict[str, Any]) -> int | None:
    license_details = org.get("license_details") or {}
    edition = str(license_details.get("paid_type") or "").lower().replace(" ", "")
    if edition not in EDITION_CREDITS:
        return None
    base, per_user, cap = EDITION_CREDITS[edition]
    total = base + per_user * int(license_details.get("users_license_purchased") or 0)
    return min(total, cap) if cap else total


def make_plan(streams: Iterable[Costs], run: ZohoRun, org: list[dict[str, Any]]
              ) -> dict[str, Any]:
    """The plan of a sync of the selected `streams`; `org` is Zoho's answer to `/org`."""
    rows = [row for stream in streams if (row := stream.cost_row()) is not None]
    rows.sort(key=lambda row: row.records is None)  # the modules first
    # The sync's own calls before any stream: settings/modules (catalog mode) and who the
    # token's user is (users?type=CurrentUser).
    rows.insert(0, CostRow("(metadata)", calls=2, credits=2))
    checked = frozenset().union(*(row.recycle_bin_checks for row in rows))
    if checked:  # the listings the recycle bin shows are due come on top
        rows.append(CostRow("(recycle bin)", calls=1, credits=1,
                            note=f"+ 1 call (2 credits) per module of {len(checked)} with a "
                                 "deletion since its last listing"))
    allowance = daily_allowance(org[0]) if org else None
    total_credits = sum(r.credits for r in rows)
    return {
        "streams": [_row_dict(row) for row in rows],
        "records": sum(r.records or 0 for r in rows),
        "api_calls": sum(r.calls for r in rows),
        "credits": total_credits,
        "token_requests": 1,
        # Streams read in full again this run (computed_refresh_days), included above.
        "computed_refresh": _part([r for r in rows if r.computed_refresh]),
        # Streams read in full for the deleted-records check (deleted_id_check_hours), above.
        "deleted_id_check": _part([r for r in rows if r.deleted_id_check]),
        "daily_credit_allowance": allowance,
        "credits_remaining_today": run.limits.credits_remaining,
        "share_of_allowance": round(total_credits / allowance, 4) if allowance else None,
    }


def _row_dict(row: CostRow) -> dict[str, Any]:
    out: dict[str, Any] = {"stream": row.stream, "records": row.records, "calls": row.calls,
                           "credits": row.credits}
    if row.read_path is not None:
        out["read_path"] = row.read_path
    if row.records is not None:
        out.update(note=row.note, computed_refresh=row.computed_refresh,
                   deleted_id_check=row.deleted_id_check)
    elif row.note:
        out["note"] = row.note
    return out


def _part(rows: list[CostRow]) -> dict[str, Any]:
    return {"streams": [r.stream for r in rows], "records": sum(r.records or 0 for r in rows),
            "calls": sum(r.calls for r in rows), "credits": sum(r.credits for r in rows)}


def format_plan(plan: dict[str, Any]) -> str:
    lines = [f"{'stream':<24}{'records':>10}{'API calls':>11}{'credits':>9}  path  note"]
    for row in plan["streams"]:
        records = "" if row["records"] is None else str(row["records"])
        lines.append(f"{row['stream']:<24}{records:>10}{row['calls']:>11}{row['credits']:>9}"
                     f"  {row.get('read_path') or '':<6}{row.get('note', '')}".rstrip())
    lines.append(f"{'total':<24}{plan['records']:>10}{plan['api_calls']:>11}{plan['credits']:>9}")
    refresh = plan["computed_refresh"]
    if refresh["streams"]:
        lines.append(
            f"Computed-values refresh (formula, rollup summary and lookup values change without "
            f"Modified_Time; computed_refresh_days): {', '.join(refresh['streams'])} read in "
            f"full: {refresh['records']} records, {refresh['calls']} calls, "
            f"{refresh['credits']} credits (included above)."
        )
    check = plan["deleted_id_check"]
    if check["streams"]:
        lines.append(
            f"Deleted-records check (ACTIVATE_VERSION after a full read: the loader flags the "
            f"rows Zoho no longer has; deleted_id_check_hours): {', '.join(check['streams'])}: "
            f"{check['records']} records, {check['calls']} calls, {check['credits']} credits "
            f"(included above)."
        )
    if plan["daily_credit_allowance"]:
        lines.append(
            f"Daily API credit allowance (edition and licenses): {plan['daily_credit_allowance']}"
            f"; this run would use {100 * plan['share_of_allowance']:.2f}% of it."
        )
    if plan["credits_remaining_today"] is not None:
        lines.append(f"Zoho reports {plan['credits_remaining_today']} credits left today "
                     f"({CREDITS_HEADER}).")
    lines.append("ZOHO_RUN_PLAN " + json.dumps(plan, separators=(",", ":")))
    return "\n".join(lines)
