"""Record values as Zoho sends them, converted to their field's JSON Schema type."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tap_zohocrm.schema.property_kinds import property_kind

FLOAT_DIGITS = 15


class ValueMismatch(ValueError):
    """A value does not fit its field's JSON Schema type."""


def to_utc(value: Any) -> Any:
    """Normalise a Zoho datetime (any offset) to UTC, e.g. `2025-03-04T17:15:02+00:00`."""
    # Zoho's form, `YYYY-MM-DDTHH:MM:SS+HH:MM`: offsets are whole minutes, so the seconds
    # carry over and the rest converts once per minute and offset (a record's own datetimes,
    # and records edited together, often share one); anything else is parsed in full.
    if (type(value) is str and len(value) == 25 and value[16] == ":"
            and value[17] in "012345" and value[18] in DIGITS):
        minute = value[:16] + value[19:]
        utc = _UTC_MINUTES.get(minute)
        if utc is None:
            utc = _parsed_utc(value[:16] + ":00" + value[19:])[:16]
            if len(_UTC_MINUTES) >= CACHE_LIMIT:
                _UTC_MINUTES.clear()
            _UTC_MINUTES[minute] = utc
        return utc + value[16:19] + "+00:00"
    return _parsed_utc(value)


DIGITS = "0123456789"
CACHE_LIMIT = 100_000  # entries of each cache below, cleared when full
_UTC_MINUTES: dict[str, str] = {}  # "YYYY-MM-DDTHH:MM+HH:MM" -> the UTC "YYYY-MM-DDTHH:MM"


def _parsed_utc(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueMismatch(value)
    parsed = datetime.fromisoformat(value)  # ValueError (a ValueMismatch too) when not a date
    if parsed.tzinfo is None:
        raise ValueMismatch(value)
    return parsed.astimezone(UTC).isoformat()


def instant(value: Any) -> datetime | None:
    """A datetime from ISO 8601 text (`Z` or any offset; none means UTC); None when missing or
    not a datetime. For the tap's own times: bookmarks, state keys, start_date."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc_or_none(value: Any) -> str | None:
    """A Zoho datetime in UTC; None when it is missing or not a datetime."""
    try:
        return to_utc(value) if value is not None else None
    except ValueError:
        return None


def to_date(value: Any) -> Any:
    if type(value) is str and value in _DATES:  # a module's records share few dates
        return value
    if not isinstance(value, str):
        raise ValueMismatch(value)
    date.fromisoformat(value)
    if len(_DATES) >= CACHE_LIMIT:
        _DATES.clear()
    _DATES.add(value)
    return value


_DATES: set[str] = set()  # dates seen valid


def to_integer(value: Any) -> Any:
    """Zoho sends bigint values as strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueMismatch(value)


def to_number(value: Any) -> Any:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return json_number(value) if any(c in value for c in ".eE") else int(value)
    raise ValueMismatch(value)


def json_number(text: str) -> float | Decimal:
    """A number with a fraction or exponent (its text holds `.`, `e` or `E`): a float, or a
    Decimal when a float would lose some of its digits (a double carries 15 significant digits
    through text unchanged)."""
    mantissa = text.partition("e")[0].partition("E")[0]
    # A point or an exponent among few characters: the common case.
    if len(text) <= FLOAT_DIGITS + 1 or len(
            mantissa.lstrip("+-").replace(".", "").lstrip("0")) <= FLOAT_DIGITS:
        number = float(text)
        # Past a double's range (1e999 is inf, 1e-999 is 0.0) the digits need a Decimal.
        if math.isfinite(number) and (number or not any(c in "123456789" for c in mantissa)):
            return number
    try:
        value = Decimal(text)
    except InvalidOperation:  # an ArithmeticError, not a ValueError: not a number
        raise ValueMismatch(text) from None
    if not value.is_finite():
        raise ValueMismatch(text)
    return value


def to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueMismatch(value)


def to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    # A number in a text field: its text is lossless (a boolean is no number here).
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueMismatch(value)


Converter = Callable[[Any], Any]


def _reject(value: Any) -> Any:
    raise ValueMismatch(value)


def shape_filler(prop: dict[str, Any]) -> Converter | None:
    """What makes a value of an object (or array of objects) property carry every key the
    schema declares for it, at any depth: a missing key becomes null, as it reads back from a
    Parquet struct. None when the property declares no object keys. A non-object where the
    schema declares an object raises ValueMismatch (the value goes to _zoho_mismatched_values).
    Objects are filled in place, as every other converter changes the record itself: copying
    each lookup of each record cost a third of the per-record conversion time."""
    kind = property_kind(prop)
    if kind == "array":
        item = shape_filler(prop.get("items") or {})
        if item is None:
            return None

        def fill_items(value: Any) -> Any:
            if type(value) is not list:
                raise ValueMismatch(value)
            for v in value:
                if v is not None:
                    item(v)
            return value
        return fill_items
    if kind != "object" or not prop.get("properties"):
        return None
    keys = frozenset(prop["properties"])
    ordered = tuple(prop["properties"])
    inner = [(key, filler) for key, child in prop["properties"].items()
             if (filler := shape_filler(child)) is not None]

    def fill(value: Any) -> Any:
        if type(value) is not dict:
            raise ValueMismatch(value)
        for key, filler in inner:
            v = value.get(key)
            if v is not None:
                filler(v)
        if not keys <= value.keys():
            for key in ordered:
                if key not in value:
                    value[key] = None
        return value
    return fill


def value_converters(schema: dict[str, Any]) -> list[tuple[str, tuple[type, ...], Converter]]:
    """Per property: the Python types that pass as they are, else the converter to apply.

    Built once per stream; the per-record loop then only converts what needs converting
    (datetimes to UTC, bigint strings, objects lacking declared keys) and checks the rest with
    one `type(v) in ok` test.
    Properties with an open schema are absent: any value fits.
    """
    plan: list[tuple[str, tuple[type, ...], Converter]] = []
    for name, prop in schema.get("properties", {}).items():
        kind = property_kind(prop)
        if kind == "date-time":
            plan.append((name, (), to_utc))
        elif kind == "date":
            plan.append((name, (), to_date))
        elif kind == "string":
            plan.append((name, (str,), to_string))
        elif kind == "integer":
            plan.append((name, (int,), to_integer))
        elif kind == "number":
            plan.append((name, (int, float, Decimal), to_number))
        elif kind == "boolean":
            plan.append((name, (bool,), to_boolean))
        elif (filler := shape_filler(prop)) is not None:
            plan.append((name, (), filler))
        elif kind == "object":
            plan.append((name, (dict,), _reject))
        elif kind == "array":
            plan.append((name, (list,), _reject))
    return plan
