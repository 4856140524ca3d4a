"""Where a read stands on (Modified_Time, id).

Each Get Records page restarts the query at the last Modified_Time read (pagination.py), so a
page begins with records of that second already read: they are dropped here, by id.
"""

from __future__ import annotations

from typing import Any

from tap_zohocrm.schema.values import utc_or_none


class Anchor:
    """The last Modified_Time read (UTC) and the ids read at it."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.last_modified: str | None = None
        self.ids: set[str] = set()

    def reset(self) -> None:
        self.last_modified, self.ids = None, set()

    def fresh(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records not read before at the second the query restarted at."""
        out = []
        for record in records:
            modified = utc_or_none(record.get(self.key)) if self.key else None
            if modified is not None:
                if self.last_modified is None or modified > self.last_modified:
                    self.last_modified, self.ids = modified, {record["id"]}
                elif modified == self.last_modified:
                    if record["id"] in self.ids:
                        continue
                    self.ids.add(record["id"])
            out.append(record)
        return out
