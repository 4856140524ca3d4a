"""A page read with the first field group is completed before it is emitted: the other field
groups merged in, cut rich text read in full. Completions run in the read-ahead's pool; the
credits they will spend are promised first, so reading ahead never outruns the credit budget."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tap_zohocrm.reads.field_groups import FieldGroups
    from tap_zohocrm.reads.rich_text import RichText


class PageCompletion:
    """Completes pages of one module's sync."""

    def __init__(self, groups: FieldGroups, rich_text: RichText) -> None:
        self.groups = groups
        self.rich_text = rich_text
        self._lock = threading.Lock()
        self._promised = 0  # credits the queued pages still need

    @property
    def promised(self) -> int:
        return self._promised

    def promise(self, records: list[dict[str, Any]], *, beside: bool = False) -> int:
        """The credits completing these records needs, counted as promised until done
        (`beside`: the other field groups come from pages beside, which ask for themselves)."""
        credits = 0 if beside else self.groups.completion_calls(len(records))
        with self._lock:
            self._promised += credits
        return credits

    def complete(self, records: list[dict[str, Any]], promised: int = 0,
                 filled: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Pool task: every field group and full rich text for one page (`filled`: the ids
        that got the other groups from pages beside)."""
        try:
            if len(self.groups.groups) > 1:
                self.groups.merge_others(records, filled)
            if self.rich_text.fields:
                self.rich_text.complete(records)
        finally:
            with self._lock:
                self._promised -= promised
        return records
