"""A record's values made to fit its stream's schema, in `post_process`: datetimes in UTC,
numbers from text, values that do not fit kept aside, keys the catalog lacks dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.values import value_converters


class RecordValues:
    """Fits records to one stream's schema; counts what did not fit.

    `unknown_keys_log_level` and `hint`: how to say that Zoho sent fields the catalog lacks
    (added after discovery: loud, with what to do; a schema of the tap's own: DEBUG).
    """

    def __init__(self, schema: dict[str, Any], logger: logging.Logger,
                 subject: Callable[[], str], *, unknown_keys_log_level: int = logging.WARNING,
                 hint: str = "Run discovery again to include them.") -> None:
        self.converters = value_converters(schema)
        self.known_keys = frozenset(schema.get("properties", {}))
        self.logger = logger
        self.subject = subject  # the module named in messages
        self.unknown_keys_log_level = unknown_keys_log_level
        self.hint = hint
        self.mismatch_counts: dict[str, int] = {}
        self._unknown_keys_logged: set[str] = set()

    def fit(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row, in place, with every value of its schema's type."""
        mismatched: dict[str, Any] | None = None
        for key, ok, convert in self.converters:
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
                "%s. %s", self.subject(), ", ".join(sorted(new)), self.hint)
