"""COQL: a module's records through `POST /crm/{version}/coql`, 2,000 rows a query for 3 credits
(Get Records: 200 rows and 50 fields a credit).

Queries go by keyset on (Modified_Time, id): each starts past the last row read, ordered by
both, so an edit while reading skips nothing (an edited record comes again, later) and a read
goes past COQL's OFFSET reach. The first query asks for a page only (1 credit): an idle module
costs what an empty Get Records page does. Columns come in groups as large as the API version
allows; the other groups are read for the first group's ids (`id in (...)`) and merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import batched
from tap_zohocrm.reads.module_rules import REPLICATION_KEY
from tap_zohocrm.responses import answered_at, is_refusal, response_json
from tap_zohocrm.sync.limits import COQL_DEFAULT_LIMIT, coql_credits

if TYPE_CHECKING:
    from tap_zohocrm.api_versions import ApiVersion
    from tap_zohocrm.reads.calls import Calls

COQL_PATH = "/coql"
# Zoho's answers to a query COQL will not run: the field or type is not selectable, the query
# too large for this version, or COQL is not for this module or token.
UNSELECTABLE_CODES = frozenset({"INVALID_QUERY"})
TOO_LARGE_CODES = frozenset({"LIMIT_EXCEEDED"})


class CoqlRefused(ZohoAPIError):
    """Zoho will not run COQL for this module or token: the module is read over REST."""


def quoted(value: str) -> str:
    """A COQL string literal (a quote doubled)."""
    return "'" + value.replace("'", "''") + "'"


def keyset_where(since: str | None, after: tuple[str, str] | None) -> str:
    """Rows past the last (Modified_Time, id) read, or from `since` (every row without it:
    COQL needs a WHERE). More than two criteria are bracketed in pairs, as COQL requires."""
    if after is not None:
        modified, last_id = quoted(after[0]), int(after[1])
        return (f"(({REPLICATION_KEY} > {modified}) or "
                f"(({REPLICATION_KEY} = {modified}) and (id > {last_id})))")
    if since:
        return f"({REPLICATION_KEY} >= {quoted(since)})"
    return "(id is not null)"


def coql_cost(records: int, version: ApiVersion, column_groups: int) -> tuple[int, int]:
    """Calls and credits to read `records` records: a first query of a page, then full ones;
    each other column group read by `id in (...)`."""
    first = min(COQL_DEFAULT_LIMIT, version.coql_rows)
    calls, credits = 1, coql_credits(first)
    left = max(0, records - first)
    if records >= first:  # more may follow the first page
        full = -(-left // version.coql_rows) if left else 1
        calls += full
        credits += full * coql_credits(version.coql_rows)
    for _ in range(column_groups - 1):
        lookups = -(-records // version.coql_in_values)
        calls += lookups
        credits += lookups * coql_credits(version.coql_in_values)
    return calls, credits


class CoqlPages:
    """One module's rows through COQL, in (Modified_Time, id) order. `columns` are the
    selectable fields (Modified_Time among them); a field Zoho refuses moves to `refused`, for
    the caller to read another way."""

    def __init__(self, calls: Calls, *, module: str, columns: list[str],
                 version: ApiVersion, on_more: Callable[[], None] = lambda: None) -> None:
        self.calls = calls
        self.on_more = on_more  # once a page shows there is more to read (the progress count)
        self.module = module
        self.version = version
        self.columns = [c for c in columns if c not in ("id", REPLICATION_KEY)]
        self.group_size = version.coql_columns - 2  # id and Modified_Time in the first
        self.refused: list[str] = []
        self.rows = 0
        # Zoho's Date of the answer that ended the read: nothing more to read up to it.
        self.read_to_end_at: datetime | None = None

    def pages(self, since: str | None) -> Iterator[list[dict[str, Any]]]:
        """Pages of whole rows (every column group) from `since` to the end of the module."""
        after: tuple[str, str] | None = None
        limit = min(COQL_DEFAULT_LIMIT, self.version.coql_rows)
        while True:
            try:
                answer, rows = self._page(keyset_where(since, after), limit)
            except _Regroup:
                continue  # the same page again, in smaller column groups
            more = answer is not None and bool(
                (response_json(answer).get("info") or {}).get("more_records"))
            if rows and more:
                self.on_more()  # before the rows go out, so every progress line has its total
            if rows:
                self.rows += len(rows)
                yield rows
            if not rows or not more:
                self.read_to_end_at = answered_at(answer) if answer is not None else None
                return
            last = rows[-1]
            after = (str(last[REPLICATION_KEY]), str(last["id"]))
            limit = self.version.coql_rows

    def _page(self, where: str, limit: int) -> tuple[Any, list[dict[str, Any]]]:
        first, *others = self._groups()
        answer = self._query([REPLICATION_KEY, *first], where,
                             f"order by {REPLICATION_KEY} asc, id asc limit {limit}")
        rows = self.calls.items(answer) if answer is not None else []
        for group in others:
            self._merge(rows, group)
        return answer, rows

    def _groups(self) -> list[list[str]]:
        size = max(1, self.group_size)
        return [list(g) for g in batched(self.columns, size)] or [[]]

    def _merge(self, rows: list[dict[str, Any]], group: list[str]) -> None:
        """Add a column group to these rows (by id); a row Zoho no longer has is left out."""
        by_id = {str(row["id"]): row for row in rows}
        found: set[str] = set()
        for ids in batched(by_id, self.version.coql_in_values):
            answer = self._query(group, f"(id in ({', '.join(str(int(i)) for i in ids)}))",
                                 f"limit {len(ids)}")
            for extra in self.calls.items(answer) if answer is not None else []:
                record = by_id.get(str(extra.get("id")))
                if record is not None:
                    found.add(str(extra["id"]))
                    record.update((name, extra.get(name)) for name in group)
        rows[:] = [row for row in rows if str(row["id"]) in found]

    def _query(self, columns: list[str], where: str, tail: str) -> Any:
        """One query; a column Zoho refuses is dropped (into `refused`) and the query asked
        again; a group too large for Zoho is halved. None when no column is left to ask."""
        while True:
            select = ", ".join(dict.fromkeys(["id", *columns]))
            query = f"select {select} from {self.module} where {where} {tail}"
            try:
                return self.calls.call(COQL_PATH, method="POST", json={"select_query": query})
            except ZohoAPIError as exc:
                if is_refusal(exc.status, exc.code) and exc.code not in (
                        UNSELECTABLE_CODES | TOO_LARGE_CODES):
                    raise CoqlRefused(str(exc), code=exc.code, status=exc.status,
                                      details=exc.details) from exc
                if exc.code in TOO_LARGE_CODES and self.group_size > 1:
                    self.group_size //= 2
                    raise _Regroup from exc
                details = exc.details or {}
                name = (details.get("column_name") or details.get("api_name")
                        or _named_field(exc, columns))
                if exc.code not in UNSELECTABLE_CODES or name not in columns:
                    raise
                self.refused.append(name)
                self.columns = [c for c in self.columns if c != name]
                columns = [c for c in columns if c != name]
                self.calls.logger.info("%s: COQL cannot select %s (%s); it is read over REST",
                                       self.module, name, exc.code)


class _Regroup(Exception):
    """The column groups changed size: the page is asked again."""


def _named_field(exc: ZohoAPIError, columns: list[str]) -> str | None:
    """The column an INVALID_QUERY message names, when its details do not."""
    text = str(exc)
    return next((c for c in columns if c in text), None)
