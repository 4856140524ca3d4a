"""Bulk Read criteria: a job's `criteria` checked and compiled into a test of a stored record.

Comparators per kind of field follow the create-job comparators table (OAS enum); text and
picklists compare case-insensitively, `${EMPTY}` with equal/not_equal tests for no value, and
a stored value of another type never matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .api_types import BulkError, bulk_error
from .fields import FieldDef
from .records import Rec, parse_iso

MAX_CRITERIA = 25  # Kaizen #195: "up to 25 total"
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMPTY = "${EMPTY}"

# Comparators per kind of field (Bulk Read create-job comparators table, OAS enum).
_ORDERED = ["equal", "not_equal", "in", "not_in", "less_than", "less_equal", "greater_than",
            "greater_equal", "between", "not_between"]
COMPARATORS: dict[str, list[str]] = {
    "datetime": _ORDERED, "date": _ORDERED, "number": _ORDERED, "id": _ORDERED,
    "text": ["equal", "not_equal", "in", "not_in", "contains", "not_contains", "starts_with",
             "ends_with"],
    "picklist": ["equal", "not_equal", "in", "not_in"],
    "boolean": ["equal", "not_equal"],
    "lookup": ["equal", "not_equal", "in", "not_in"],
}
ALL_COMPARATORS = {c for cs in COMPARATORS.values() for c in cs}
TEXT_TYPES = {"text", "textarea", "email", "phone", "website", "mediumtext", "autonumber"}
NUMBER_TYPES = {"integer", "long", "bigint", "double", "currency", "percent"}


def always(rec: Rec) -> bool:
    return True


def field_kind(fd: FieldDef) -> str | None:
    """Criteria kind of a field (None: not usable in criteria)."""
    dt = fd.data_type
    if fd.api_name == "id":
        return "id"
    for key in ("formula", "rollup_summary"):
        if dt == key:
            dt = (fd.meta.get(key) or {}).get("return_type", "text")
    if dt in ("datetime",):
        return "datetime"
    if dt == "date":
        return "date"
    if dt in NUMBER_TYPES:
        return "number"
    if dt in TEXT_TYPES:
        return "text"
    if dt == "picklist":
        return "picklist"
    if dt == "boolean":
        return "boolean"
    if dt in ("lookup", "ownerlookup", "userlookup"):
        return "lookup"
    return None


def _count(crit: Any) -> int:
    if isinstance(crit, dict) and isinstance(crit.get("group"), list):
        return sum(_count(c) for c in crit["group"])
    return 1


def compile_criteria(crit: Any, by_api: dict[str, FieldDef]) -> Callable[[Rec], bool]:
    if crit is None or crit == {}:
        return always
    if _count(crit) > MAX_CRITERIA:
        raise bulk_error("CRITERIA_LIMIT_EXCEEDED", "criteria limit exceeded", limit=MAX_CRITERIA)
    test = _compile(crit, by_api)

    def guarded(rec: Rec) -> bool:
        try:
            return test(rec)
        except (AttributeError, TypeError, ValueError):  # a stored value of another type
            return False
    return guarded


def _compile(crit: Any, by_api: dict[str, FieldDef]) -> Callable[[Rec], bool]:
    if not isinstance(crit, dict):
        raise bulk_error("INVALID_CRITERIA", "the criteria is invalid")
    if "group" in crit:
        group = crit["group"]
        op = crit.get("group_operator")
        if not isinstance(group, list) or not group:
            raise bulk_error("INVALID_CRITERIA", "the criteria is invalid", api_name="group")
        if not isinstance(op, str) or op.lower() not in ("and", "or"):
            raise bulk_error("GROUP_OPERATOR_NOT_SUPPORTED", "the group operator is not supported",
                             group_operator=op)
        parts = [_compile(c, by_api) for c in group]
        if op.lower() == "and":
            return lambda r: all(p(r) for p in parts)
        return lambda r: any(p(r) for p in parts)
    fld, comparator = crit.get("field"), crit.get("comparator")
    if "value" not in crit or not isinstance(comparator, str) or not (
            isinstance(fld, dict) and isinstance(fld.get("api_name"), str)):
        raise bulk_error("INVALID_CRITERIA", "the criteria is invalid")
    api = fld["api_name"]
    fd = by_api.get(api)
    if fd is None:
        raise bulk_error("FIELD_IN_CRITERIA_NOT_AVAILABLE", "the field in the criteria is not "
                         "available", api_name=api)
    kind = field_kind(fd)
    if kind is None or "." in api:
        raise bulk_error("FIELD_IN_CRITERIA_NOT_SUPPORTED",
                         "the field is not supported in criteria", api_name=api)
    if comparator not in ALL_COMPARATORS or comparator not in COMPARATORS[kind]:
        raise bulk_error("FIELD_AND_COMPARATOR_IN_CRITERIA_NOT_COMPATIBLE", "the comparator is not "
                         "supported for the field", api_name=api, comparator=comparator,
                         supported=COMPARATORS[kind])
    return _predicate(fd, kind, comparator, crit["value"])


def _value_error(api: str) -> BulkError:
    return bulk_error("FIELD_AND_VALUE_IN_CRITERIA_NOT_COMPATIBLE",
                      "the value is not valid for the field", api_name=api)


def _predicate(fd: FieldDef, kind: str, comparator: str, raw: Any) -> Callable[[Rec], bool]:
    api = fd.api_name
    if comparator in ("equal", "not_equal") and raw == EMPTY:
        getter = value_getter(fd, kind)
        if comparator == "equal":
            return lambda r: getter(r) in (None, "")
        return lambda r: getter(r) not in (None, "")
    if comparator in ("in", "not_in"):
        if not isinstance(raw, list) or not raw:
            raise _value_error(api)
        values = [_operand(fd, kind, v) for v in raw]
    elif comparator in ("between", "not_between"):
        if not isinstance(raw, list) or len(raw) != 2:
            raise _value_error(api)
        values = [_operand(fd, kind, v) for v in raw]
    else:
        if isinstance(raw, list | dict):
            raise _value_error(api)
        values = [_operand(fd, kind, raw)]
    getter = value_getter(fd, kind)
    if kind in ("text", "picklist"):
        getter = _lower(getter)
    v0 = values[0]
    test: Callable[[Any], bool]
    if comparator == "equal":
        test = lambda x: x == v0  # noqa: E731
    elif comparator == "not_equal":
        test = lambda x: x != v0  # noqa: E731
    elif comparator == "in":
        pool = set(values)
        test = lambda x: x in pool  # noqa: E731
    elif comparator == "not_in":
        pool = set(values)
        test = lambda x: x not in pool  # noqa: E731
    elif comparator == "contains":
        test = lambda x: x is not None and v0 in x  # noqa: E731
    elif comparator == "not_contains":
        test = lambda x: x is None or v0 not in x  # noqa: E731
    elif comparator == "starts_with":
        test = lambda x: x is not None and x.startswith(v0)  # noqa: E731
    elif comparator == "ends_with":
        test = lambda x: x is not None and x.endswith(v0)  # noqa: E731
    else:
        test = _order_test(comparator, values)
    return lambda r: test(getter(r))


def _order_test(comparator: str, values: list[Any]) -> Callable[[Any], bool]:
    v0 = values[0]
    if comparator == "less_than":
        return lambda x: x is not None and x < v0
    if comparator == "less_equal":
        return lambda x: x is not None and x <= v0
    if comparator == "greater_than":
        return lambda x: x is not None and x > v0
    if comparator == "greater_equal":
        return lambda x: x is not None and x >= v0
    lo, hi = values
    if comparator == "between":  # inclusive at both ends
        return lambda x: x is not None and lo <= x <= hi
    return lambda x: x is not None and not lo <= x <= hi  # not_between


def _lower(getter: Callable[[Rec], Any]) -> Callable[[Rec], Any]:
    def get(r: Rec) -> Any:
        x = getter(r)
        return x.lower() if isinstance(x, str) else x
    return get


def _operand(fd: FieldDef, kind: str, value: Any) -> Any:
    """A criteria value in the form `_getter` returns record values in."""
    api = fd.api_name
    if kind == "datetime":
        # Create-job docs: ISO 8601 with an offset, no milliseconds.
        if not isinstance(value, str) or not DATETIME_RE.match(value):
            raise _value_error(api)
        return parse_iso(value)
    if kind == "date":
        if not isinstance(value, str) or not DATE_RE.match(value):
            raise _value_error(api)
        return value
    if kind in ("number", "id"):
        if isinstance(value, bool):
            raise _value_error(api)
        if isinstance(value, int | float):
            return value
        try:
            return int(value) if str(value).lstrip("-").isdigit() else float(value)
        except (TypeError, ValueError):
            raise _value_error(api) from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise _value_error(api)
    if kind == "lookup":
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.isdigit():
            return value
        raise _value_error(api)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _value_error(api)
    return str(value).lower()  # text and picklists compare case-insensitively


def value_getter(fd: FieldDef, kind: str) -> Callable[[Rec], Any]:
    api = fd.api_name
    if kind == "id":
        return lambda r: r.id
    if api == "Modified_Time":
        return lambda r: r.mt
    if api == "Created_Time":
        return lambda r: r.ct
    if kind == "datetime":
        def get_dt(r: Rec) -> Any:
            x = r.values.get(api)
            return parse_iso(x) if isinstance(x, str) else None
        return get_dt
    if kind == "number":
        def get_num(r: Rec) -> Any:
            x = r.values.get(api)
            if isinstance(x, str):  # bigint
                return int(x) if x.lstrip("-").isdigit() else None
            return x
        return get_num
    if kind == "lookup":
        def get_id(r: Rec) -> Any:
            x = r.values.get(api)
            return x.get("id") if isinstance(x, dict) else None
        return get_id
    return lambda r: r.values.get(api)

