"""The input state: a usable one passes as it is; an unusable bookmark stops the run with one
line naming the stream, the value and how to fix it, never a silent skip or re-read."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tap_zohocrm.errors import ZohoConfigError
from tap_zohocrm.sync.state_checks import InvalidStateError, read_state_file, validate_state

AT = "2025-03-04T17:15:02+00:00"
EXPORT = {"started_at": "2025-03-04T22:45:02+05:30", "page": 2, "page_token": None}
CLEAR = "meltano state clear <state id>"
FIX = f"Fix the bookmark or drop it (e.g. `{CLEAR}`) to re-read the stream from start_date."


def bookmarks(**streams: Any) -> dict[str, Any]:
    return {"bookmarks": streams}


@pytest.mark.parametrize("state", [
    {},
    {"bookmarks": {}},
    {"currently_syncing": "leads", "bookmarks": {}},
    # A module stream as the tap writes it.
    bookmarks(leads={
        "replication_key": "Modified_Time", "replication_key_value": AT,
        "bookmark_read_at": "2025-03-04T17:20:00+00:00", "last_full_read": AT,
        "ids_checked_at": AT, "deletions_listed_at": AT, "bulk_read_export": EXPORT}),
    bookmarks(leads={"replication_key_value": "2025-03-04T17:15:02Z"}),
    bookmarks(leads={"replication_key_value": "2025-03-04T22:45:02+05:30"}),
    bookmarks(leads={"replication_key_value": None}),
    bookmarks(leads={"replication_key_signpost": AT, "starting_replication_value": AT,
                     "progress_markers": {"Note": "Progress is not resumable"}}),
    bookmarks(contacts={"bulk_read_export": {**EXPORT, "page": 1, "page_token": "a1b2"}}),
    # Deleted records: one partition per module.
    bookmarks(deleted_records={"partitions": [
        {"context": {"module": "Leads"}, "replication_key": "deleted_time",
         "replication_key_value": AT, "deletions_listed_at": AT},
        {"context": {"module": "Deals"}}]}),
    bookmarks(users={"last_full_read": AT}, leads_x_contacts={}),
])
def test_a_usable_state_passes(state, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        validate_state(state)
    assert not caplog.records


def _refused(state: Any) -> str:
    with pytest.raises(InvalidStateError) as raised:
        validate_state(state)
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("state", "says"), [
    ([], ["State must be a JSON object, got list."]),
    ("{}", ["State must be a JSON object, got str."]),
    (None, ["State must be a JSON object, got NoneType."]),
    ({"bookmarks": []}, ["State `bookmarks` must be an object of stream name -> bookmark."]),
    # A stream of an older version or another Zoho tap: named, with the tap's own name.
    (bookmarks(Leads={"replication_key_value": AT}),
     ["'Leads', which is not a stream of this tap", "e.g. 'leads'", FIX]),
    (bookmarks(leads=AT), ["State bookmark for 'leads' must be an object.", FIX]),
    (bookmarks(leads=None), ["State bookmark for 'leads' must be an object."]),
])
def test_a_state_of_the_wrong_shape_is_refused(state, says) -> None:
    message = _refused(state)
    assert all(part in message for part in says), message


NOT_A_TIME = "which is not an ISO-8601 datetime with a UTC offset"


@pytest.mark.parametrize("value", [
    "yesterday", "2025-03-04T17:15:02", "2025-03-04", "", 1741108502, True, ["x"],
])
@pytest.mark.parametrize(("key", "fix"), [
    ("replication_key_value", FIX),
    ("bookmark_read_at", FIX),
    ("deletions_listed_at",
     "Drop that key: the deleted records are then listed in full at the next run."),
    ("ids_checked_at", "Drop that key: the stream is then read in full again at its next run "
                       "(deleted_id_check_hours)."),
    ("last_full_read", "Drop that key: the stream is then read in full again at its next run "
                       "(computed_refresh_days, metadata_refresh_hours)."),
])
def test_a_time_that_is_not_an_instant_is_refused_with_its_fix(key, fix, value) -> None:
    message = _refused(bookmarks(leads={"replication_key_value": AT, key: value}))
    assert message.startswith(f"State bookmark for 'leads' has {key} {value!r}, {NOT_A_TIME}.")
    assert message.endswith(fix)


@pytest.mark.parametrize("key", ["replication_key_value", "deletions_listed_at"])
def test_a_partitions_time_is_checked_too(key) -> None:
    state = bookmarks(deleted_records={"partitions": [
        {"context": {"module": "Leads"}, "replication_key_value": AT},
        {"context": {"module": "Deals"}, key: "2025-03-04 17:15"}]})
    message = _refused(state)
    assert message.startswith(f"State bookmark for 'deleted_records' has {key} "
                              f"'2025-03-04 17:15', {NOT_A_TIME}.")


@pytest.mark.parametrize("export", [
    {**EXPORT, "started_at": "2025-03-04T17:15:02"},  # no offset
    {**EXPORT, "started_at": "not a time"},
    {**EXPORT, "started_at": None},
    {"page": 2, "page_token": None},
    {**EXPORT, "page": 0},
    {**EXPORT, "page": "2"},
    {**EXPORT, "page": 2.0},
    {**EXPORT, "page_token": 5},
    "2025-03-04T17:15:02+00:00",
    [EXPORT],
])
def test_a_bulk_read_export_it_cannot_go_on_from_is_refused(export) -> None:
    message = _refused(bookmarks(leads={"replication_key_value": AT, "bulk_read_export": export}))
    assert message.startswith(f"State bookmark for 'leads' has bulk_read_export {export!r}, "
                              "which is not where a Bulk Read export goes on from")
    assert message.endswith("Drop that key to start the export over.")


@pytest.mark.parametrize("partitions", [None, "Leads", ["Leads"], {"module": "Leads"}])
def test_partitions_that_are_not_a_list_of_objects_are_refused(partitions) -> None:
    with pytest.raises(InvalidStateError, match="'deleted_records'"):
        validate_state(bookmarks(deleted_records={"partitions": partitions}))


@pytest.mark.parametrize(("bookmark", "starts_over"), [
    ({"replication_key_value": AT, "sdk_key_of_tomorrow": 1}, False),
    ({"partitions": [], "sdk_key_of_tomorrow": 1}, False),
    ({"bulk_read_export": EXPORT, "sdk_key_of_tomorrow": 1}, False),
    ({"sdk_key_of_tomorrow": 1, "another": 2}, True),
])
def test_unknown_keys_are_a_warning_and_stay(bookmark, starts_over, caplog) -> None:
    state = bookmarks(leads=bookmark)
    kept = repr(state)
    with caplog.at_level(logging.WARNING, logger="tap-zohocrm.state"):
        validate_state(state)
    assert repr(state) == kept
    [record] = caplog.records
    line = record.getMessage()
    assert "'leads'" in line and re.search(r"\((another, )?sdk_key_of_tomorrow\)", line)
    assert ("the stream is read from start_date" in line) is starts_over


def test_a_state_file_is_read_as_json() -> None:
    assert read_state_file('{"bookmarks": {"leads": {}}}', "state.json") == {
        "bookmarks": {"leads": {}}}


@pytest.mark.parametrize("text", ["", "{", '{"bookmarks": }', "bookmarks: {}"])
def test_a_state_file_that_is_not_json_says_how_to_recover(text) -> None:
    with pytest.raises(InvalidStateError) as raised:
        read_state_file(text, "state.json")
    message = str(raised.value)
    assert message.startswith("State file state.json is not valid JSON (")
    assert CLEAR in message and "start_date" in message
    assert isinstance(raised.value, ZohoConfigError)  # the CLI's one-line configuration error
