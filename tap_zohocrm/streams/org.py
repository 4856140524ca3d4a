"""Org metadata streams: users, org, roles, profiles, and the modules/fields metadata itself.

Analysts need these to decode owners (user ids), roles and profiles, picklist values and field
labels. They are small and read in full, at most once per `metadata_refresh_hours`
(streams/metadata_refresh.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th
from singer_sdk.pagination import PageNumberPaginator
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_zohocrm.client import ZohoStream
from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.pagination import PagePaginator
from tap_zohocrm.reads.module_rules import field_list_params
from tap_zohocrm.responses import is_refusal, response_json
from tap_zohocrm.schema.values import instant
from tap_zohocrm.streams.metadata_refresh import NOT_DUE, next_read
from tap_zohocrm.streams.metadata_refresh import SETTING as METADATA_SETTING
from tap_zohocrm.sync.run_report import READ_TO_END
from tap_zohocrm.sync.state_checks import LAST_FULL_READ_KEY

if TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.zoho_api import ZohoApi

REF = th.ObjectType(th.Property("id", th.StringType), th.Property("name", th.StringType),
                    additional_properties=True)
OPEN_OBJECT = th.ObjectType(additional_properties=True)


class SettingsStream(ZohoStream):
    """A metadata list read in full (FULL_TABLE), one call or a few pages, when due
    (streams.metadata_refresh)."""

    name = ""  # each list's own
    paginated = False
    params: dict[str, Any] = {}

    def __init__(self, tap: Tap, run: ZohoRun, schema: dict | None = None) -> None:
        super().__init__(tap, run, schema=schema or self.schema_definition)

    schema_definition: dict[str, Any] = {}

    @property
    def module_api_name(self) -> str:
        return self.name

    @property
    def required_scope(self) -> str:
        return self.scope

    scope = "ZohoCRM.settings.ALL"

    @override
    def get_new_paginator(self) -> PageNumberPaginator | None:
        return PagePaginator(start_value=1) if self.paginated else None

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        params = dict(self.params)
        if self.paginated:
            params.update({"page": page.next_page_token or 1, "per_page": 200})
        return HTTPRequest(url=self.get_url(page.stream_context), params=params,
                           headers=dict(self.http_headers))

    # Metadata objects carry many UI-only keys; leaving them out is expected and no discovery
    # adds them (these schemas are the tap's own): nothing for a user to do, so DEBUG.
    unknown_keys_log_level = logging.DEBUG
    unknown_keys_hint = "Left out: this stream's schema is the tap's own."

    def calls_per_read(self) -> int:
        return 1

    def next_read(self, now: datetime) -> datetime | None:
        """When this stream is read again (None: due now)."""
        with self.run.state_lock:
            last = instant(self.stream_state.get(LAST_FULL_READ_KEY))
        return next_read(float(self.config[METADATA_SETTING]), last, now)

    # Wraps ZohoStream's wrap of the SDK's @final sync (pinned in test_sdk_contract).
    @override  # type: ignore[misc]
    def sync(self, context: Context | None = None) -> None:
        began = datetime.now(UTC).replace(microsecond=0)
        if (due := self.next_read(began)) is not None:
            self._pass_over(due)
            return
        super().sync(context)
        # ZohoStream.sync also returns when it stopped cleanly mid-read (a credit budget): the
        # time is kept for a read that went to its end only.
        if self._report.status == READ_TO_END:
            self._progress_kept(began)

    def _pass_over(self, due: datetime) -> None:
        """Not due: no message, no call; the run report and the log say so."""
        report = self.run.report
        report.start(self.name, None)
        with self.run.state_lock:
            last = self.stream_state.get(LAST_FULL_READ_KEY)
        self._report.reason = (f"last read at {last}, read again from {due.isoformat()} "
                               f"on ({METADATA_SETTING}: {self.config[METADATA_SETTING]})")
        report.finish(self.name, NOT_DUE)
        self.logger.info("Stream %s not read this run: %s; 0 reads it every run", self.name,
                         self._report.reason)

    def _progress_kept(self, began: datetime) -> None:
        """Every record is out: keep when this read began, in a STATE now."""
        with self.run.state_lock:
            self.stream_state[LAST_FULL_READ_KEY] = began.isoformat()
            self.state_manager.is_flushed = False
        self._write_state_message()

    @override
    def cost_row(self) -> CostRow | None:
        if self.next_read(datetime.now(UTC)) is not None:
            return CostRow(self.name, calls=0, credits=0, note=f"not due ({METADATA_SETTING})")
        calls = self.calls_per_read()
        return CostRow(self.name, calls=calls, credits=calls)


def _props(*properties: th.Property) -> dict[str, Any]:
    return th.PropertiesList(*properties).to_dict()


class UsersStream(SettingsStream):
    """Every user: active, inactive (disabled) and deleted."""

    name = "users"
    path = "/users"
    primary_keys = ("id",)
    paginated = True
    scope = "ZohoCRM.users.READ"
    schema_definition = _props(
        th.Property("id", th.StringType, required=True),
        th.Property("full_name", th.StringType),
        th.Property("first_name", th.StringType),
        th.Property("last_name", th.StringType),
        th.Property("email", th.StringType),
        th.Property("status", th.StringType),
        th.Property("role", REF),
        th.Property("profile", REF),
        th.Property("time_zone", th.StringType),
        th.Property("locale", th.StringType),
        th.Property("country", th.StringType),
        th.Property("confirm", th.BooleanType),
        th.Property("zuid", th.StringType),
        th.Property("created_time", th.DateTimeType),
        th.Property("created_by", REF),
        th.Property("Modified_Time", th.DateTimeType),
        th.Property("Modified_By", REF),
        th.Property("user_type", th.StringType),
    )

    # AllUsers leaves out deleted users; they come with DeletedUsers. Zoho's v8 OpenAPI files
    # list neither type: where Zoho refuses one, the types each version documents instead
    # (active and deactivated users; deleted users have no documented substitute).
    USER_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("AllUsers", ("ActiveUsers", "DeactiveUsers")),
        ("DeletedUsers", ()),
    )

    @override
    def calls_per_read(self) -> int:
        return 2  # AllUsers, then DeletedUsers

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        seen: set[str] = set()
        for user_type, fallback in self.USER_TYPES:
            for record in self._users_of_type(user_type, fallback, context):
                if (user_id := str(record.get("id"))) not in seen:
                    seen.add(user_id)
                    yield record

    def _users_of_type(self, user_type: str, fallback: tuple[str, ...],
                       context: Context | None) -> Iterable[dict[str, Any]]:
        try:
            self.params = {"type": user_type}
            yield from self.request_records(context)
            return
        except ZohoAPIError as exc:
            if not is_refusal(exc.status, exc.code):
                raise
            self.logger.warning(
                "Zoho refused users?type=%s in API %s (%s); %s", user_type,
                self.run.api_version, exc.code or f"HTTP {exc.status}",
                f"reading the types it documents instead: {', '.join(fallback)}" if fallback
                else "those users are left out of the users stream",
            )
        for documented in fallback:
            self.params = {"type": documented}
            yield from self.request_records(context)


class OrgStream(SettingsStream):
    name = "org"
    path = "/org"
    primary_keys = ("id",)
    scope = "ZohoCRM.org.READ"
    schema_definition = _props(
        th.Property("id", th.StringType, required=True),
        th.Property("company_name", th.StringType),
        th.Property("domain_name", th.StringType),
        th.Property("time_zone", th.StringType),
        th.Property("currency", th.StringType),
        th.Property("iso_code", th.StringType),
        th.Property("currency_symbol", th.StringType),
        th.Property("country", th.StringType),
        th.Property("country_code", th.StringType),
        th.Property("primary_email", th.StringType),
        th.Property("primary_zuid", th.StringType),
        th.Property("zgid", th.StringType),
        th.Property("type", th.StringType),
        th.Property("employee_count", th.StringType),
        th.Property("max_per_page", th.IntegerType),
        th.Property("license_details", OPEN_OBJECT),
    )


class RolesStream(SettingsStream):
    name = "roles"
    path = "/settings/roles"
    primary_keys = ("id",)
    schema_definition = _props(
        th.Property("id", th.StringType, required=True),
        th.Property("name", th.StringType),
        th.Property("display_label", th.StringType),
        th.Property("reporting_to", REF),
        th.Property("admin_user", th.BooleanType),
        th.Property("share_with_peers", th.BooleanType),
        th.Property("description", th.StringType),
        th.Property("forecast_manager", REF),
    )


class ProfilesStream(SettingsStream):
    name = "profiles"
    path = "/settings/profiles"
    primary_keys = ("id",)
    schema_definition = _props(
        th.Property("id", th.StringType, required=True),
        th.Property("name", th.StringType),
        th.Property("display_label", th.StringType),
        th.Property("description", th.StringType),
        th.Property("default", th.BooleanType),
        th.Property("custom", th.BooleanType),
        th.Property("category", th.BooleanType),
        th.Property("created_time", th.DateTimeType),
        th.Property("modified_time", th.DateTimeType),
        th.Property("created_by", REF),
        th.Property("modified_by", REF),
    )


class ModulesMetadataStream(SettingsStream):
    """settings/modules as data: which modules exist, their labels and types."""

    name = "modules"
    path = "/settings/modules"
    primary_keys = ("api_name",)
    schema_definition = _props(
        th.Property("api_name", th.StringType, required=True),
        th.Property("id", th.StringType),
        th.Property("module_name", th.StringType),
        th.Property("singular_label", th.StringType),
        th.Property("plural_label", th.StringType),
        th.Property("generated_type", th.StringType),
        th.Property("api_supported", th.BooleanType),
        th.Property("viewable", th.BooleanType),
        th.Property("creatable", th.BooleanType),
        th.Property("editable", th.BooleanType),
        th.Property("deletable", th.BooleanType),
        th.Property("status", th.StringType),
        th.Property("visible", th.BooleanType),
        th.Property("parent_module", OPEN_OBJECT),
        th.Property("modified_time", th.DateTimeType),
    )

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        # A run from a catalog has read settings/modules already, for the catalog's modules.
        read = self.run.settings_lists.get(self.path)
        if read is None:
            yield from super().request_records(context)
            return
        yield from (dict(record) for record in read)


class FieldsMetadataStream(SettingsStream):
    """settings/fields of every discovered module: labels, types, picklist values."""

    name = "fields"
    path = "/settings/fields"
    primary_keys = ("module", "api_name")
    schema_definition = _props(
        th.Property("module", th.StringType, required=True),
        th.Property("api_name", th.StringType, required=True),
        th.Property("id", th.StringType),
        th.Property("field_label", th.StringType),
        th.Property("display_label", th.StringType),
        th.Property("data_type", th.StringType),
        th.Property("json_type", th.StringType),
        th.Property("length", th.IntegerType),
        th.Property("decimal_place", th.IntegerType),
        th.Property("custom_field", th.BooleanType),
        th.Property("read_only", th.BooleanType),
        th.Property("field_read_only", th.BooleanType),
        th.Property("system_mandatory", th.BooleanType),
        th.Property("visible", th.BooleanType),
        th.Property("virtual_field", th.BooleanType),
        th.Property("pick_list_values", th.ArrayType(OPEN_OBJECT)),
        th.Property("lookup", OPEN_OBJECT),
        th.Property("formula", OPEN_OBJECT),
        th.Property("rollup_summary", OPEN_OBJECT),
        th.Property("currency", OPEN_OBJECT),
        th.Property("auto_number", OPEN_OBJECT),
        th.Property("subform", OPEN_OBJECT),
        th.Property("multiselectlookup", OPEN_OBJECT),
        th.Property("textarea", OPEN_OBJECT),
    )

    def __init__(self, tap: Tap, run: ZohoRun, schema: dict | None = None,
                 modules: list[str] | None = None) -> None:
        super().__init__(tap, run, schema)
        self.modules = modules or []

    @override
    def calls_per_read(self) -> int:
        return len(self.modules)

    @property
    @override
    def partitions(self) -> list[dict[str, Any]]:
        return [{"module": module} for module in self.modules]

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        if (context or {}).get("module") is None:  # no module in the catalog
            self.logger.warning("Stream %s: the catalog holds no module to list", self.name)
            return
        yield from super().get_records(context)

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        request.params.update(field_list_params((page.stream_context or {})["module"],
                                                self.run.version))
        return request

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        row["module"] = (context or {}).get("module")
        return super().post_process(row, context)


ADMIN_PROFILE = "Administrator"  # Zoho's system profile with every permission


def warn_unless_admin(api: ZohoApi[ZohoRun], logger: logging.Logger) -> bool | None:
    """Ask Zoho who the token's user is (one call); warn when the user is not an administrator.

    Zoho's default data sharing is private: a token reads only the records its user may see,
    and nothing in the answers says that records were left out. Never fails the run.
    Returns whether the user is an administrator (None when Zoho did not say).
    """
    try:
        response = api.call("/users", {"type": "CurrentUser"})
        users = response_json(response).get("users") if response.status_code == 200 else None
    except Exception as exc:  # a check, never a reason to stop
        logger.debug("Could not ask Zoho who the token's user is: %s", exc)
        return None
    user = users[0] if isinstance(users, list) and users and isinstance(users[0], dict) else {}
    profile = (user.get("profile") or {}).get("name") if isinstance(user, dict) else None
    if not profile:
        logger.debug("Zoho did not say which profile the token's user has")
        return None
    if profile == ADMIN_PROFILE:
        logger.info("The refresh token acts as user %s, an administrator", user.get("id"))
        return True
    logger.warning(
        "The refresh token acts as user %s, whose profile is %r, not %s: Zoho shows a token "
        "only the records its user may see, so the data read may be a subset of the org's. "
        "To read every record, generate the refresh token with a Self Client of an "
        "administrator (README, 'Getting a refresh token').",
        user.get("id"), profile, ADMIN_PROFILE,
    )
    return False


ORG_STREAM_TYPES: tuple[type[SettingsStream], ...] = (
    UsersStream, OrgStream, RolesStream, ProfilesStream, ModulesMetadataStream,
)
