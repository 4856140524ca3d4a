"""The settings and users endpoints: modules, fields, layouts, org, roles, profiles, users."""

from __future__ import annotations

from typing import Any

from . import system_modules
from .access import Access
from .api_types import (
    ApiError,
    Response,
    invalid,
    page_answer,
)
from .directory import (
    USER_TYPES,
    build_profiles,
    build_roles,
    user_matches,
    user_type_served,
)
from .field_usage import listed_fields
from .oauth import AccessToken
from .org import Org
from .records import parse_iso
from .request_params import ids_param, modified_since, page_params


class SettingsApi:
    """The settings and users endpoints: modules, fields, layouts, org, roles, profiles, users."""

    def __init__(self, org: Org, access: Access, config: dict[str, Any],
                 user_is_admin: bool) -> None:
        self.org = org
        self.access = access
        self.config = config
        self.user_is_admin = user_is_admin

    # ------------------------------------------------------------ settings
    def settings(self, version: float, rest: list[str], params: dict[str, str],
                 token: AccessToken) -> Response:
        org = self.org
        if rest and rest[0] == "modules":
            self.access.require_scope(token, {"zohocrm.settings.all",
                                              "zohocrm.settings.modules.read",
                                              "zohocrm.settings.modules.all"})
            if len(rest) == 1:
                listed = [s.module_meta(version) for s in org.specs]
                if self.config["unservable_modules"]:
                    listed += system_modules.listed(version)
                return Response(200, {"modules": listed})
            md = org.module(rest[1])
            if md is None or len(rest) > 2:
                raise ApiError(400, "INVALID_MODULE", "The module name given seems to be invalid")
            return Response(200, {"modules": [md.spec.module_meta(version)]})
        if rest == ["fields"]:
            self.access.require_scope(token, {"zohocrm.settings.all",
                                              "zohocrm.settings.fields.read",
                                              "zohocrm.settings.fields.all"})
            name = params.get("module")
            if not name:
                raise ApiError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter "
                               "is missing", {"param_name": "module"})
            md = org.module(name)
            if md is None and self.access.unservable(name):
                return Response(200, {"fields": [f.meta for f in system_modules.fields(name)]})
            if md is None:
                raise ApiError(400, "INVALID_MODULE", "The module name given seems to be invalid")
            if not md.spec.module_meta(version)["api_supported"]:
                raise ApiError(400, "INVALID_MODULE", "The given module is not supported in API")
            self.access.permission(md.spec)
            with org.lock:
                fields = listed_fields(md.fields, version, params.get("type"))
            return Response(200, {"fields": fields})
        if rest == ["recycle_bin"] and version >= 6:
            return self._recycle_bin(params, token)
        if rest and rest[0] in ("roles", "profiles") and len(rest) <= 2:
            kind = rest[0]
            self.access.require_scope(token, {"zohocrm.settings.all",
                                              f"zohocrm.settings.{kind}.read",
                                              f"zohocrm.settings.{kind}.all"})
            items = build_roles(version) if kind == "roles" else build_profiles()
            if len(rest) == 2:  # GET settings/roles/{id}, settings/profiles/{id}
                items = [i for i in items if i["id"] == rest[1]]
                if not items:
                    return Response(204)
            return Response(200, {kind: items})
        raise ApiError(404, "INVALID_URL_PATTERN",
                       "Please check if the URL trying to access is a correct one")

    def _recycle_bin(self, params: dict[str, str], token: AccessToken) -> Response:
        """GET settings/recycle_bin (v6 on): the records in the recycle bin of every module,
        sort_by deleted_time (the default) desc (the default) or asc, page/per_page <= 200.
        Where the docs are silent, with `recycle_bin_own_deletions` a user who is not an
        administrator sees only the records they deleted (as the recycle bin in Zoho's UI)."""
        self.access.require_scope(token, {"zohocrm.settings.all",
                                          "zohocrm.settings.recycle_bin.read",
                                          "zohocrm.settings.recycle_bin.all"})
        if params.get("sort_by", "deleted_time") != "deleted_time":
            raise invalid("sort_by")  # display_name and deleted_by are not simulated
        sort_order = params.get("sort_order", "desc")
        if sort_order not in ("asc", "desc"):
            raise invalid("sort_order")
        if "filters" in params or "ids" in params:
            raise invalid("filters" if "filters" in params else "ids")  # not simulated
        page, per_page = page_params(params)
        org = self.org
        own = self.config["recycle_bin_own_deletions"] and not self.user_is_admin
        rows = org.recycle_bin_rows(org.users.current_ref()["id"] if own else None)
        if sort_order == "asc":
            rows.reverse()
        return page_answer("recycle_bin", rows, page, per_page, {})

    # ------------------------------------------------------------ users
    def users(self, version: float, rest: list[str], params: dict[str, str], headers: Any,
              token: AccessToken) -> Response:
        """GET /users (type, page, per_page <= 200, ids, If-Modified-Since on Modified_Time)
        and GET /users/{id}. Users come in id order (assumption)."""
        self.access.require_scope(token, {"zohocrm.users.read", "zohocrm.users.all"})
        org = self.org
        since = modified_since(headers)
        users = org.user_directory()
        if len(rest) == 1:
            if not rest[0].isdigit():
                raise invalid("user_id")
            found = [u for u in users if u["id"] == rest[0]]
            if not found:
                return Response(204)
            if since is not None and parse_iso(found[0]["Modified_Time"]) < since:
                return Response(304)
            return Response(200, {"users": found})
        if rest:
            raise ApiError(404, "INVALID_URL_PATTERN",
                           "Please check if the URL trying to access is a correct one")
        kind = params.get("type", "AllUsers")
        if kind not in USER_TYPES or not user_type_served(self.config, version, kind):
            raise invalid("type")
        ids = ids_param(params)
        page, per_page = page_params(params)
        current = org.users.current_ref()["id"]
        rows = [u for u in users if user_matches(u, kind, current)
                and (ids is None or int(u["id"]) in ids)
                and (since is None or parse_iso(u["Modified_Time"]) >= since)]
        return page_answer("users", rows, page, per_page, headers)
