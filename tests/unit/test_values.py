"""A Zoho value converted to its property's JSON Schema type: datetimes in UTC, numbers from
text (Decimal where a double would lose digits), booleans; a value that does not fit is a
ValueError, which post_process keeps aside in _zoho_mismatched_values."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.record_values import RecordValues
from tap_zohocrm.schema.values import (
    ValueMismatch,
    instant,
    json_number,
    shape_filler,
    to_boolean,
    to_date,
    to_integer,
    to_number,
    to_string,
    to_utc,
    utc_or_none,
    value_converters,
)

IST = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(("value", "utc"), [
    ("2025-03-04T22:45:02+05:30", "2025-03-04T17:15:02+00:00"),
    ("2025-03-04T12:15:02-05:00", "2025-03-04T17:15:02+00:00"),
    ("2025-03-04T17:15:02+00:00", "2025-03-04T17:15:02+00:00"),
    ("2025-03-04T17:15:02Z", "2025-03-04T17:15:02+00:00"),
    ("2025-03-05T01:15:02+08:00", "2025-03-04T17:15:02+00:00"),  # the day before in UTC
])
def test_datetimes_are_written_in_utc(value, utc) -> None:
    assert to_utc(value) == utc
    assert utc_or_none(value) == utc


@pytest.mark.parametrize("value", [
    "2025-03-04T17:15:02",  # no offset: the instant is unknown
    "2025-03-04",
    "yesterday",
    "",
    1741108502,
    None,
    {"value": "2025-03-04T17:15:02+00:00"},
])
def test_a_value_that_is_not_a_zoho_datetime_does_not_fit(value) -> None:
    with pytest.raises(ValueError):
        to_utc(value)
    assert utc_or_none(value) is None


@pytest.mark.parametrize(("value", "at"), [
    ("2025-03-04T17:15:02Z", datetime(2025, 3, 4, 17, 15, 2, tzinfo=UTC)),
    ("2025-03-04T22:45:02+05:30", datetime(2025, 3, 4, 22, 45, 2, tzinfo=IST)),
    # The tap's own times (start_date, state keys) without an offset are UTC.
    ("2025-03-04T17:15:02", datetime(2025, 3, 4, 17, 15, 2, tzinfo=UTC)),
    ("2025-03-04", datetime(2025, 3, 4, tzinfo=UTC)),
    (None, None),
    ("", None),
    ("not a time", None),
])
def test_instant(value, at) -> None:
    parsed = instant(value)
    assert parsed == at
    assert parsed is None or parsed.tzinfo is not None


def test_instant_keeps_the_offset_it_was_given() -> None:
    parsed = instant("2025-03-04T22:45:02+05:30")
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(("convert", "value", "converted"), [
    (to_date, "2025-03-04", "2025-03-04"),
    # Zoho sends bigint values as strings; integers past 2**63 stay whole.
    (to_integer, 42, 42),
    (to_integer, "5725767000000411001", 5725767000000411001),
    (to_integer, "-12", -12),
    (to_integer, str(2**70), 2**70),
    (to_integer, 3.0, 3),
    (to_integer, Decimal("9223372036854775807.000"), 2**63 - 1),
    # Numbers: text with a fraction or exponent is a float, or a Decimal past 15 digits.
    (to_number, 7, 7),
    (to_number, 1.5, 1.5),
    (to_number, Decimal("1.25"), Decimal("1.25")),
    (to_number, "12", 12),
    (to_number, "99999999999999999999", 99999999999999999999),
    (to_number, "-0.25", -0.25),
    (to_number, "1.5E3", 1500.0),
    (to_number, "12345678901234.5", 12345678901234.5),
    (to_number, "0.000000000000001234", 1.234e-15),  # leading zeros are no digits lost
    (to_number, "1234567890123456.7", Decimal("1234567890123456.7")),
    (to_number, "0.1234567890123456789", Decimal("0.1234567890123456789")),
    (to_boolean, True, True),
    (to_boolean, False, False),
    (to_boolean, "true", True),
    (to_boolean, "false", False),
    # A number in a text field: its text, digit for digit.
    (to_string, "Acme", "Acme"),
    (to_string, 5725767000000411001, "5725767000000411001"),
    (to_string, 1.5, "1.5"),
    (to_string, Decimal("10.10"), "10.10"),
])
def test_values_that_fit_after_conversion(convert, value, converted) -> None:
    result = convert(value)
    assert result == converted
    assert type(result) is type(converted)


@pytest.mark.parametrize(("convert", "value"), [
    (to_date, "2025-02-30"),
    (to_date, "04/03/2025"),
    (to_date, 20250304),
    (to_integer, "1.5"),
    (to_integer, "twelve"),
    (to_integer, 1.5),
    (to_integer, True),
    (to_integer, Decimal("1.5")),
    (to_integer, Decimal("NaN")),
    (to_integer, Decimal("Infinity")),
    (to_integer, float("nan")),
    (to_integer, None),
    (to_integer, [1]),
    (to_number, "not a number 1.5"),
    (to_number, "1.2.3"),
    (to_number, "NaN"),
    (to_number, "Infinity"),
    (to_number, "1,234.5"),
    (to_number, True),
    (to_number, None),
    (to_number, {"amount": 1}),
    (to_boolean, "True"),
    (to_boolean, "yes"),
    (to_boolean, 1),
    (to_boolean, 0),
    (to_boolean, None),
    (to_string, None),
    (to_string, {"name": "Acme"}),
    (to_string, ["Acme"]),
])
def test_values_that_do_not_fit_raise_value_error(convert, value) -> None:
    with pytest.raises(ValueError):
        convert(value)


def test_a_boolean_in_a_text_field_does_not_fit() -> None:
    with pytest.raises(ValueMismatch):
        to_string(True)


@pytest.mark.parametrize("text", ["1e999", "1e-999"])
def test_a_number_past_a_doubles_range_keeps_its_value(text) -> None:
    assert json_number(text) == Decimal(text)


@pytest.mark.parametrize("text", ["1,234,567,890,123.456", "12345678901234567.5 USD"])
def test_long_text_that_is_no_number_does_not_fit(text) -> None:
    with pytest.raises(ValueError):
        to_number(text)


def test_value_mismatch_is_a_value_error() -> None:
    assert issubclass(ValueMismatch, ValueError)


OBJECT = {"type": ["object", "null"], "properties": {
    "id": {"type": ["string", "null"]}, "name": {"type": ["string", "null"]}}}
SCHEMA: dict[str, Any] = {"properties": {
    "Modified_Time": {"type": ["string", "null"], "format": "date-time"},
    "Closing_Date": {"type": ["string", "null"], "format": "date"},
    "Deal_Name": {"type": ["string", "null"]},
    "id": {"type": ["integer", "null"]},
    "Amount": {"type": ["number", "null"]},
    "Email_Opt_Out": {"type": ["boolean", "null"]},
    "Owner": OBJECT,
    "Tag": {"type": ["array", "null"], "items": OBJECT},
    "Layout_Data": {"type": ["object", "null"]},
    "Multi": {"type": ["array", "null"], "items": {"type": "string"}},
    "Anything": {},
    "Either": {"type": ["string", "integer", "null"]},
}}


def fit(row: dict[str, Any]) -> dict[str, Any]:
    """What post_process does (RecordValues): a value of an allowed type stays, any other is
    converted; one that cannot be is set aside. Returns what was set aside."""
    schema = {"properties": {**SCHEMA["properties"], MISMATCH_PROPERTY: {}}}  # as discovered
    RecordValues(schema, logging.getLogger("test"), lambda: "Deals").fit(row)
    return row.pop(MISMATCH_PROPERTY, {})


def test_open_properties_get_no_converter() -> None:
    assert {name for name, _, _ in value_converters(SCHEMA)} == set(SCHEMA["properties"]) - {
        "Anything", "Either"}
    assert value_converters({}) == []


def test_a_record_is_made_to_fit_its_schema() -> None:
    row = {"Modified_Time": "2025-03-04T22:45:02+05:30", "Closing_Date": "2025-03-31",
           "Deal_Name": 1234, "id": "5725767000000411001", "Amount": "1234567890123456.78",
           "Email_Opt_Out": "false", "Owner": {"id": "1"}, "Tag": [{"name": "vip"}, None],
           "Layout_Data": {"x": 1}, "Multi": ["a"], "Anything": [1, "a"], "Either": 3.5}
    assert fit(row) == {}
    assert row == {
        "Modified_Time": "2025-03-04T17:15:02+00:00", "Closing_Date": "2025-03-31",
        "Deal_Name": "1234", "id": 5725767000000411001,
        "Amount": Decimal("1234567890123456.78"), "Email_Opt_Out": False,
        "Owner": {"id": "1", "name": None}, "Tag": [{"name": "vip", "id": None}, None],
        "Layout_Data": {"x": 1}, "Multi": ["a"], "Anything": [1, "a"], "Either": 3.5}


def test_values_that_cannot_fit_are_set_aside() -> None:
    row = {"Modified_Time": "2025-03-04T17:15:02", "Closing_Date": "soon", "Deal_Name": ["x"],
           "id": "12a", "Amount": "lots", "Email_Opt_Out": "yes", "Owner": "Jane",
           "Tag": {"name": "vip"}, "Layout_Data": "x", "Multi": "a"}
    original = dict(row)
    assert fit(row) == original
    assert all(row[key] is None for key in original)


@pytest.mark.parametrize(("prop", "value", "filled"), [
    (OBJECT, {}, {"id": None, "name": None}),
    (OBJECT, {"id": "1", "extra": 2}, {"id": "1", "name": None, "extra": 2}),
    ({"type": "object", "properties": {"Owner": OBJECT}}, {"Owner": {"id": "1"}},
     {"Owner": {"id": "1", "name": None}}),
    ({"type": "object", "properties": {"Owner": OBJECT}}, {"Owner": None}, {"Owner": None}),
    ({"type": "array", "items": OBJECT}, [{"id": "1"}, None], [{"id": "1", "name": None}, None]),
    ({"type": "array", "items": {"type": "array", "items": OBJECT}}, [[{}]],
     [[{"id": None, "name": None}]]),
])
def test_objects_get_every_declared_key_in_place(prop, value, filled) -> None:
    filler = shape_filler(prop)
    assert filler is not None
    assert filler(value) is value
    assert value == filled


@pytest.mark.parametrize("prop", [
    {"type": "object"}, {"type": "object", "properties": {}}, {"type": "string"},
    {"type": "array", "items": {"type": "string"}}, {"type": "array"}, {},
])
def test_no_filler_without_declared_object_keys(prop) -> None:
    assert shape_filler(prop) is None


@pytest.mark.parametrize(("prop", "value"), [
    (OBJECT, "Jane"), (OBJECT, [{"id": "1"}]), ({"type": "array", "items": OBJECT}, {"id": "1"}),
    ({"type": "array", "items": OBJECT}, ["x"]),
    ({"type": "object", "properties": {"Owner": OBJECT}}, {"Owner": "Jane"}),
])
def test_a_non_object_where_one_is_declared_does_not_fit(prop, value) -> None:
    filler = shape_filler(prop)
    assert filler is not None
    with pytest.raises(ValueMismatch):
        filler(value)


def test_a_record_whose_values_all_have_their_type_is_only_converted_where_needed() -> None:
    row = {"Modified_Time": "2025-03-04T22:45:02+05:30", "Deal_Name": "x", "id": 7,
           "Amount": 1.5, "Email_Opt_Out": None, "Owner": {"id": "1"}, "Multi": ["a"]}
    assert fit(row) == {}
    assert row == {"Modified_Time": "2025-03-04T17:15:02+00:00", "Deal_Name": "x", "id": 7,
                   "Amount": 1.5, "Email_Opt_Out": None, "Owner": {"id": "1", "name": None},
                   "Multi": ["a"]}


def test_a_bad_value_among_converted_ones_is_set_aside_after_the_others_are_converted() -> None:
    # Owner is filled and Modified_Time converted before Closing_Date fails: the key-by-key
    # pass that follows takes their converted values as they are.
    row = {"Modified_Time": "2025-03-04T22:45:02+05:30", "Owner": {"id": "1"},
           "Closing_Date": "soon", "Tag": "vip", "Deal_Name": "x"}
    assert list(fit(row).items()) == [("Closing_Date", "soon"), ("Tag", "vip")]
    assert row == {"Modified_Time": "2025-03-04T17:15:02+00:00", "Closing_Date": None,
                   "Owner": {"id": "1", "name": None}, "Tag": None, "Deal_Name": "x"}


def test_datetimes_convert_to_utc_as_a_full_parse_does() -> None:
    rng = random.Random(5)
    offsets = ["+00:00", "+05:30", "-03:30", "+05:45", "-12:00", "+14:00", "-00:00"]
    values = [f"{rng.choice(['1999-12-31', '2024-02-29', '2025-01-01', '2026-07-15'])}T"
              f"{rng.randrange(24):02}:{rng.randrange(60):02}:{rng.randrange(60):02}"
              f"{rng.choice(offsets)}" for _ in range(2000)]
    values += ["2025-03-04 22:45:02+05:30", "2025-03-04T22:45:02.123+05:30",
               "2025-03-04T22:45:02Z"]
    for value in values * 2:  # the second time from the cache
        assert to_utc(value) == datetime.fromisoformat(value).astimezone(UTC).isoformat(), value


@pytest.mark.parametrize("value", [
    "2025-03-04T22:45:60+05:30", "2025-03-04T22:45:0x+05:30", "2025-03-04T22:45:02",
    "2025-02-30T22:45:02+05:30", "2025-03-04T25:45:02+05:30", "2025-03-04T22:45:02+05:3x",
    "2025-03-04T22:45:²2+05:30", ["2025-03-04T22:45:02+05:30"], {"x": 1}, 5])
def test_datetimes_that_are_not_ones_do_not_fit(value: Any) -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            to_utc(value)


@pytest.mark.parametrize("value", ["2025-02-30", "soon", ["2025-03-31"], {"d": 1}, 20250331])
def test_dates_that_are_not_ones_do_not_fit(value: Any) -> None:
    assert to_date("2025-03-31") == "2025-03-31"
    for _ in range(2):
        with pytest.raises(ValueError):
            to_date(value)
