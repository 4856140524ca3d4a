"""Modules read whole every run (subform and linking modules): FULL_TABLE with ACTIVATE_VERSION.

Zoho lists no deletions of subform rows or links (`/{module}/deleted` refuses these modules), so
a removed line item or link can only be seen by its absence from a full read. Such a stream:

* is FULL_TABLE whatever the catalog says (one saved from an older version of the tap says
  INCREMENTAL): an incremental read would keep deleted rows in the warehouse for good;
* emits ACTIVATE_VERSION before its records, as the SDK does for FULL_TABLE streams (turned on
  for these streams without the SDK's `emit_activate_version_messages`): target-postgres then
  deletes the rows of older versions (or, with hard_delete off, sets their `_sdc_deleted_at`),
  and the rows this run emits come back with the new version;
* keeps no bookmark: one from an older version of the tap is dropped from the state, and so is
  a saved Bulk Read export position (a resumed export would not emit the rows read before the
  cut-off, and ACTIVATE_VERSION would drop them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from typing_extensions import override

from tap_zohocrm.streams.module_rules import read_in_full
from tap_zohocrm.sync.state_checks import BULK_EXPORT_KEY

if TYPE_CHECKING:
    import logging

    from singer_sdk import singerlib

    from tap_zohocrm.sync.run import ZohoRun

# What an incremental read leaves in a stream's state.
BOOKMARK_KEYS = ("replication_key", "replication_key_value", "starting_replication_value",
                 BULK_EXPORT_KEY)


class WholeRead:
    """The FULL_TABLE part of a module stream (mixed into ModuleStream, before the SDK's)."""

    generated_type: str | None
    forced_replication_method: str | None
    config: Any
    logger: logging.Logger
    name: str
    run: ZohoRun
    state_manager: Any
    stream_state: dict[str, Any]

    @property
    def whole_every_run(self) -> bool:
        """A module whose deletions Zoho does not list (subform, linking)."""
        return read_in_full(self.generated_type)

    @property
    @override
    def replication_method(self) -> str:
        if self.whole_every_run:
            return REPLICATION_FULL_TABLE
        return super().replication_method  # type: ignore[misc]

    @property
    def reads_whole(self) -> bool:
        """Whether this run reads the module whole, with no bookmark: FULL_TABLE (a subform or
        linking module, or a catalog that asks for it)."""
        return self.replication_method == REPLICATION_FULL_TABLE

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # Also any module a catalog makes FULL_TABLE, while the deleted-records check is on:
        # such a read never ends in the check's ACTIVATE_VERSION (it keeps no bookmark).
        return (self.whole_every_run or super().emit_activate_version_messages  # type: ignore[misc]
                or (self.reads_whole and float(self.config["deleted_id_check_hours"]) > 0))

    @override
    def apply_catalog(self, catalog: singerlib.Catalog) -> None:
        super().apply_catalog(catalog)  # type: ignore[misc]
        forced = self.forced_replication_method
        if self.whole_every_run and forced and forced != REPLICATION_FULL_TABLE:
            self.logger.warning(
                "Stream %s: the catalog asks for %s replication; it is read whole every run "
                "(FULL_TABLE) because Zoho lists no deleted rows of %s modules.",
                self.name, forced, self.generated_type)
            self.forced_replication_method = REPLICATION_FULL_TABLE

    def forget_bookmark(self) -> None:
        """Drop what an incremental read left in the state (an older version of the tap, or
        a catalog that made the stream INCREMENTAL before): this read starts from nothing."""
        if not self.reads_whole:
            return
        with self.run.state_lock:
            gone = [key for key in BOOKMARK_KEYS if key in self.stream_state]
            for key in gone:
                del self.stream_state[key]
            if gone:
                self.state_manager.is_flushed = False
        if gone:
            self.logger.info("Stream %s is read whole (FULL_TABLE): dropped %s from its state",
                             self.name, ", ".join(gone))
