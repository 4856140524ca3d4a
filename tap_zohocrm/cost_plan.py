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
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tap_zohocrm.pagination import MAX_FIELDS_PER_CALL, MAX_IDS_PER_CALL
from tap_zohocrm.streams.attachments import AttachmentsStream
from tap_zohocrm.streams.deleted import DeletedRecordsStream
from tap_zohocrm.streams.metadata_reader import MetadataReader
from tap_zohocrm.streams.metadata_refresh import SETTING as METADATA_SETTING
from tap_zohocrm.streams.metadata_refresh import MetadataRefresh
from tap_zohocrm.streams.module import ModuleStream
from tap_zohocrm.streams.org import FieldsMetadataStream, UsersStream
from tap_zohocrm.streams.recycle_bin import due_whatever_it_shows
from tap_zohocrm.sync.limits import CREDITS_HEADER, call_cost
from tap_zohocrm.sync.state_checks import DELETIONS_LISTED_AT

if TYPE_CHECKING:
    from singer_sdk import Stream

    from tap_zohocrm.sync.run import ZohoRun

BULK_PAGE = 200_000  # records per Bulk Read job
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


ANCHOR_REPEATS = 5  # records a page carries again, on average, from the second it starts at


def module_calls(records: int, per_page: int, field_groups: int) -> int:
    """Get Records calls to read `records` records: pages, plus id-batched calls per extra
    field group of each page."""
    if records == 0:
        return 1  # the 304/204 answer
    calls = 0
    pages = math.ceil(records / per_page)
    for page in range(pages):
        on_page = min(per_page, records - page * per_page)
        calls += 1 + (field_groups - 1) * math.ceil(on_page / MAX_IDS_PER_CALL)
    # Each page starts at the last Modified_Time read: that second's records come again.
    return calls + (math.ceil(pages * ANCHOR_REPEATS / per_page) if pages > 1 else 0)


def daily_allowance(org: dict[str, Any]) -> int | None:
    license_details = org.get("license_details") or {}
    edition = str(license_details.get("paid_type") or "").lower().replace(" ", "")
    if edition not in EDITION_CREDITS:
        return None
    base, per_user, cap = EDITION_CREDITS[edition]
    total = base + per_user * int(license_details.get("users_license_purchased") or 0)
    return min(total, cap) if cap else total


def make_plan(streams: list[Stream], run: ZohoRun, metadata_reader: MetadataReader
              ) -> dict[str, Any]:
    """The plan of a sync of the selected `streams`."""
    modules = [s for s in streams if isinstance(s, ModuleStream)]
    rows: list[dict[str, Any]] = []
    checked: set[str] = set()  # modules listed only if the recycle bin shows a new deletion
    # The sync's own calls before any stream: settings/modules (catalog mode) and who the
    # token's user is (users?type=CurrentUser).
    rows.append({"stream": "(metadata)", "records": None, "calls": 2, "credits": 2})
    for stream in modules:
        expected = stream.expected_records()
        groups = max(1, len(stream.field_groups()))
        note = ""
        bulk = stream.uses_bulk_read()
        if bulk:
            # Per job of 200,000 records: create (50 credits), ~3 polls, 1 download; then
            # one REST call from the job's start.
            jobs = max(1, math.ceil(expected / BULK_PAGE))
            # Plus Record Count at the first job (rows compared with it), and the `ids=` calls
            # for the fields no export carries (file and image uploads).
            left_out = stream.bulk_left_out()
            fills = (math.ceil(expected / MAX_IDS_PER_CALL)
                     * math.ceil(len(left_out) / MAX_FIELDS_PER_CALL))
            calls, credits = jobs * 5 + 2 + fills, jobs * (50 + 4) + 2 + fills
            note = f"Bulk Read: {jobs} job(s), polls vary"
            if fills:
                note += f"; {fills} calls fill {', '.join(left_out)} (not exported)"
            note += ("; records the export lacks (converted, unapproved): 1 call per 200 "
                     "more")
        else:
            calls = module_calls(expected, int(run.config["per_page"]), groups)
            credits = calls
        if stream.counts_records and expected > int(run.config["per_page"]):
            # The sync's count call (progress), made when there is more than one page.
            calls += 1
            credits += 1
        if stream.emit_deletes and due_whatever_it_shows(
                run.config, stream.stream_state.get(DELETIONS_LISTED_AT)):
            calls += 1
            credits += call_cost("GET", "/deleted")
        elif stream.emit_deletes:
            checked.add(stream.api_name)
        if stream.rich_text_fields() and not bulk:  # an export carries rich text whole
            # v8 re-reads a page's cut rich text in one call; v7 one call per cut record.
            rereads = (math.ceil(expected / int(run.config["per_page"]))
                       if run.version.rich_text_per_page else expected)
            note = f"+ up to {rereads} rich-text re-reads"
        attachments = next((c for c in stream.child_streams if c.selected), None)
        if attachments is not None and stream.reads_attachments:
            calls += expected
            credits += expected
            # A refresh reads the attachments of records changed since the bookmark only.
            note += f" + {'up to ' if stream.refreshing else ''}{expected} attachment calls"
        ids_check = bool(stream.refreshing and stream.full_read and stream.full_read.ids_check)
        if ids_check:
            note = f"deleted-records check: read in full, then ACTIVATE_VERSION {note}"
        elif stream.refreshing:
            note = f"computed-values refresh: read in full {note}"
        if stream.reads_whole:  # no bookmark: every run reads it all
            note = f"read whole every run; {note}" if note else "read whole every run"
        rows.append({"stream": stream.name, "records": expected, "calls": calls,
                     "credits": credits, "note": note.strip(),
                     "computed_refresh": stream.refreshing and not ids_check,
                     "deleted_id_check": ids_check})
    now = datetime.now(UTC)
    for stream in streams:
        if isinstance(stream, ModuleStream | AttachmentsStream):
            continue
        note = ""
        if isinstance(stream, MetadataRefresh) and stream.next_read(now) is not None:
            calls = credits = 0
            note = f"not due ({METADATA_SETTING})"
        elif isinstance(stream, DeletedRecordsStream):
            due = [m for m in stream.modules
                   if due_whatever_it_shows(run.config, stream.get_context_state(
                       {"module": m}).get(DELETIONS_LISTED_AT))]
            checked.update(set(stream.modules) - set(due))
            calls, credits = len(due), len(due) * call_cost("GET", "/deleted")
        elif isinstance(stream, FieldsMetadataStream):
            calls = credits = len(stream.modules)
        elif isinstance(stream, UsersStream):
            calls = credits = 2  # AllUsers, then DeletedUsers
        else:
            calls = credits = 1
        rows.append({"stream": stream.name, "records": None, "calls": calls, "credits": credits,
                     **({"note": note} if note else {})})
    if checked:  # the listings the recycle bin shows are due come on top
        rows.append({"stream": "(recycle bin)", "records": None, "calls": 1, "credits": 1,
                     "note": f"+ 1 call (2 credits) per module of {len(checked)} with a "
                             "deletion since its last listing"})
    org = metadata_reader.get_list("/org")
    allowance = daily_allowance(org[0]) if org else None
    remaining = run.limits.credits_remaining
    total_credits = sum(r["credits"] for r in rows)
    refreshed = [r for r in rows if r.get("computed_refresh")]
    checked_ids = [r for r in rows if r.get("deleted_id_check")]
    return {
        "streams": rows,
        "records": sum(r["records"] or 0 for r in rows),
        "api_calls": sum(r["calls"] for r in rows),
        "credits": total_credits,
        "token_requests": 1,
        # Streams read in full again this run (computed_refresh_days), included above.
        "computed_refresh": {
            "streams": [r["stream"] for r in refreshed],
            "records": sum(r["records"] for r in refreshed),
            "calls": sum(r["calls"] for r in refreshed),
            "credits": sum(r["credits"] for r in refreshed),
        },
        # Streams read in full for the deleted-records check (deleted_id_check_hours), above.
        "deleted_id_check": {
            "streams": [r["stream"] for r in checked_ids],
            "records": sum(r["records"] for r in checked_ids),
            "calls": sum(r["calls"] for r in checked_ids),
            "credits": sum(r["credits"] for r in checked_ids),
        },
        "daily_credit_allowance": allowance,
        "credits_remaining_today": remaining,
        "share_of_allowance": round(total_credits / allowance, 4) if allowance else None,
    }


def format_plan(plan: dict[str, Any]) -> str:
    lines = [f"{'stream':<24}{'records':>10}{'API calls':>11}{'credits':>9}  note"]
    for row in plan["streams"]:
        records = "" if row["records"] is None else str(row["records"])
        lines.append(f"{row['stream']:<24}{records:>10}{row['calls']:>11}{row['credits']:>9}"
                     f"  {row.get('note', '')}".rstrip())
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
