"""Get Records and its relatives: lists, single records, ids, rich text, counts."""

from __future__ import annotations

from typing import Any

from .api_types import (
    DISCRETE_LIMIT,
    FULL_DATA_MAX_IDS,
    MAX_PER_PAGE,
    PAGE_TOKEN_TTL,
    SORTABLE,
    ApiError,
    PageToken,
    PageTokens,
    Response,
    empty_answer,
    field_names,
    invalid,
)
from .fields import FieldDef
from .living import Churn, keyset_start, notes_ignore_paging, record_key
from .org import Org
from .records import Clock, ModuleData, fmt_dt
from .request_params import ids_param, int_param, modified_since


class RecordsApi:
    """Get Records and its relatives: lists, single records, ids, rich text, counts."""

    def __init__(self, org: Org, churn: Churn, config: dict[str, Any], clock: Clock,
                 user_is_admin: bool) -> None:
        self.org = org
        self.churn = churn  # records changed before each page call, when a test asks
        self.config = config
        self.clock = clock
        self.user_is_admin = user_is_admin
        self.page_tokens = PageTokens()

    # ------------------------------------------------------------ record params
    def _fields(self, version: float, md: ModuleData, raw: str | None) -> list[FieldDef] | None:
        if raw is None:
            return None
        names = field_names(raw)
        with self.org.lock:
            by_api = md.by_api(version)
        out = []
        for n in names:
            if n == "id":
                continue
            fd = by_api.get(n)
            if fd is None:
                raise ApiError(400, "INVALID_DATA", "invalid data",
                               {"api_name": n, "param_name": "fields"})
            out.append(fd)
        return out

    @staticmethod
    def _filters(md: ModuleData, params: dict[str, str], by_ids: bool
                 ) -> tuple[str | None, str | None]:
        # Fetching explicit ids applies no default filters (only explicit ones).
        converted = params.get("converted", None if by_ids else "false")
        approved = params.get("approved", None if by_ids else "true")
        for name, val in (("converted", converted), ("approved", approved)):
            if val is not None and val not in ("true", "false", "both"):
                raise invalid(name)
        return (converted if md.name == "Leads" else None), approved

    # ------------------------------------------------------------ records
    def get_records(self, version: float, md: ModuleData, query: dict[str, list[str]],
                    params: dict[str, str], headers: Any) -> Response:
        if md.name == "Notes" and not self.user_is_admin:  # GET /Notes: admins only
            raise ApiError(403, "NOT_SUPPORTED", "This API is supported only for admin users")
        modern = version >= 3
        ids = ids_param(params)
        if modern and "fields" not in params and ids is None:
            raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                           "missing", {"param_name": "fields"})
        selected = self._fields(version, md, params.get("fields"))
        per_page = int_param(params, "per_page", MAX_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            raise invalid("per_page")
        sort_by = params.get("sort_by", "id")
        if sort_by not in SORTABLE:
            raise invalid("sort_by")
        # Notes come oldest first by default (v7 Get Notes); records newest first.
        sort_order = params.get("sort_order", "asc" if md.name == "Notes" else "desc")
        if sort_order not in ("asc", "desc"):
            raise invalid("sort_order")
        converted, approved = self._filters(md, params, ids is not None)
        since = modified_since(headers)
        if ids is None:
            self.churn.before_page(md.name)
        token_raw = params.get("page_token")
        plain = notes_ignore_paging(self.config, md.name, version)
        if plain:
            since, token_raw = None, None
            headers = {k: v for k, v in headers.items() if k.lower() != "if-modified-since"}
        cap = int(self.config["page_token_cap"])
        now = self.clock.now()
        binding = (version, md.name, tuple(sorted(
            (k, tuple(v)) for k, v in query.items() if k not in ("page_token", "page"))),
            (headers.get("If-Modified-Since") or "").strip())
        tok: PageToken | None = None
        if token_raw is not None:
            if not modern:
                raise invalid("page_token")
            if "page" in params:
                raise ApiError(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token "
                               "cannot be given together", {"param_names": ["page",
                                                                            "page_token"]})
            tok = self.page_tokens.get(token_raw)
            if tok is None:
                raise invalid("page_token")
            if now - tok.created > PAGE_TOKEN_TTL:
                raise ApiError(400, "EXPIRED_VALUE", "The given page_token has expired",
                               {"param_name": "page_token"})
            if tok.binding != binding:
                raise ApiError(400, "TOKEN_BOUND_DATA_MISMATCH", "The given page_token is "
                               "bound to different request data", {"param_name": "page_token"})
            start = served = tok.offset
            if served >= cap:
                raise ApiError(400, "PAGINATION_LIMIT_EXCEEDED", "You can only get up to first "
                               f"{cap} records using page_token param.", {"limit": cap})
            page = served // per_page + 1
        else:
            page = int_param(params, "page", 1)
            start = served = (page - 1) * per_page
            if start + per_page > DISCRETE_LIMIT:
                raise ApiError(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                               "You can only get the first 2000 records without using "
                               "page_token param.", {"limit": DISCRETE_LIMIT})
        recs = self.org.query(md.name, sort_by=sort_by, desc=sort_order == "desc",
                              converted=converted, approved=approved, since=since, ids=ids)
        if tok is not None:
            if not self.config["positional_page_tokens"]:
                start = keyset_start(recs, tok.after, sort_by, sort_order == "desc")
            end = min(start + per_page, len(recs), start + cap - served)
        else:
            end = min(start + per_page, len(recs))
        chunk = recs[start:end]
        if not chunk:
            return empty_answer(headers)
        with self.org.lock:
            data = [self.org.rendering.render(md.name, r, version, selected) for r in chunk]
        more = end < len(recs)
        info: dict[str, Any]
        if not modern:
            info = {"call": False, "per_page": per_page, "count": len(data), "page": page,
                    "email": False, "more_records": more}
        else:
            after = record_key(sort_by, sort_order == "desc")(chunk[-1])
            next_tok = (self.page_tokens.issue(served + len(chunk), binding, now, after)
                        if more and not plain else None)
            info = {"call": False, "per_page": per_page, "next_page_token": next_tok,
                    "count": len(data), "sort_by": sort_by, "page": page,
                    "previous_page_token": token_raw,
                    "page_token_expiry": fmt_dt(now + PAGE_TOKEN_TTL) if next_tok else None,
                    "sort_order": sort_order, "email": False, "more_records": more}
        return Response(200, {"data": data, "info": info})

    def get_record(self, version: float, md: ModuleData, rid: int, params: dict[str, str]
                   ) -> Response:
        selected = self._fields(version, md, params.get("fields"))
        org = self.org
        with org.lock:
            if md.name == "Activities":
                rec = next((r for _, r in org.activity_recs() if r.id == rid), None)
            else:
                rec = md.recs.get(rid)
            if rec is None:
                return Response(204)
            data = org.rendering.render(md.name, rec, version, selected, single=True)
        return Response(200, {"data": [data]})

    def rich_text(self, version: float, md: ModuleData, params: dict[str, str], *,
                  many: bool) -> Response:
        """Get Rich Text Fields: the whole value of rich-text fields (list calls cut them at
        500 characters from v7). One record (v6+, `fields` optional: all its rich-text
        fields) or up to 200 `ids` (v8, `fields` mandatory); only rich-text fields."""
        for name in ("ids", "fields") if many else ():
            if not params.get(name):
                raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter "
                               "is missing", {"param_name": name})
        ids = ids_param(params, FULL_DATA_MAX_IDS) or set()
        selected = self._fields(version, md, params.get("fields"))
        with self.org.lock:
            rich = [fd for fd in md.by_api(version).values()
                    if (fd.meta.get("textarea") or {}).get("type") == "rich_text"]
        if selected is None:
            selected = rich
        rich_names = {fd.api_name for fd in rich}
        for fd in selected:
            if fd.api_name not in rich_names:  # "other field types are not supported"
                raise ApiError(400, "INVALID_DATA", "invalid data",
                               {"api_name": fd.api_name, "param_name": "fields"})
        org = self.org
        data = []
        with org.lock:
            for rid in sorted(ids):
                rec = md.recs.get(rid)
                if rec is None:
                    continue
                full = org.rendering.render(md.name, rec, version, selected, single=True)
                data.append({"id": full["id"],
                             **{fd.api_name: full.get(fd.api_name) for fd in selected}})
        return Response(200, {"data": data}) if data else Response(204)

    def record_count(self, version: float, md: ModuleData, params: dict[str, str], headers: Any
                     ) -> Response:
        if self.config.get("count_documented_only") and version >= 8:
            for name in ("approved", "converted"):
                if name in params:
                    raise invalid(name)
            if headers.get("If-Modified-Since"):
                raise invalid("If-Modified-Since", "the header is not supported here")
        converted, approved = self._filters(md, params, False)
        recs = self.org.query(md.name, converted=converted, approved=approved,
                              since=modified_since(headers))
        # Zoho's Record Count answers the count as a string (record.json).
        return Response(200, {"count": str(len(recs))})
