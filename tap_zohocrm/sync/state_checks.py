"""Checks on the STATE a run starts from: a bad bookmark is an error, never silently ignored.

A bookmark this tap cannot use (hand-edited, from an older version, from another Zoho tap)
could silently skip or re-read data, so the run stops and says how to fix it. Keys the tap does
not know next to a usable bookmark (a newer SDK writes more) are named in a warning and left
in the state as they are: the tap does not read them, the SDK carries them into its STATE.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tap_zohocrm.errors import ZohoConfigError
from tap_zohocrm.schema.values import utc_or_none

LOGGER = logging.getLogger("tap-zohocrm.state")

# Where a Bulk Read export cut off by a failed run goes on from: the export's position, kept in
# the module stream's state by its Bulk Read backfill.
BULK_EXPORT_KEY = "bulk_read_export"
# Zoho's time (its Date header) of the last answer of a sync that read its module to the end
# (reads/plan.py).
BOOKMARK_READ_AT = "bookmark_read_at"
# When a stream was last read in full (UTC, ISO 8601). A module stream: the computed-values
# refresh (computed_refresh_days) reads it in full again once this is old enough; one with a
# bookmark but without this key (a state from before the key) is due at once: nobody knows
# how stale its formula, rollup and lookup values are. An org metadata stream (users, fields,
# ...): read again once this is older than metadata_refresh_hours; without it, at once.
LAST_FULL_READ_KEY = "last_full_read"
# When a module's deleted records were last listed (UTC, ISO 8601), in a module stream's state
# (delete markers) or a deleted_records partition: the next listing goes on from there, and is
# due once this is deleted_full_listing_hours old (streams/recycle_bin.py).
DELETIONS_LISTED_AT = "deletions_listed_at"
# When a module stream's last full read that ended in ACTIVATE_VERSION began (UTC, ISO 8601):
# the loader then flagged the rows Zoho no longer had. The next such read is due once this is
# deleted_id_check_hours old; a stream with a bookmark but without the key is due at once.
IDS_CHECKED_AT = "ids_checked_at"
# Keys the SDK writes in a stream's state, and the tap's own.
_KNOWN_KEYS = frozenset({
    "replication_key", "replication_key_value", "replication_key_signpost",
    "starting_replication_value", "progress_markers", "partitions", "context", BULK_EXPORT_KEY,
    BOOKMARK_READ_AT, LAST_FULL_READ_KEY, DELETIONS_LISTED_AT, IDS_CHECKED_AT,
})
_FIX = (
    "Fix the bookmark or drop it (e.g. `meltano state clear <state id>`) to re-read the stream "
    "from start_date."
)


class InvalidStateError(ZohoConfigError):
    """The input state cannot be used."""


def read_state_file(text: str, name: str) -> Any:
    """The JSON of a state file, or InvalidStateError naming the file and how to recover."""
    try:
        return json.loads(text)
    except ValueError as exc:
        msg = (f"State file {name} is not valid JSON ({exc}). Restore a good copy, or clear "
               "the state (`meltano state clear <state id>`, or remove the file) to read every "
               "stream again from start_date.")
        raise InvalidStateError(msg) from None


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
            # Without a value of its own the stream starts over; say so, it costs API credits.
            start = ("" if set(bookmark) & {"replication_key_value", "partitions", BULK_EXPORT_KEY}
                     else " The bookmark has no replication_key_value: the stream is read from "
                     "start_date.")
            LOGGER.warning(
                "State bookmark for '%s' has keys this tap does not know (%s), e.g. from a "
                "newer SDK: this run ignores them and keeps them in the state as they are.%s",
                stream, ", ".join(sorted(unknown)), start,
            )
        partitions = bookmark.get("partitions", [])
        if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
            raise InvalidStateError(
                f"State bookmark for '{stream}' has partitions {partitions!r}, which is not a "
                f"list of objects. {_FIX}")
        for partition in [bookmark, *partitions]:
            _check_value(stream, partition.get("replication_key_value"))
            _check_value(stream, partition.get(DELETIONS_LISTED_AT), DELETIONS_LISTED_AT,
                         "Drop that key: the deleted records are then listed in full at the "
                         "next run.")
        if BULK_EXPORT_KEY in bookmark:
            _check_export(stream, bookmark[BULK_EXPORT_KEY])
        if BOOKMARK_READ_AT in bookmark:
            _check_value(stream, bookmark[BOOKMARK_READ_AT], BOOKMARK_READ_AT)
        if IDS_CHECKED_AT in bookmark:
            _check_value(stream, bookmark[IDS_CHECKED_AT], IDS_CHECKED_AT,
                         "Drop that key: the stream is then read in full again at its next run "
                         "(deleted_id_check_hours).")
        if LAST_FULL_READ_KEY in bookmark:
            _check_value(stream, bookmark[LAST_FULL_READ_KEY], LAST_FULL_READ_KEY,
                         "Drop that key: the stream is then read in full again at its next run "
                         "(computed_refresh_days, metadata_refresh_hours).")


def _check_export(stream: str, export: Any) -> None:
    """`{"started_at": "<Zoho datetime>", "page": 2, "page_token": "..." or null}`."""
    ok = (isinstance(export, dict) and isinstance(export.get("started_at"), str)
          and isinstance(export.get("page"), int) and export["page"] >= 1
          and (export.get("page_token") is None or isinstance(export["page_token"], str)))
    if not ok or utc_or_none(export["started_at"]) is None:
        msg = (
            f"State bookmark for '{stream}' has {BULK_EXPORT_KEY} {export!r}, which is not where "
            f"a Bulk Read export goes on from (started_at with a UTC offset, page >= 1, "
            f"page_token or null). Drop that key to start the export over."
        )
        raise InvalidStateError(msg)


def _check_value(stream: str, value: Any, key: str = "replication_key_value",
                 fix: str = _FIX) -> None:
    if value is None:
        return
    if utc_or_none(value) is None:
        msg = (
            f"State bookmark for '{stream}' has {key} {value!r}, which is not an "
            f"ISO-8601 datetime with a UTC offset. {fix}"
        )
        raise InvalidStateError(msg)
