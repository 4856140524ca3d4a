"""Paging: page/per_page lists, and Get Records anchored on Modified_Time past Zoho's caps
(`page` reaches 2,000 records, a page_token chain 100,000)."""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

import pytest
import requests

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import (
    DISCRETE_PAGE_LIMIT,
    ListPaginator,
    PagePaginator,
    RecordsPage,
    RecordsPaginator,
    batched,
)
from tests.unit.answers import answer, zoho_error

T0 = "2025-03-04T10:00:00+00:00"
T1 = "2025-03-04T10:00:01+00:00"
T2 = "2025-03-04T10:07:00+00:00"
# T0's instant, and the second after it, in other offsets (as Zoho writes the org's zone).
T0_IST = "2025-03-04T15:30:00+05:30"
T1_EDT = "2025-03-04T06:00:01-04:00"  # earlier than T0 as text, later as an instant
LIMIT_CODES = ["DISCRETE_PAGINATION_LIMIT_EXCEEDED", "PAGINATION_LIMIT_EXCEEDED"]


def records_page(*times: str | None, more: bool = True, token: str | None = None
                 ) -> requests.Response:
    """A Get Records page, sorted by Modified_Time ascending, as Zoho answers it."""
    data = [{"id": str(5725767000000100000 + n), "Modified_Time": t} for n, t in enumerate(times)]
    return answer(200, {"data": data, "info": {"more_records": more, "next_page_token": token,
                                               "count": len(data), "per_page": 200}})


def paginator(start: RecordsPage, *, tokens: bool = False, per_page: int = 200,
              restart_key: str | None = "Modified_Time") -> RecordsPaginator:
    return RecordsPaginator(start, per_page=per_page, use_page_tokens=tokens,
                            restart_key=restart_key)


@pytest.mark.parametrize(("items", "size", "chunks"), [
    ([1, 2, 3, 4, 5], 2, [(1, 2), (3, 4), (5,)]),
    ([1, 2, 3, 4], 2, [(1, 2), (3, 4)]),
    ([1, 2], 50, [(1, 2)]),
    ([], 100, []),
    ("abc", 1, [("a",), ("b",), ("c",)]),
])
def test_batched_cuts_in_order_with_a_short_last_chunk(items, size, chunks) -> None:
    assert list(batched(items, size)) == chunks


def test_batched_is_lazy() -> None:
    assert next(batched(itertools.count(), 3)) == (0, 1, 2)


def test_batched_refuses_a_size_below_one_like_itertools() -> None:
    with pytest.raises(ValueError):
        list(batched([1, 2, 3], 0))


def test_records_page_starts_at_page_one_of_an_unanchored_query_and_is_frozen() -> None:
    start = RecordsPage()
    assert (start.page, start.page_token, start.modified_since, start.query) == (1, None, None, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.page = 2  # type: ignore[misc]
    # A restarted query is another value even from the same anchor: the SDK's loop check
    # (two equal page values in a row) never stops a restart.
    assert RecordsPage(modified_since=T0, query=1) != RecordsPage(modified_since=T0, query=2)


@pytest.mark.parametrize(("response", "more"), [
    (answer(200, {"data": [{"id": "1"}], "info": {"more_records": True}}), True),
    (answer(200, {"data": [{"id": "1"}], "info": {"more_records": False}}), False),
    (answer(200, {"data": [{"id": "1"}]}), False),
    (answer(200, {"data": [{"id": "1"}], "info": None}), False),
    (answer(204), False),
    (answer(304), False),
])
def test_page_paginator_follows_more_records(response, more) -> None:
    paginator = PagePaginator(1)
    assert paginator.has_more(response) is more
    paginator.advance(response)
    assert paginator.finished is not more
    assert paginator.current_value == (2 if more else 1)


S = RecordsPage(modified_since=T0)  # a query anchored at T0's second


@pytest.mark.parametrize(("start", "page", "tokens", "expected"), [
    # A first query without If-Modified-Since: the next page is a query anchored at the last
    # Modified_Time read, with or without a token to go on with.
    (RecordsPage(), records_page(T0, T1), False, RecordsPage(modified_since=T1, query=1)),
    (RecordsPage(), records_page(T0, T1, token="tok"), True,
     RecordsPage(modified_since=T1, query=1)),
    # Past the anchor's second: a new query from the last record's raw value.
    (RecordsPage(modified_since=T0, query=3), records_page(T0, T2), False,
     RecordsPage(modified_since=T2, query=4)),
    (S, records_page(T0, T1_EDT), False, RecordsPage(modified_since=T1_EDT, query=1)),
    # Still in the anchor's second (in any offset): positional paging within it.
    (S, records_page(T0, T0_IST), False, RecordsPage(page=2, modified_since=T0)),
    (RecordsPage(page=9, modified_since=T0), records_page(T0, T0), False,
     RecordsPage(page=10, modified_since=T0)),
    (S, records_page(T0, T0, token="tok"), True,
     RecordsPage(page=2, page_token="tok", modified_since=T0)),
    (S, records_page(T0, T0, token=None), True, RecordsPage(page=2, modified_since=T0)),
    (RecordsPage(page=4, page_token="a", modified_since=T0, query=2),
     records_page(T0, T0, token="b"), True,
     RecordsPage(page=5, page_token="b", modified_since=T0, query=2)),
    # A token chain ends at the first record past its anchor: a token is bound to its query.
    (RecordsPage(page=4, page_token="a", modified_since=T0, query=2),
     records_page(T0, T1, token="b"), True, RecordsPage(modified_since=T1, query=3)),
    # Page tokens are for v3 on: a v2 paginator ignores one.
    (S, records_page(T0, T0, token="tok"), False, RecordsPage(page=2, modified_since=T0)),
])
def test_next_records_page(start, page, tokens, expected) -> None:
    paginator_ = paginator(start, tokens=tokens)
    assert paginator_.has_more(page)
    assert paginator_.get_next(page) == expected


@pytest.mark.parametrize(("start", "per_page", "tokens", "restart_key", "message"), [
    # `page` reaches record 2,000 at most (page 10 of 200, page 20 of 100).
    (RecordsPage(page=10, modified_since=T0), 200, False, "Modified_Time",
     f"More records share Modified_Time {T0} than one query can page through"),
    (RecordsPage(page=20, modified_since=T0), 100, False, "Modified_Time", "use Bulk Read"),
    # Zoho ended a token chain (its cap) while one second's records go on.
    (RecordsPage(page=30, page_token="a", modified_since=T0), 200, True, "Modified_Time",
     "use Bulk Read"),
    # A module without Modified_Time has nothing to restart from.
    (RecordsPage(page=10), 200, False, None, "has no Modified_Time to restart the query from"),
])
def test_paging_that_cannot_go_on_says_why(start, per_page, tokens, restart_key, message
                                           ) -> None:
    assert start.page * per_page >= DISCRETE_PAGE_LIMIT or start.page_token
    paginator_ = paginator(start, per_page=per_page, tokens=tokens, restart_key=restart_key)
    with pytest.raises(ZohoAPIError, match=re.escape(message)) as raised:
        paginator_.get_next(records_page(T0, T0))
    assert raised.value.code == "PAGINATION_LIMIT_EXCEEDED"


def test_a_module_without_modified_time_pages_by_position_up_to_zohos_cap() -> None:
    paginator_ = paginator(RecordsPage(page=9), restart_key=None)
    assert paginator_.get_next(records_page(None, None)) == RecordsPage(page=10)


@pytest.mark.parametrize("code", LIMIT_CODES)
@pytest.mark.parametrize(("restart_key", "message"), [
    ("Modified_Time", f"More records share Modified_Time {T0}"),
    (None, "has no Modified_Time to restart the query from"),
])
def test_a_page_limit_error_is_not_the_end_but_a_restart_it_cannot_make(code, restart_key,
                                                                         message) -> None:
    paginator_ = paginator(S, restart_key=restart_key)
    paginator_.advance(records_page(T0, T0))  # positional paging within T0's second
    error = zoho_error(400, code, "You can only get the first 2000 records")
    assert paginator_.has_more(error) and paginator_.continue_if_empty(error)
    with pytest.raises(ZohoAPIError, match=re.escape(message)):
        paginator_.advance(error)


@pytest.mark.parametrize("response", [
    records_page(T0), records_page(), answer(204), answer(304),
    zoho_error(400, "INVALID_DATA"), zoho_error(404, "INVALID_URL_PATTERN"),
])
def test_only_a_page_limit_error_continues_past_an_empty_page(response) -> None:
    assert not paginator(S).continue_if_empty(response)


@pytest.mark.parametrize("last", [
    records_page(T0, T1, more=False), records_page(more=False), answer(204), answer(304),
])
def test_the_last_page_finishes_the_query(last) -> None:
    paginator_ = paginator(S)
    paginator_.advance(last)
    assert paginator_.finished
    assert paginator_.current_value == S


def test_a_read_goes_past_record_2000_by_restarting_where_the_second_changes() -> None:
    """Nine pages of one second by position, the tenth ends in a later second: the eleventh
    page (which `page` cannot reach) is the first of a query anchored there."""
    paginator_ = paginator(S)
    for page in range(2, 11):
        paginator_.advance(records_page(T0, T0))
        assert paginator_.current_value == RecordsPage(page=page, modified_since=T0)
    paginator_.advance(records_page(T0, T1))
    assert paginator_.current_value == RecordsPage(modified_since=T1, query=1)
    assert paginator_.last_restart_value == T1
    paginator_.advance(records_page(T1, T2))
    assert paginator_.current_value == RecordsPage(modified_since=T2, query=2)
    paginator_.advance(records_page(T2, more=False))
    assert paginator_.finished and paginator_.count == 12


def _walk(paginator_: RecordsPaginator, pages: list[requests.Response]) -> list[Any]:
    seen = []
    for page in pages:
        paginator_.advance(page)
        seen.append(paginator_.current_value)
    return seen


def test_v3_on_pages_one_second_by_token_and_leaves_the_chain_after_it() -> None:
    pages = [records_page(T0, T0, token="a"), records_page(T0, T0, token="b"),
             records_page(T0, T1, token="c"), records_page(T1, T1, more=False)]
    assert _walk(paginator(S, tokens=True), pages) == [
        RecordsPage(page=2, page_token="a", modified_since=T0),
        RecordsPage(page=3, page_token="b", modified_since=T0),
        RecordsPage(modified_since=T1, query=1),
        RecordsPage(modified_since=T1, query=1),
    ]


@pytest.mark.parametrize(("page_tokens", "second"), [
    (True, {"page_token": "T2"}), (False, {"page": 2}),
])
def test_a_list_follows_page_tokens_where_the_version_gives_them(page_tokens, second) -> None:
    paginator = ListPaginator(page_tokens=page_tokens)
    assert paginator.params() == {"page": 1}
    paginator.advance(answer(200, {"data": [{"id": "1"}],
                                   "info": {"more_records": True, "next_page_token": "T2"}}))
    assert paginator.params() == second and not paginator.finished


@pytest.mark.parametrize("last", [
    answer(200, {"data": [{"id": "1"}], "info": {"more_records": False}}),
    answer(204, None),
    zoho_error(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "limit"),
])
def test_a_list_ends_with_its_last_page_or_a_page_limit(last) -> None:
    paginator = ListPaginator(page_tokens=True)
    paginator.advance(last)
    assert paginator.finished
