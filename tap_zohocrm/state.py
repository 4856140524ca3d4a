"""Checks on the STATE a run starts from: a bad bookmark is an error, never silently ignored.

A bookmark this tap did not write (hand-edited, from an older version, from another Zoho tap)
could silently skip or re-read data, so the run stops and says how to fix it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tap_zohocrm.errors import ZohoConfigError

# Keys the SDK writes in a stream's state.
_KNOWN_KEYS = frozenset({
    "replication_key", "replication_key_value", "replication_key_signpost",
    "starting_replication_value", "progress_markers", "partitions", "context",
})
_FIX = (
    "Fix the bookmark or drop it (e.g. `meltano state clear <state id>`) to re-read the stream "
    "from start_date."
)


class InvalidStateError(ZohoConfigError):
    """The input state cannot be used."""


def validate_state(state: Any) -> None:
    """Raise InvalidStateError naming the stream and value when a bookmark is unusable."""
    if not isinstance(state, dict):
        raise InvalidStateError(f"State must be a JSON object, got {type(state).__name__}.")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise InvalidStateError("State `bookmarks` must be an object of stream name -> bookmark.")
    for stream, bookmark in bookmarks.items():
        if stream != stream.lower():
            msg = (
                f"State has a bookmark for '{stream}', which is not a stream of this tap "
                f"(stream names are lower-case module API names, e.g. '{stream.lower()}'): it "
                f"comes from an older version of the tap or another Zoho tap. {_FIX}"
            )
            raise InvalidStateError(msg)
        if not isinstance(bookmark, dict):
            raise InvalidStateError(f"State bookmark for '{stream}' must be an object. {_FIX}")
        unknown = set(bookmark) - _KNOWN_KEYS
        if unknown:
            msg = (
                f"State bookmark for '{stream}' has keys this tap does not write "
                f"({', '.join(sorted(unknown))}): it comes from an older version of the tap or "
                f"another Zoho tap. {_FIX}"
            )
            raise InvalidStateError(msg)
        for partition in [bookmark, *bookmark.get("partitions", [])]:
            _check_value(stream, partition.get("replication_key_value"))


def _check_value(stream: str, value: Any) -> None:
    if value is None:
        return
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        msg = (
            f"State bookmark for '{stream}' has replication_key_value {value!r}, which is not an "
            f"ISO-8601 datetime with a UTC offset. {_FIX}"
        )
        raise InvalidStateError(msg)
