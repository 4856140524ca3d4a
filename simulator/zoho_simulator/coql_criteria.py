"""A COQL query's WHERE and ORDER BY against a module's fields: which fields and comparators
each data type allows, values read as the field's type, and the tests and sort keys they make.

From Zoho's v7 Get Records through a COQL Query ("Field Types and their Comparators") and
COQL Limitations:
* text, picklist: `=, !=, like, not like, in, not in, is null, is not null`; `like` takes `%`
  at either end (starts with, ends with, contains), `not like` only `%...%`;
* lookup, owner and user lookups (and the id a consent or multi-module lookup holds):
  `=, !=, in, not in, is null, is not null`, on the id;
* date, datetime, numbers (and formulas and rollups returning them), id: the ordered
  comparators too, `between` inclusive; a datetime in ISO 8601 with any offset;
* boolean: `=` (and, for a formula returning a boolean, `is null`, `is not null`);
* multi-line fields (text areas) are not allowed in criteria, territories only in SELECT.
Where the docs are silent the choices are SQL's: text compares case-insensitively (like Bulk
Read's criteria, bulk_criteria.py), an empty value matches no comparator but `is null`, and
ORDER BY puts empty values first ascending, last descending.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .api_types import ApiError
from .bulk_criteria import DATE_RE, DATETIME_RE, field_kind, value_getter
from .coql_query import SELECT_QUERY_MESSAGE, Condition, Criteria, Value
from .fields import FieldDef
from .records import Rec, parse_iso

COLUMN_INVALID = "column given seems to be invalid"
VALUE_INVALID = "value given seems to be invalid for the column"
TYPE_UNSUPPORTED = "data type not supported"
TERRITORY_WHERE = "Territory fields only supported in the SELECT clause"

_EQUALITY = {"=", "!=", "in", "not in", "is null", "is not null"}
_ORDERED = _EQUALITY | {"<", "<=", ">", ">=", "between", "not between"}
COMPARATORS: dict[str, set[str]] = {
    "datetime": _ORDERED, "date": _ORDERED, "number": _ORDERED, "id": _ORDERED,
    "text": _EQUALITY | {"like", "not like"}, "picklist": _EQUALITY | {"like", "not like"},
    "lookup": _EQUALITY, "boolean": {"=", "is null", "is not null"},
    "multi": {"=", "!=", "is null", "is not null"},
}
# Types COQL cannot select (COQL Limitations): their data lives in modules of their own
# (subform and linking modules, which COQL reads), or is no column at all.
UNSELECTABLE_TYPES = {"multiselectlookup", "multiuserlookup", "fileupload", "imageupload",
                      "subform"}
TERRITORY_TYPES = {"territory", "territories"}
# Fields refused by name: Events' Participants, the line items of inventory modules.
UNSELECTABLE_FIELDS = {("Events", "Participants"), ("Price_Books", "Pricing_Details"),
                       ("Quotes", "Product_Details"), ("Sales_Orders", "Product_Details"),
                       ("Purchase_Orders", "Product_Details"), ("Invoices", "Product_Details")}

Predicate = Callable[[Rec], bool]


def invalid_query(message: str, **details: Any) -> ApiError:
    return ApiError(400, "INVALID_QUERY", message, details)


def unselectable(module: str, fd: FieldDef, version: float) -> bool:
    """A field COQL refuses anywhere in a query ("data type not supported"); territories
    are selectable from v7 on (and then only selectable)."""
    if fd.data_type in TERRITORY_TYPES:
        return version < 7
    return fd.data_type in UNSELECTABLE_TYPES or (module, fd.api_name) in UNSELECTABLE_FIELDS


def coql_kind(fd: FieldDef) -> str | None:
    """The comparators a field takes in COQL (a key of COMPARATORS); None: not in criteria."""
    dt = fd.data_type
    if dt in ("consent_lookup", "multi_module_lookup"):
        return "lookup"
    if dt == "multiselectpicklist":
        return "multi"
    if dt == "profileimage":
        return "text"
    if dt == "textarea" or dt in TERRITORY_TYPES:
        return None
    return field_kind(fd)


def _normalizer(kind: str) -> Callable[[Any], Any]:
    """A stored value in the form operands take (None: empty or of another type)."""
    def number(x: Any) -> Any:
        return x if isinstance(x, int | float | Decimal) and not isinstance(x, bool) else None

    def text(x: Any) -> Any:
        return x.lower() if isinstance(x, str) and x != "" else None

    def multi(x: Any) -> Any:
        if not isinstance(x, list) or not x:
            return None
        return frozenset(str(v).lower() for v in x)

    def boolean(x: Any) -> Any:
        return x if isinstance(x, bool) else None

    def plain(x: Any) -> Any:
        return None if x in (None, "") else x

    return {"number": number, "id": number, "datetime": number, "text": text,
            "picklist": text, "multi": multi, "boolean": boolean}.get(kind, plain)


def record_value(fd: FieldDef, kind: str) -> Callable[[Rec], Any]:
    """A record's value of `fd`, normalized; None for an empty value or one of another type
    (hard values: a boolean written as text never equals a boolean)."""
    getter = value_getter(fd, kind)
    norm = _normalizer(kind)

    def get(rec: Rec) -> Any:
        try:
            return norm(getter(rec))
        except (AttributeError, TypeError, ValueError):
            return None
    return get


def operand(fd: FieldDef, kind: str, value: Value) -> Any:
    """A written value read as the field's type; INVALID_QUERY when it is not one."""
    text = value.text
    bad = invalid_query(VALUE_INVALID, column_name=fd.api_name, expected_data_type=kind)
    if kind == "datetime":
        if value.kind != "string" or not DATETIME_RE.match(text):
            raise bad
        return parse_iso(text)
    if kind == "date":
        if value.kind != "string" or not DATE_RE.match(text):
            raise bad
        return text
    if kind in ("number", "id"):
        if value.kind == "word":
            raise bad
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            raise bad from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise bad
        return text.lower() == "true"
    if kind == "lookup":
        if not text.isdigit():
            raise bad
        return text
    if kind == "multi":
        return frozenset(p.strip().lower() for p in text.split(";") if p.strip())
    return text.lower()


def compile_criteria(where: Criteria, resolve: Callable[[str], FieldDef],
                     in_limit: int) -> Predicate:
    """A test of a record for the WHERE clause; `resolve` gives a criterion's field (it
    refuses unknown and unselectable ones). IN lists longer than `in_limit`: LIMIT_EXCEEDED."""
    if isinstance(where, Condition):
        return _condition(where, resolve(where.field), in_limit)
    left = compile_criteria(where.left, resolve, in_limit)
    right = compile_criteria(where.right, resolve, in_limit)
    if where.operator == "and":
        return lambda r: left(r) and right(r)
    return lambda r: left(r) or right(r)


def _condition(c: Condition, fd: FieldDef, in_limit: int) -> Predicate:
    if fd.data_type in TERRITORY_TYPES:
        raise invalid_query(TERRITORY_WHERE, column_name=fd.api_name, clause="where")
    if fd.data_type == "textarea":  # multi-line fields are not allowed in criteria
        raise invalid_query(TYPE_UNSUPPORTED, column_name=fd.api_name, clause="where",
                            data_type=fd.data_type)
    kind = coql_kind(fd)
    if kind is None:
        raise invalid_query(TYPE_UNSUPPORTED, column_name=fd.api_name, clause="where",
                            data_type=fd.data_type)
    op = c.operator
    if op not in COMPARATORS[kind]:
        raise invalid_query(SELECT_QUERY_MESSAGE, column_name=fd.api_name, operator=op)
    if op in ("in", "not in") and len(c.values) > in_limit:
        raise ApiError(400, "LIMIT_EXCEEDED", f"You can give at most {in_limit} values for "
                       f"the \"{op}\" comparator", {"clause": "where", "operator": op,
                                                     "limit": in_limit})
    get = record_value(fd, kind)
    if op == "is null":
        return lambda r: get(r) is None
    if op == "is not null":
        return lambda r: get(r) is not None
    if op in ("like", "not like"):
        return _like(fd, get, c.values[0], negated=op == "not like")
    values = [operand(fd, kind, v) for v in c.values]
    test = _comparison(op, values)

    def check(rec: Rec) -> bool:
        x = get(rec)
        if x is None:
            return False
        try:
            return test(x)
        except TypeError:  # a stored value of another type
            return False
    return check


def _comparison(op: str, values: list[Any]) -> Callable[[Any], bool]:
    v0 = values[0]
    if op == "=":
        return lambda x: bool(x == v0)
    if op == "!=":
        return lambda x: bool(x != v0)
    if op in ("in", "not in"):
        pool = set(values)
        return (lambda x: x in pool) if op == "in" else (lambda x: x not in pool)
    if op == "<":
        return lambda x: bool(x < v0)
    if op == "<=":
        return lambda x: bool(x <= v0)
    if op == ">":
        return lambda x: bool(x > v0)
    if op == ">=":
        return lambda x: bool(x >= v0)
    lo, hi = values
    if op == "between":
        return lambda x: bool(lo <= x <= hi)
    return lambda x: not lo <= x <= hi  # not between


def _like(fd: FieldDef, get: Callable[[Rec], Any], value: Value, *, negated: bool
          ) -> Predicate:
    pattern = value.text.lower()
    inner = pattern.strip("%")
    if negated and not (len(pattern) > 2 and pattern.startswith("%")
                        and pattern.endswith("%")):
        # Zoho: "not like" works only with % at both ends (not contains).
        raise invalid_query(VALUE_INVALID, column_name=fd.api_name, operator="not like")
    if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 1:
        test: Callable[[str], bool] = lambda x: inner in x  # noqa: E731
    elif pattern.startswith("%"):
        test = lambda x: x.endswith(inner)  # noqa: E731
    elif pattern.endswith("%"):
        test = lambda x: x.startswith(inner)  # noqa: E731
    else:
        test = lambda x: x == inner  # noqa: E731

    def check(rec: Rec) -> bool:
        x = get(rec)
        if not isinstance(x, str):
            return False
        return not test(x) if negated else test(x)
    return check


def sort_key(fd: FieldDef) -> Callable[[Rec], tuple[int, Any]]:
    """A record's ORDER BY key for `fd`: empty values before every other."""
    kind = coql_kind(fd) or "text"
    get = record_value(fd, kind)

    def key(rec: Rec) -> tuple[int, Any]:
        x = get(rec)
        if x is None:
            return (0, 0)
        if kind == "lookup":
            return (1, int(x)) if str(x).isdigit() else (0, 0)
        if kind == "multi":
            return (1, ";".join(sorted(x)))
        return (1, x)
    return key
