"""The steps around a full read of a module (its first sync, or a refresh): what to say, what to
keep in the state at its start and its end, and whether it ends in ACTIVATE_VERSION."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tap_zohocrm.reads.plan import FullRead
from tap_zohocrm.sync.state_checks import IDS_CHECKED_AT, LAST_FULL_READ_KEY


@dataclass(frozen=True)
class FullReadSteps:
    """`full` is the plan's full read of `module`."""

    full: FullRead
    module: str
    config: Mapping[str, Any]
    logger: logging.Logger

    def announce(self) -> None:
        """Say why a refresh reads every record again."""
        full = self.full
        if not full.refresh:
            return
        if full.ids_check:
            self.logger.info(
                "%s: reading every record again, then ACTIVATE_VERSION: the loader flags the "
                "rows Zoho no longer has (deleted_id_check_hours: %s)", self.module,
                self.config["deleted_id_check_hours"])
            return
        self.logger.info(
            "%s: reading every record again: formula, rollup summary and lookup values change "
            "in Zoho without Modified_Time (last read in full: %s; computed_refresh_days: %s)",
            self.module, full.last or "unknown, the state predates the key",
            self.config["computed_refresh_days"])

    def keys_at_start(self, *, resumes_export: bool) -> dict[str, str]:
        """A first sync keeps its start as its full read at once: a run that stops part way
        leaves a bookmark, and the next one finishes the same full read, which must not count
        as one that never happened (a module too large for one run would never finish). It
        gives the loader every record: a deleted-records check as well."""
        if self.full.refresh or resumes_export:
            return {}
        return {LAST_FULL_READ_KEY: self.full.at, IDS_CHECKED_AT: self.full.at}

    def activates(self, *, read_to_end: bool) -> bool:
        """Whether the read ends in ACTIVATE_VERSION: versioned, and it reached the module's
        end in this run (one cut short by a paging limit warns instead)."""
        if not self.full.versioned:
            return False
        if not read_to_end:
            self.logger.warning(
                "%s: the full read stopped before the end of the module: no ACTIVATE_VERSION, "
                "so records deleted in Zoho that no listing shows stay in the warehouse",
                self.module)
        return read_to_end

    def keys_at_end(self, *, checked: bool) -> dict[str, str]:
        """Every record is out: when this read began. A first sync gave the loader every
        record, and a versioned read (`checked`, even one cut short: it would stop there again
        and waits for the next interval too) flagged the others."""
        keys = {LAST_FULL_READ_KEY: self.full.at}
        if checked or not self.full.refresh:
            keys[IDS_CHECKED_AT] = self.full.at
        return keys
