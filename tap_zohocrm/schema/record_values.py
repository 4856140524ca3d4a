"""A record's values made to fit its stream's schema, in `post_process`: datetimes in UTC,
numbers from text, values that do not fit kept aside, keys the catalog lacks dropped."""

from __future__ import annotations

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.values import Converter, value_converters

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.sync.run_report import StreamReport


class RecordValues:
    """The value part of a Zoho stream (mixed into ZohoStream, before the SDK's stream)."""

    name: str
    schema: dict[str, Any]
    logger: logging.Logger
    run: ZohoRun
    mismatch_counts: dict[str, int]
    _unknown_keys_logged: set[str]
    _report: StreamReport
    module_api_name: str

    # Zoho sends fields added after discovery; say so loudly, with what to do (metadata
    # streams have fixed schemas: discovery cannot add to them, so they log at DEBUG).
    unknown_keys_log_level = logging.WARNING
    unknown_keys_hint = "Run discovery again to include them."

    @cached_property
    def _converters(self) -> list[tuple[str, tuple[type, ...], Converter]]:
        return value_converters(self.schema)

    @cached_property
    def known_keys(self) -> frozenset[str]:
        return frozenset(self.schema.get("properties", {}))

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        mismatched: dict[str, Any] | None = None
        for key, ok, convert in self._converters:
            value = row.get(key)
            if value is None or type(value) in ok:
                continue
            try:
                row[key] = convert(value)
            except ValueError:
                # Keep the value where its type cannot break the typed column, and count it.
                mismatched = mismatched or {}
                mismatched[key] = value
                row[key] = None
                self.mismatch_counts[key] = self.mismatch_counts.get(key, 0) + 1
        if mismatched:
            row[MISMATCH_PROPERTY] = mismatched
        if not self.known_keys.issuperset(row):
            self._drop_unknown_keys(row)
        self.run.report.record(self.name, self._report, self.logger)
        return row

    def _drop_unknown_keys(self, row: dict[str, Any]) -> None:
        """Drop keys the catalog's schema lacks (a field added since discovery), logged once."""
        unknown = [key for key in row if key not in self.known_keys]
        for key in unknown:
            del row[key]
        new = set(unknown) - self._unknown_keys_logged
        if new:
            self._unknown_keys_logged |= new
            self.logger.log(
                self.unknown_keys_log_level,
                "%s: Zoho returned fields the catalog does not have (added after discovery?): "
                "%s. %s",
                self.module_api_name, ", ".join(sorted(new)), self.unknown_keys_hint,
            )
