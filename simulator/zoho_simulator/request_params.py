"""Parameters and headers every read endpoint checks alike: numbers, ids, If-Modified-Since,
page and per_page."""

from __future__ import annotations

from typing import Any

from .api_types import MAX_IDS, MAX_PER_PAGE, ApiError, invalid
from .records import parse_iso


def int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise invalid(name)
    return int(raw)


def modified_since(headers: Any) -> float | None:
    """The If-Modified-Since header as epoch seconds, if given."""
    raw = headers.get("If-Modified-Since")
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise ApiError(400, "INVALID_DATA", "invalid data",
                       {"header_name": "If-Modified-Since"}) from None


def ids_param(params: dict[str, str], limit: int = MAX_IDS) -> set[int] | None:
    raw = params.get("ids")
    if raw is None:
        return None
    ids = [i.strip() for i in raw.split(",") if i.strip()]
    if len(ids) > limit:
        raise ApiError(400, "LIMIT_EXCEEDED", "ids limit exceeded",
                       {"param_name": "ids", "limit": limit})
    if not ids or not all(i.isdigit() for i in ids):
        raise invalid("ids")
    return {int(i) for i in ids}


def page_params(params: dict[str, str]) -> tuple[int, int]:
    """(page, per_page) of a page/per_page listing."""
    per_page = int_param(params, "per_page", MAX_PER_PAGE)
    if per_page > MAX_PER_PAGE:
        raise invalid("per_page")
    return int_param(params, "page", 1), per_page
