"""Records a Bulk Read export leaves out, read over REST.

Bulk Read has no `converted`/`approved` parameters. Zoho's Record Count of every record
(`approved=both`, `converted=both`) is asked when the first job is created; when the export has
fewer rows (or Zoho refuses those count filters), the records Zoho hides unless asked (converted
Leads, records pending approval) are listed over REST, and those modified before the job's start
that the export did not hold are emitted whole; later ones come with the REST read that follows
the export. (Fields an export leaves out: bulk_read.export_gaps.LeftOutFields.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tap_zohocrm.pagination import RecordsPage
from tap_zohocrm.reads.module_rules import REPLICATION_KEY
from tap_zohocrm.schema.values import utc_or_none

if TYPE_CHECKING:
    from tap_zohocrm.bulk_read.jobs import BulkRead
    from tap_zohocrm.reads.rest_pages import RestPages


class HiddenRecords:
    """The records an export lacks, as pages of the first field group (to be completed)."""

    def __init__(self, pages: Callable[[Mapping[str, Any]], RestPages],
                 filters: list[dict[str, Any]], *, module: str,
                 logger: logging.Logger) -> None:
        self.pages = pages  # the module's REST pages with these extra filters
        self.filters = filters  # one Get Records filter per kind of hidden record
        self.module = module
        self.logger = logger

    def missing(self, bulk: BulkRead) -> Iterator[list[dict[str, Any]]]:
        """Pages of the hidden records modified before the export's start that are not among
        its rows: none when the export holds as many rows as Zoho counted at its start."""
        count, rows = bulk.count_at_start, bulk.exported.rows
        if not self.filters or (count is not None and rows >= count):
            return
        self.logger.info(
            "%s: the Bulk Read export holds %d records, Zoho counted %s at its start: reading "
            "the records it hides unless asked (converted, pending approval) over REST",
            self.module, rows, "?" if count is None else count)
        started = utc_or_none(bulk.started_at)
        seen: set[str] = set()
        found = 0
        for params in self.filters:
            for records in self.pages(params).pages(RecordsPage()):
                page, past = [], False
                for record in records:
                    modified = utc_or_none(record.get(REPLICATION_KEY))
                    if started and modified and modified >= started:
                        past = True  # the REST read after the export has it
                    elif record["id"] not in seen:
                        seen.add(record["id"])
                        page.append(record)
                flags = bulk.exported.exported([r["id"] for r in page])
                page = [r for r, exported in zip(page, flags, strict=True) if not exported]
                if page:
                    found += len(page)
                    yield page
                if past:  # sorted by Modified_Time: the rest are later still
                    break
        self.logger.info("%s: %d records the Bulk Read export left out were read over REST",
                         self.module, found)
