"""When a module's deleted records are listed whatever the recycle bin shows, where a listing
goes on from, and which modules' deletions go through the recycle bin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from tap_zohocrm.streams.recycle_bin import (
    FUTURE_SKEW,
    due_whatever_it_shows,
    goes_through_recycle_bin,
    listed_since,
)

DAY = {"deleted_full_listing_hours": 24}


# The last listing: its time as the state holds it, or how long before the test it was.
@pytest.mark.parametrize(("config", "listed_at", "due"), [
    # Never listed, or a listing time the tap cannot read: list.
    (DAY, None, True),
    (DAY, "", True),
    (DAY, "not a time", True),
    # Listed less than deleted_full_listing_hours ago: the recycle bin decides.
    (DAY, timedelta(minutes=5), False),
    (DAY, timedelta(hours=23, minutes=59), False),
    ({"deleted_full_listing_hours": "24"}, timedelta(hours=23), False),
    ({"deleted_full_listing_hours": 0.5}, timedelta(minutes=20), False),
    # That old or older: listed, whatever the recycle bin shows.
    (DAY, timedelta(hours=24, minutes=1), True),
    (DAY, timedelta(days=30), True),
    ({"deleted_full_listing_hours": 0.5}, timedelta(minutes=31), True),
    # The setting at 0 (or below): every run lists.
    ({"deleted_full_listing_hours": 0}, timedelta(minutes=1), True),
    ({"deleted_full_listing_hours": -1}, timedelta(minutes=1), True),
    # Zoho's clock a little ahead of the tap's: a skew, not a reason to list.
    (DAY, -timedelta(minutes=30), False),
    (DAY, -(FUTURE_SKEW - timedelta(minutes=1)), False),
    # Later than any skew explains (a state edited by hand): no time to go on from.
    (DAY, -(FUTURE_SKEW + timedelta(minutes=1)), True),
    (DAY, -timedelta(days=365), True),
])
def test_due_whatever_it_shows(config, listed_at, due) -> None:
    if isinstance(listed_at, timedelta):
        listed_at = (datetime.now(UTC) - listed_at).isoformat()
    assert due_whatever_it_shows(config, listed_at) is due


def test_a_listing_time_without_an_offset_is_utc() -> None:
    naive = (datetime.now(UTC) - timedelta(hours=23)).replace(tzinfo=None).isoformat()
    assert due_whatever_it_shows(DAY, naive) is False


@pytest.mark.parametrize(("listed_at", "since"), [
    ("2025-03-04T17:15:02+00:00", "2025-03-04T17:10:02+00:00"),
    ("2025-03-04T17:15:02Z", "2025-03-04T17:10:02+00:00"),
    ("2025-03-04T22:45:02+05:30", "2025-03-04T22:40:02+05:30"),  # its offset kept
    ("2025-03-04T17:15:02", "2025-03-04T17:10:02+00:00"),
    ("2025-03-05T00:02:00+00:00", "2025-03-04T23:57:00+00:00"),  # across midnight
    (None, None),
    ("", None),
    ("later", None),
])
def test_a_listing_goes_on_from_five_minutes_before_the_last(listed_at, since) -> None:
    assert listed_since(listed_at) == since


def _run(*modules: dict[str, Any] | str) -> SimpleNamespace:
    """A run whose settings/modules answer lists `modules`."""
    return SimpleNamespace(settings_lists={"/settings/modules": list(modules)})


ON = {"recycle_bin_on_delete": True}
OFF = {"recycle_bin_on_delete": False}


@pytest.mark.parametrize(("run", "module", "goes"), [
    (_run({"api_name": "Leads", **ON}), "Leads", True),
    (_run({"api_name": "Leads", **OFF}), "Leads", False),
    (_run({"api_name": "Leads"}), "Leads", False),  # not said: it may skip the recycle bin
    (_run({"api_name": "Leads", "recycle_bin_on_delete": "true"}), "Leads", False),
    (_run({"api_name": "Deals", **ON}), "Leads", False),  # not listed this run
    (_run(), "Leads", False),
    (SimpleNamespace(settings_lists={}), "Leads", False),
    (_run("Leads", {"api_name": "Leads", **ON}), "Leads", True),  # a stray item is ignored
    # Activities: its tasks, events and calls, each of them.
    (_run(*({"api_name": m, **ON} for m in ("Tasks", "Events", "Calls"))), "Activities", True),
    (_run({"api_name": "Activities", **ON}, *({"api_name": m, **ON} for m in ("Tasks", "Events")),
          {"api_name": "Calls", **OFF}), "Activities", False),
    (_run({"api_name": "Activities", **ON}), "Activities", False),
])
def test_goes_through_recycle_bin(run, module, goes) -> None:
    assert goes_through_recycle_bin(run, module) is goes
