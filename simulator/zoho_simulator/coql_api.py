"""`POST /crm/{version}/coql`: Get Records through a COQL query (coql_query.py reads it,
coql_criteria.py tests and orders records by it).

Documented, and modelled:
* scopes `ZohoCRM.coql.READ` and the module's read scope (OAUTH_SCOPE_MISMATCH, 401);
* reach by version (COQL Limitations v2-v8, COQL Overview): LIMIT up to 200 rows (v2, v2.1,
  v3) or 2,000 (v4 on), 200 by default; LIMIT + OFFSET up to 10,000 records (to v6) or
  100,000 (v7, v8); up to 50 SELECT columns (500 from v7, Kaizen #183); 25 criteria; 10
  ORDER BY fields; IN / NOT IN up to 50 values (100 from v7). Past any: LIMIT_EXCEEDED;
* rows ordered by id ascending without ORDER BY; the answer `{data, info: {count,
  more_records}}`, only the selected fields and `id`; 204 when no row matches (as Get
  Records; coql.json documents only 200 and 400);
* values as Get Records renders them (rendering.py), except lookups and owners: `{id}` only
  before v7, `{name, id}` from v7 (a user's name is the last name); consent and multi-module
  lookups `{id}` in every version;
* credits by LIMIT (credits.coql_credits); at most 10 COQL calls in flight (server.py).

Silent in the docs, modelled the way that loses data, each behind a switch (config):
* converted Leads and records pending approval are not returned (`coql_returns_converted`,
  `coql_returns_unapproved` return them);
* rows tied on every ORDER BY field come in an order that changes from call to call
  (`coql_ties_in_id_order`: by id);
* OFFSET counts positions in the live data: an edit or delete between two calls shifts the
  rows after it (`coql_offset_snapshot`: positions in the rows as they were at OFFSET 0);
* v7+ rich text cut at 500 characters, as Get Records lists it (`coql_full_rich_text`).
Not modelled: joins (`Lookup.Field`), aliases, aggregates, GROUP BY, custom views, include_meta.
"""

from __future__ import annotations

import json
import random
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .access import Access
from .api_types import ApiError, Response
from .bulk_criteria import DATETIME_RE
from .coql_criteria import (
    COLUMN_INVALID,
    TYPE_UNSUPPORTED,
    compile_criteria,
    invalid_query,
    sort_key,
    unselectable,
)
from .coql_query import (
    SELECT_QUERY_MESSAGE,
    CoqlQuery,
    Criteria,
    Group,
    OrderItem,
    parse_query,
    syntax_error,
)
from .credits import coql_credits
from .fields import FieldDef, make_field
from .living import Churn
from .oauth import AccessToken
from .org import Org
from .records import ModuleData, Rec, parse_iso

COQL_SCOPES = {"zohocrm.coql.read"}
DEFAULT_LIMIT = 200
MAX_CRITERIA = 25
MAX_ORDER_BY = 10
SNAPSHOTS_KEPT = 256
ID_FIELD = make_field("COQL", "id", "bigint", system=True)
USER_LOOKUPS = {"ownerlookup", "userlookup"}
ID_ONLY_LOOKUPS = {"consent_lookup", "multi_module_lookup"}


@dataclass(frozen=True)
class Reach:
    """What one COQL call of an API version may ask (COQL Limitations of that version)."""
    rows: int  # LIMIT
    records: int  # LIMIT + OFFSET
    columns: int  # SELECT
    in_values: int  # IN / NOT IN


def reach(version: float) -> Reach:
    return Reach(rows=200 if version < 4 else 2000,
                 records=10_000 if version < 7 else 100_000,
                 columns=50 if version < 7 else 500,
                 in_values=50 if version < 7 else 100)


def limit_exceeded(message: str, **details: Any) -> ApiError:
    return ApiError(400, "LIMIT_EXCEEDED", message, details)


def select_query(body: bytes) -> str:
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    text = data.get("select_query") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise syntax_error({"clause": "select"})
    return text


class CoqlApi:
    """COQL queries over the org (`org`), with the token and module checks of `access`, the
    switches of `config`, and `churn`'s edits before each query of a churned module."""

    def __init__(self, org: Org, access: Access, churn: Churn, config: dict[str, Any],
                 user_is_admin: bool) -> None:
        self.org = org
        self.access = access
        self.churn = churn
        self.config = config
        self.user_is_admin = user_is_admin
        self.lock = threading.Lock()
        self.calls = 0  # seeds the order of tied rows, which differs from call to call
        # (version, module, where, order by) -> the ids in order at OFFSET 0
        self.snapshots: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()

    def query(self, version: float, body: bytes, token: AccessToken) -> Response:
        self.access.require_scope(token, COQL_SCOPES)
        q = parse_query(select_query(body))
        limits = reach(version)
        limit, offset = self._paging(q, limits)
        self._check_counts(q, limits)
        refused = self.access.unservable(q.module)
        if refused is not None:
            raise ApiError(*refused)
        md = self.access.module(version, q.module, token)
        if md.name == "Activities":  # Tasks, Events and Calls are queried on their own
            raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
        if md.name == "Notes" and not self.user_is_admin:  # COQL Limitations: admins only
            raise ApiError(403, "NOT_SUPPORTED", "This API is supported only for admin users")
        with self.org.lock:
            by_api = md.by_api(version)

        def resolve(clause: str) -> Callable[[str], FieldDef]:
            def field(name: str) -> FieldDef:
                fd = by_api.get(name) or (ID_FIELD if name == "id" else None)
                if fd is None:
                    raise invalid_query(COLUMN_INVALID, column_name=name, clause=clause)
                if unselectable(md.name, fd, version):
                    raise invalid_query(TYPE_UNSUPPORTED, column_name=name, clause=clause,
                                        data_type=fd.data_type)
                return fd
            return field

        columns = [resolve("select")(n) for n in q.columns]
        columns = [fd for fd in columns if fd.api_name != "id"]
        test = compile_criteria(q.where, resolve("where"), limits.in_values)
        order: list[tuple[Callable[[Rec], Any], bool]] = [
            (sort_key(resolve("order by")(item.field)), item.descending)
            for item in q.order_by] or [(lambda r: r.id, False)]
        self.churn.before_page(md.name)
        with self.lock:
            self.calls += 1
            call = self.calls
        with self.org.lock:
            keyset = self._keyset_page(md, q, test, limit, offset)
            if keyset is None:
                recs = self._ordered(self._matching(md, test), order, call)
                chunk, more = self._page(version, md, q, recs, limit, offset)
            else:
                chunk, more = keyset
            rows = self._rows(version, md, chunk, columns)
        credits = coql_credits(limit)
        if not rows:
            return Response(204, credits=credits)
        return Response(200, {"data": rows, "info": {"count": len(rows), "more_records": more}},
                        credits=credits)

    # ---------------------------------------------------------------- limits
    @staticmethod
    def _paging(q: CoqlQuery, limits: Reach) -> tuple[int, int]:
        limit = DEFAULT_LIMIT if q.limit is None else q.limit
        offset = q.offset or 0
        if limit < 1:
            raise invalid_query(SELECT_QUERY_MESSAGE, clause="limit")
        if limit > limits.rows:
            raise limit_exceeded(f"The value of the limit clause exceeds the maximum limit of "
                                 f"{limits.rows}", clause="limit", limit=limits.rows)
        if offset + limit > limits.records:
            raise limit_exceeded("Max records limit exceeded", clause="offset",
                                 limit=limits.records)
        return limit, offset

    @staticmethod
    def _check_counts(q: CoqlQuery, limits: Reach) -> None:
        if len(q.columns) > limits.columns:
            raise limit_exceeded(f"The select column exceeds the maximum limit of "
                                 f"{limits.columns}", clause="select", limit=limits.columns)
        if len(q.conditions()) > MAX_CRITERIA:
            raise limit_exceeded(f"The where clause exceeds the maximum of {MAX_CRITERIA} "
                                 "criteria", clause="where", limit=MAX_CRITERIA)
        if len(q.order_by) > MAX_ORDER_BY:
            raise limit_exceeded("The number of fields in the ORDER BY clause exceeds the "
                                 "allowed limit", clause="order by", limit=MAX_ORDER_BY)
        for clause, names in (("select", q.columns),
                              ("order by", tuple(i.field for i in q.order_by))):
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:
                raise ApiError(400, "DUPLICATE_DATA", "duplicate data",
                               {"clause": clause, "column_name": twice})

    # ---------------------------------------------------------------- rows
    def _matching(self, md: ModuleData, test: Callable[[Rec], bool]) -> list[Rec]:
        """The records the WHERE clause matches, those COQL leaves out dropped."""
        converted = bool(self.config["coql_returns_converted"])
        unapproved = bool(self.config["coql_returns_unapproved"])
        return [r for r in md.recs.values()
                if (converted or not r.converted) and (unapproved or r.approved) and test(r)]

    def _keyset_page(self, md: ModuleData, q: CoqlQuery, test: Callable[[Rec], bool],
                     limit: int, offset: int) -> tuple[list[Rec], bool] | None:
        """The rows of a query ordered by Modified_Time then id (no two rows tie, so the order
        is the module's by Modified_Time), found from the lower bound its WHERE puts on
        Modified_Time instead of by testing and sorting every record: what a million-record
        module needs. None for any other query, or with OFFSET snapshots (positions are kept
        from the general way's OFFSET 0 answer): the general way."""
        if q.order_by != KEYSET_ORDER or self.config["coql_offset_snapshot"]:
            return None
        recs = md.sorted_recs("Modified_Time", False)
        bound = modified_lower_bound(q.where)
        start = 0 if bound is None else bisect_left(recs, bound, key=lambda r: r.mt)
        converted = bool(self.config["coql_returns_converted"])
        unapproved = bool(self.config["coql_returns_unapproved"])
        found: list[Rec] = []
        for rec in islice(recs, start, None):
            if (converted or not rec.converted) and (unapproved or rec.approved) and test(rec):
                found.append(rec)
                if len(found) > offset + limit:
                    break
        return found[offset:offset + limit], len(found) > offset + limit

    def _ordered(self, recs: list[Rec], order: list[tuple[Callable[[Rec], Any], bool]],
                 call: int) -> list[Rec]:
        if self.config["coql_ties_in_id_order"]:
            recs.sort(key=lambda r: r.id)
        else:  # rows tied on every ORDER BY field: an order of this call's own
            rng = random.Random(f"coql-ties:{call}")
            shuffle = {r.id: rng.random() for r in recs}
            recs.sort(key=lambda r: shuffle[r.id])
        for key, descending in reversed(order):  # stable sorts, the last field first
            recs.sort(key=key, reverse=descending)
        return recs

    def _page(self, version: float, md: ModuleData, q: CoqlQuery, recs: list[Rec],
              limit: int, offset: int) -> tuple[list[Rec], bool]:
        if not self.config["coql_offset_snapshot"]:
            return recs[offset:offset + limit], offset + limit < len(recs)
        key = (version, md.name, q.where, q.order_by)
        with self.lock:
            if offset == 0 or key not in self.snapshots:
                self.snapshots[key] = [r.id for r in recs]
            self.snapshots.move_to_end(key)
            while len(self.snapshots) > SNAPSHOTS_KEPT:
                self.snapshots.popitem(last=False)
            ids = self.snapshots[key]
        window = ids[offset:offset + limit]
        return [md.recs[i] for i in window if i in md.recs], offset + limit < len(ids)

    def _rows(self, version: float, md: ModuleData, chunk: list[Rec],
              columns: list[FieldDef]) -> list[dict[str, Any]]:
        cut = version >= 7 and not self.config["coql_full_rich_text"]
        last_names = {u["id"]: u["last_name"] for u in self.org.users.directory}
        rows = []
        for rec in chunk:
            full = self.org.rendering.render(md.name, rec, version, columns, cut_rich_text=cut)
            row = {fd.api_name: _shape(fd, full.get(fd.api_name), version, last_names)
                   for fd in columns}
            row["id"] = full["id"]
            rows.append(row)
        return rows


KEYSET_ORDER = (OrderItem("Modified_Time"), OrderItem("id"))


def modified_lower_bound(where: Criteria) -> float | None:
    """The least Modified_Time a row matching `where` can have, from its `Modified_Time >=`,
    `>` and `=` criteria (of `and`: the larger bound of either side; of `or`: the smaller, if
    both sides have one); None when the criteria set none."""
    if isinstance(where, Group):
        left, right = modified_lower_bound(where.left), modified_lower_bound(where.right)
        if where.operator == "and":
            return max((b for b in (left, right) if b is not None), default=None)
        return None if left is None or right is None else min(left, right)
    if (where.field == "Modified_Time" and where.operator in (">=", ">", "=")
            and len(where.values) == 1 and DATETIME_RE.match(where.values[0].text)):
        return parse_iso(where.values[0].text)
    return None


def _shape(fd: FieldDef, value: Any, version: float, last_names: dict[str, str]) -> Any:
    """A lookup as COQL answers it: `{id}` before v7; `{name, id}` from v7, a user's name
    being the last name; consent and multi-module lookups `{id}` always."""
    if not isinstance(value, dict) or "id" not in value:
        return value
    dt = fd.data_type
    if dt in ID_ONLY_LOOKUPS or version < 7:
        return {"id": value["id"]}
    target = ((fd.meta.get("lookup") or {}).get("module") or {}).get("api_name")
    if dt in USER_LOOKUPS or target == "users":
        return {"name": last_names.get(value["id"], value.get("name")), "id": value["id"]}
    if dt == "lookup":
        return {"name": value.get("name"), "id": value["id"]}
    return value
