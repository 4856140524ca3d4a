"""Deleted records: the `deleted_records` stream, and delete markers on module streams.

Zoho keeps deleted ids for 60 days (recycle bin) and 120 days (permanently deleted) at
`/{module}/deleted`; a warehouse that never reads them keeps deleted deals forever.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from typing_extensions import override

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import ListPaginator
from tap_zohocrm.reads.module_rules import named_in_modules
from tap_zohocrm.responses import PAGE_LIMIT_CODES, answered_at, error_code, is_refusal
from tap_zohocrm.schema.values import to_utc, utc_or_none
from tap_zohocrm.streams.org import REF
from tap_zohocrm.streams.recycle_bin import due_whatever_it_shows, listing_due
from tap_zohocrm.sync.feed_items import DeleteMarkers
from tap_zohocrm.sync.limits import call_cost
from tap_zohocrm.sync.state_checks import DELETIONS_LISTED_AT

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.zoho_api import ZohoApi

DELETED_AT = "_sdc_deleted_at"


LISTING_TYPES = ("recycle", "permanent")


class DeletedListing:
    """`/{module}/deleted` entries deleted at or after `since`, filtered here on deleted_time.

    If-Modified-Since is not sent: Zoho documents it for this endpoint without saying which
    time it compares. Zoho lists the newest deletions first, so the read stops at the first page
    that reaches entries older than `since`: a run costs one page (2 credits) more than the
    header would, at most. Should an answer not come newest first, the listing is read to its
    end (Zoho keeps 60 days of recycle bin and 120 of permanent deletions).

    Past a page-limit error the recycle-bin and permanent entries are listed apart (`type`),
    each with its own reach; what is still out of reach is logged as a warning and counted in
    `unreachable`, never taken for the end of the listing.
    """

    def __init__(self, api: ZohoApi[ZohoRun], module: str, since: str | None) -> None:
        self.api = api
        self.module = module
        self.since = to_utc(since) if since else None
        self.unreachable = False
        self._listed: set[str] = set()  # ids yielded: the split by type lists some again
        # Zoho's clock at its first answer: the next listing goes on from there.
        self.answered_at: datetime | None = None

    def listed_at(self) -> str:
        """When this listing was answered, for the state (DELETIONS_LISTED_AT)."""
        at = self.answered_at or datetime.now(UTC)
        return at.astimezone(UTC).replace(microsecond=0).isoformat()

    def pages(self) -> Iterator[list[dict]]:
        capped = yield from self._pages("all")
        if not capped:
            return
        self.api.logger.info(
            "Zoho's page limit on %s/deleted reached: listing recycle-bin and permanent "
            "deletions apart", self.module)
        for kind in LISTING_TYPES:
            if (yield from self._pages(kind)):
                self.unreachable = True
                self.api.logger.warning(
                    "Zoho's page limit on %s/deleted (type %s) left older deletions unlisted: "
                    "their rows stay in the warehouse. Run more often than such a number of "
                    "deletions accumulates.", self.module, kind)

    def _pages(self, kind: str) -> Generator[list[dict], None, bool]:
        """Yields the kept entries page by page; returns whether Zoho's page limit ended it."""
        newest_first = True
        previous: str | None = None
        paginator = ListPaginator(page_tokens=False)  # the listing takes `page` only
        while not paginator.finished:
            params = {"type": kind, "per_page": 200, **paginator.params()}
            response = self.api.call(f"/{self.module}/deleted", params)
            if self.answered_at is None:
                self.answered_at = answered_at(response) or datetime.now(UTC)
            if error_code(response) in PAGE_LIMIT_CODES:
                return True
            records = self.api.items(response)
            reached_older = False
            kept = []
            for record in records:
                deleted = utc_or_none(record.get("deleted_time"))
                if previous is not None and deleted is not None and deleted > previous:
                    newest_first = False
                previous = deleted or previous
                if self.since is not None and deleted is not None and deleted < self.since:
                    reached_older = True
                    continue
                if (record_id := str(record.get("id"))) not in self._listed:
                    self._listed.add(record_id)
                    kept.append(record)
            if kept:
                yield kept
            if not records or (reached_older and newest_first):
                return False
            paginator.advance(response)
        return False


class DeletedRecordsStream(ZohoStream):
    """One row per deleted record of every selected module, incremental on deleted_time."""

    name = "deleted_records"
    primary_keys = ("module", "id")
    replication_key = "deleted_time"
    # Zoho lists the newest deletions first: the bookmark moves at the end of each module.
    is_sorted = False
    schema = th.PropertiesList(
        th.Property("module", th.StringType, required=True),
        th.Property("id", th.StringType, required=True),
        th.Property("display_name", th.StringType),
        th.Property("type", th.StringType, description="recycle or permanent"),
        th.Property("deleted_by", REF),
        th.Property("created_by", REF),
        th.Property("deleted_time", th.DateTimeType),
    ).to_dict()
    path = "/deleted"

    def __init__(self, tap: Tap, run: ZohoRun, schema: dict | None = None,
                 modules: list[str] | None = None) -> None:
        super().__init__(tap, run, schema=schema or self.schema)
        self.modules = modules or []

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [{"module": module} for module in self.modules]

    @property
    def module_api_name(self) -> str:
        return (self.context or {}).get("module", self.name)

    @override
    def cost_row(self) -> CostRow | None:
        # A module's listing is due whatever the recycle bin shows, or only if it shows one.
        due = [m for m in self.modules if due_whatever_it_shows(
            self.config, self.get_context_state({"module": m}).get(DELETIONS_LISTED_AT))]
        return CostRow(self.name, calls=len(due), credits=len(due) * call_cost("GET", "/deleted"),
                       recycle_bin_checks=frozenset(self.modules) - set(due))

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        module = (context or {}).get("module")
        if module is None:  # no module in the catalog: its partitions are empty
            self.logger.warning("Stream %s: the catalog holds no module to list", self.name)
            return
        start = self.get_starting_timestamp(context)
        since = start.replace(microsecond=0).isoformat() if start else None
        state = self.get_context_state(context)
        if not listing_due(self.api, module, since, state.get(DELETIONS_LISTED_AT)):
            return
        listing = DeletedListing(self.api, module, since)
        try:
            for page in listing.pages():
                for record in page:
                    record["module"] = module
                    yield record
            with self.run.state_lock:
                state[DELETIONS_LISTED_AT] = listing.listed_at()
        except ZohoAPIError as exc:
            if exc.code == "INVALID_MODULE":
                self.logger.warning("Zoho lists no deleted records for module %s", module)
            elif is_refusal(exc.status, exc.code) and not named_in_modules(module, self.config):
                # As for the module's own stream: a module the user did not name is skipped.
                self.logger.warning("Skipping the deleted records of module %s: %s", module, exc)
            else:
                raise


class _NullBookmarkFilter(logging.Filter):
    """Delete markers carry no Modified_Time; the SDK's note about that is expected."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return "New replication value is null" not in record.getMessage()


def install_marker_log_filter() -> None:
    logging.getLogger("singer_sdk").addFilter(_NullBookmarkFilter())


def delete_markers(api: ZohoApi[ZohoRun], module: str, since: str | None,
                   listed_at: str | None = None) -> DeleteMarkers:
    """Records `{id, _sdc_deleted_at}` for ids deleted since `since` (opt-in: emit_deletes),
    when a listing is due (the last one was at `listed_at`; streams/recycle_bin.py).

    target-postgres stores `_sdc_deleted_at` on the row (soft delete); Modified_Time stays null
    so the module's bookmark is not moved by them.
    """
    markers = DeleteMarkers()
    if not listing_due(api, module, since, listed_at):
        return markers
    listing = DeletedListing(api, module, since)
    try:
        for page in listing.pages():
            markers.records.extend(
                {"id": r["id"], DELETED_AT: to_utc(r["deleted_time"]), "Modified_Time": None}
                for r in page if r.get("deleted_time")
            )
    except ZohoAPIError as exc:
        if exc.code != "INVALID_MODULE":
            raise
    markers.listed_at = listing.listed_at()
    return markers
