"""A module's row of `--plan`: what its sync will read and cost, by the read path its plan chose
(each path's cost is written beside it, in reads/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.reads.bulk_backfill import bulk_cost
from tap_zohocrm.reads.plan import BULK, COQL, REST
from tap_zohocrm.reads.rest_pages import rest_calls
from tap_zohocrm.reads.rich_text import rereads
from tap_zohocrm.streams.recycle_bin import due_whatever_it_shows
from tap_zohocrm.sync.limits import call_cost

if TYPE_CHECKING:
    from tap_zohocrm.reads.plan import ReadPlan


def module_cost(stream: str, module: str, plan: ReadPlan, *, expected: int, bulk: bool,
                left_out: list[str], page_reads: int, rich_text: bool,
                rich_text_per_page: bool, counts_records: bool, lists_deletions: bool,
                attachments: bool, config: Mapping[str, Any],
                coql: tuple[int, int] | None = None, counts: int = 0) -> CostRow:
    """The row of a module read by `plan`: `expected` records, through Bulk Read (`bulk`, the
    `left_out` fields filled over REST) or Get Records pages (`page_reads` a page: its own and
    those beside it); `rich_text` re-read in full; its record count asked (`counts_records`;
    `counts`: the counts the plan asked), its deletions listed, its records' attachments read."""
    per_page = int(config["per_page"])
    if bulk:
        calls, credits, note = bulk_cost(expected, left_out)
    elif coql is not None:  # its calls and credits, with the REST fills and the hidden count
        (calls, credits), note = coql, ""
    else:
        calls = credits = rest_calls(expected, per_page, max(1, page_reads))
        note = ""
    if plan.priced or (counts_records and expected > per_page):
        # The sync's count call (pricing the paths; progress, when there is more than one
        # page), and any other count pricing asked (`counts`).
        calls += max(1, counts)
        credits += max(1, counts)
    checks: frozenset[str] = frozenset()
    if lists_deletions and due_whatever_it_shows(config, plan.listed_at):
        calls += 1
        credits += call_cost("GET", "/deleted")
    elif lists_deletions:
        checks = frozenset({module})
    if rich_text and not bulk:  # an export carries rich text whole
        note = (f"+ up to {rereads(expected, per_page, per_page_calls=rich_text_per_page)} "
                "rich-text re-reads")
    if attachments:
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
    return CostRow(stream, calls=calls, credits=credits, records=expected, note=note.strip(),
                   read_path=BULK if bulk else COQL if coql is not None else REST,
                   computed_refresh=plan.refresh and not ids_check, deleted_id_check=ids_check,
                   recycle_bin_checks=checks)
