"""A record's values made to fit its stream's schema, in `post_process`: datetimes in UTC,
numbers from text, values that do not fit kept aside, keys the catalog lacks dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.values import Converter, value_converters


class RecordValues:
    """Fits records to one stream's schema; counts what did not fit.

    `unknown_keys_log_level` and `hint`: how to say that Zoho sent fields the catalog lacks
    (added after discovery: loud, with what to do; a schema of the tap's own: DEBUG).
    """

    def __init__(self, schema: dict[str, Any], logger: logging.Logger,
                 subject: Callable[[], str], *, unknown_keys_log_level: int = logging.WARNING,
                 hint: str = "Run discovery again to include them.") -> None:
        self.converters = value_converters(schema)
        groups: dict[tuple[type, ...], list[tuple[str, tuple[type, ...], Converter]]] = {}
        for converter in self.converters:
            if converter[1]:
                groups.setdefault(converter[1], []).append(converter)
        self._checks = [(tuple(key for key, _, _ in group), frozenset((*ok, type(None))), group)
                        for ok, group in groups.items()]
        # Values with no type that passes as is (datetimes, dates, objects to fill).
        self._converted = [(key, convert) for key, ok, convert in self.converters if not ok]
        self._position = {key: n for n, (key, _, _) in enumerate(self.converters)}
        self.known_keys = frozenset(schema.get("properties", {}))
        self.logger = logger
        self.subject = subject  # the module named in messages
        self.unknown_keys_log_level = unknown_keys_log_level
        self.hint = hint
        self.mismatch_counts: dict[str, int] = {}
        self._unknown_keys_logged: set[str] = set()

    def fit(self, row: dict[str, Any]) -> dict[str, Any]:
        """The row, in place, with every value of its schema's type."""
        get = row.get
        mismatched: dict[str, Any] | None = None
        # Most values already have their type: one pass in C per group of properties that
        # take the same types tells so; the group's per-key loop runs only when one does not.
        for keys, passing, group in self._checks:
            if passing.issuperset(map(type, map(get, keys))):
                continue
            for key, ok, convert in group:
                value = get(key)
                if value is not None and type(value) not in ok:
                    try:
                        row[key] = convert(value)
                    except ValueError:
                        mismatched = self._set_aside(row, key, value, mismatched)
        for key, convert in self._converted:
            value = get(key)
            if value is not None:
                try:
                    row[key] = convert(value)
                except ValueError:
                    mismatched = self._set_aside(row, key, value, mismatched)
        if mismatched:
            position = self._position
            row[MISMATCH_PROPERTY] = dict(sorted(mismatched.items(),
                                                 key=lambda item: position[item[0]]))
        if not self.known_keys.issuperset(row):
            self._drop_unknown_keys(row)
        return row

    def _set_aside(self, row: dict[str, Any], key: str, value: Any,
                   mismatched: dict[str, Any] | None) -> dict[str, Any]:
        """Keep a value that does not fit where its type cannot break the typed column, and
        count it."""
        mismatched = mismatched or {}
        mismatched[key] = value
        row[key] = None
        self.mismatch_counts[key] = self.mismatch_counts.get(key, 0) + 1
        return mismatched

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
