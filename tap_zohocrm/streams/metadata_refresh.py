"""Org metadata streams (users, org, roles, profiles, modules, fields) read at most once per
`metadata_refresh_hours`.

Zoho documents no way to ask whether these lists changed, so the only check is to read them,
and an hourly schedule would read them 24 times a day though they seldom change. A stream is
read again once its last read is older than the setting. That read's time is kept in the
stream's state (LAST_FULL_READ_KEY, UTC, when the read began) once the read went to its end: a
read cut off leaves the time before it, so the next run reads again.

A stream that is not due writes no message (no SCHEMA, RECORD or ACTIVATE_VERSION) and makes
no call; its state stays as its last read left it, and the tap's STATE messages carry it on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

NOT_DUE = "not due"  # the run report's status of a metadata stream this run did not read
SETTING = "metadata_refresh_hours"


def next_read(hours: float, last: datetime | None, now: datetime) -> datetime | None:
    """When a stream last read at `last` is read again; None when it is due at `now`: never
    read, its last read an interval ago or more, the setting 0, or a last read later than `now`
    (a clock set back, a state edited by hand: not a time to wait on)."""
    if hours <= 0 or last is None:
        return None
    due = last + timedelta(hours=hours)
    return due if last <= now < due else None
