"""A module stream's row of `--plan`: what its sync will read and cost, by the read path its plan
chose (each path's cost is written beside it, in reads/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.reads.bulk_backfill import bulk_cost
from tap_zohocrm.reads.rest_pages import rest_calls
from tap_zohocrm.reads.rich_text import rereads
from tap_zohocrm.streams.recycle_bin import due_whatever_it_shows
from tap_zohocrm.sync.limits import call_cost

if TYPE_CHECKING:
    from tap_zohocrm.reads.plan import ReadPlan
    from tap_zohocrm.streams.module import ModuleStream


def module_cost(stream: ModuleStream, plan: ReadPlan) -> CostRow:
    per_page = int(stream.config["per_page"])
    expected = stream.expected_records()
    bulk = stream.uses_bulk_read()
    if bulk:
        calls, credits, note = bulk_cost(expected, stream.bulk_left_out())
    else:
        calls = credits = rest_calls(expected, per_page, max(1, len(stream.field_groups())))
        note = ""
    if stream.counts_records and expected > per_page:
        # The sync's count call (progress), made when there is more than one page.
        calls += 1
        credits += 1
    checks: frozenset[str] = frozenset()
    if stream.emit_deletes and due_whatever_it_shows(stream.config, plan.listed_at):
        calls += 1
        credits += call_cost("GET", "/deleted")
    elif stream.emit_deletes:
        checks = frozenset({stream.api_name})
    if stream.rich_text_fields() and not bulk:  # an export carries rich text whole
        most = rereads(expected, per_page,
                       per_page_calls=stream.run.version.rich_text_per_page)
        note = f"+ up to {most} rich-text re-reads"
    if stream.reads_attachments and any(c.selected for c in stream.child_streams):
        calls += expected
        credits += expected
        # A refresh reads the attachments of records changed since the bookmark only.
        note += f" + {'up to ' if plan.refresh else ''}{expected} attachment calls"
    ids_check = bool(plan.refresh and plan.full and plan.full.ids_check)
    if ids_check:
        note = f"deleted-records check: read in full, then ACTIVATE_VERSION {note}"
    elif plan.refresh:
        note = f"computed-values refresh: read in full {note}"
    if plan.whole:  # no bookmark: every run reads it all
        note = f"read whole every run; {note}" if note else "read whole every run"
    return CostRow(stream.name, calls=calls, credits=credits, records=expected,
                   note=note.strip(), computed_refresh=plan.refresh and not ids_check,
                   deleted_id_check=ids_check, recycle_bin_checks=checks)
