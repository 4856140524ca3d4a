"""tap-zohocrm: the Tap, its settings, and discovery of Zoho modules."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime
from functools import cached_property
from typing import Any

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.plugin_base import _ConfigInput

from tap_zohocrm import data_centers, token_store
from tap_zohocrm._version import __version__
from tap_zohocrm.auth import ZohoAuthenticator
from tap_zohocrm.errors import ZohoAuthError
from tap_zohocrm.limits import ApiLimits
from tap_zohocrm.output import BufferedMsgSpecWriter
from tap_zohocrm.parallel import sync_streams
from tap_zohocrm.plan import format_plan, make_plan
from tap_zohocrm.prefetch import PageFeed, Prefetcher
from tap_zohocrm.report import RunReport
from tap_zohocrm.schema import module_schema
from tap_zohocrm.state import validate_state
from tap_zohocrm.streams import MetadataReader, ModuleStream, stream_name
from tap_zohocrm.streams_attachments import AttachmentsStream
from tap_zohocrm.streams_deleted import (
    DELETABLE_GENERATED_TYPES,
    DELETED_AT,
    DeletedRecordsStream,
)
from tap_zohocrm.streams_org import ORG_STREAM_TYPES, FieldsMetadataStream

API_VERSIONS = ("v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8")
SECRET_SETTINGS = ("client_secret", "refresh_token", "token_store")


class TapZohoCRM(Tap):
    """Singer tap for Zoho CRM."""

    name = "tap-zohocrm"
    dynamic_catalog = True
    message_writer_class = BufferedMsgSpecWriter

    @classmethod
    def get_plugin_version(cls) -> str:
        """The package's version (`--version`, `--about`), read from the source rather than
        installed metadata, which an editable install leaves stale after a bump."""
        return __version__

    config_jsonschema = th.PropertiesList(
        th.Property("client_id", th.StringType, required=True,
                    description="OAuth client id (Zoho API console, Self Client)."),
        th.Property("client_secret", th.StringType, required=True, secret=True,
                    description="OAuth client secret."),
        th.Property("refresh_token", th.StringType, required=True, secret=True,
                    description="Refresh token from a Self Client grant code."),
        th.Property("data_center", th.StringType, default="us",
                    allowed_values=list(data_centers.DATA_CENTERS),
                    description="Zoho data center of the org: us, eu, in, au, cn, jp, ca, sa."),
        th.Property("environment", th.StringType, default="production",
                    allowed_values=list(data_centers.ENVIRONMENTS),
                    description="production, sandbox or developer."),
        th.Property("accounts_url", th.StringType,
                    description="Override of the accounts server (https, or loopback for tests)."),
        th.Property("api_url", th.StringType,
                    description="Override of the API domain; default: the token's api_domain."),
        th.Property("api_version", th.StringType, default="v8", allowed_values=list(API_VERSIONS),
                    description="Zoho CRM API version: v8 (default) down to v2."),
        th.Property("start_date", th.DateTimeType,
                    description="Read records modified at or after this time when no bookmark."),
        th.Property("modules", th.ArrayType(th.StringType),
                    description="Module API names to discover (default: every readable module)."),
        th.Property("per_page", th.IntegerType, default=200,
                    description="Records per Get Records call, 1 to 200."),
        th.Property("full_rich_text", th.BooleanType, default=True,
                    description="Re-read rich text that v7+ list calls cut at 500 characters "
                    "(one call per such record)."),
        th.Property("emit_deletes", th.BooleanType, default=False,
                    description="Also emit, on each module stream, a record with "
                    "_sdc_deleted_at for every id deleted in Zoho since the last run."),
        th.Property("attachment_modules", th.ArrayType(th.StringType),
                    description="Modules whose records' attachment metadata the `attachments` "
                    "stream reads (one call per record read in the run)."),
        th.Property("bulk_read_threshold", th.IntegerType,
                    description="Backfill a module with no bookmark through Bulk Read jobs when "
                    "it has more records than this (e.g. 50000); unset: REST only."),
        th.Property("progress_interval_seconds", th.NumberType, default=30,
                    description="Seconds between progress lines per stream (records, total "
                    "from Zoho's count, rate, ETA); 0 turns them and the count calls off."),
        th.Property("request_timeout", th.IntegerType, default=300,
                    description="Read timeout of one API call, in seconds."),
        th.Property("max_retries", th.IntegerType, default=7,
                    description="Retries of a failing call (429, 5xx, timeouts) before giving up."),
        th.Property("token_store", th.StringType, secret=True,
                    description="SQLAlchemy URL of the database where tap processes share the "
                    "access token (postgresql+psycopg://, mysql+pymysql://, sqlite:///); "
                    "'memory' for none. Default: $XDG_STATE_HOME/tap-zohocrm/tokens.db."),
        th.Property("token_store_legacy_table", th.StringType,
                    description="Table in the archived Zoho SDKs' layout (useridentifier, "
                    "accesstoken, refreshtoken, expirytime) to read access tokens from; default "
                    "`oauthtokens` if the store's database has it, '' for none."),
        th.Property("retry_backoff_seconds", th.NumberType, default=2.0,
                    description="First retry wait; doubles per try up to 120 s (Retry-After "
                    "wins when Zoho sends it)."),
        th.Property("max_concurrency", th.IntegerType, default=5,
                    description="Most API calls in flight at once, all streams together (Zoho "
                    "allows 5 to 25 per org by edition)."),
        th.Property("parallel_modules", th.IntegerType, default=4,
                    description="Module streams synced at the same time, their records "
                    "interleaved in the output (modules with attachments, and the other streams, "
                    "sync one after another); API calls stay within max_concurrency. 1 syncs "
                    "one module after another (the next ones are still read ahead)."),
        th.Property("max_api_credits", th.IntegerType,
                    description="Stop cleanly (resumable STATE) before this run spends more "
                    "API credits."),
        th.Property("api_credits_reserve", th.IntegerType, default=0,
                    description="Stop cleanly when Zoho reports (X-API-CREDITS-REMAINING) fewer "
                    "credits left today than this."),
    ).to_dict()

    # -- settings --------------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        errors = [_hide_secrets(e, self.config) for e in super()._validate_config(
            raise_errors=False)]
        errors += _check_settings(self.config)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed: " + "; ".join(errors), errors=errors
            )
        return errors

    stopped_reason: str | None = None  # set when a credit budget stopped the run early

    def load_state(self, state: dict[str, Any]) -> None:
        validate_state(state)
        super().load_state(state)

    @cached_property
    def limits(self) -> ApiLimits:
        """Concurrency and credit limits shared by every stream of this run."""
        return ApiLimits(
            max_concurrency=int(self.config.get("max_concurrency", 5)),
            max_api_credits=self.config.get("max_api_credits"),
            credits_reserve=int(self.config.get("api_credits_reserve", 0)),
        )

    @cached_property
    def report(self) -> RunReport:
        return RunReport(float(self.config.get("progress_interval_seconds", 30)))

    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync every selected stream, then log the run report (also when the run fails)."""
        try:
            workers = int(self.config.get("parallel_modules", 4))
            if workers > 1:
                sync_streams(self, workers)
            else:
                super().sync_all()
        finally:
            self.report.log_summary(self.authenticator.token_requests, self.stopped_reason)
            self.prefetcher.close()

    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.params.append(click.Option(
            ["--plan"], is_flag=True,
            help="Print the records, API calls and credits a sync with this config, catalog "
            "and state would use, then exit (reads only record counts and /org).",
        ))
        return command

    @classmethod
    def invoke(cls, *, plan: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        if not plan:
            super().invoke(**kwargs)
            return
        config = kwargs.get("config") or _ConfigInput()
        state, catalog = kwargs.get("state"), kwargs.get("catalog")
        tap = cls(
            config=config.config,
            state=None if state is None else json.loads(state.read()),
            catalog=None if catalog is None else json.loads(catalog.read()),
            parse_env_config=config.parse_env,
            validate_config=True,
        )
        print(format_plan(make_plan(tap)))

    @cached_property
    def state_lock(self) -> threading.RLock:
        """Held for every change to the tap's state and every STATE message (parallel)."""
        return threading.RLock()

    @cached_property
    def prefetcher(self) -> Prefetcher:
        concurrency = int(self.config.get("max_concurrency", 5))
        return Prefetcher(window=concurrency, workers=2 * concurrency)

    def feed_for(self, stream: ModuleStream) -> PageFeed:
        """The page feed of a module stream; starts reading the next modules in sync order."""
        # A module whose Bulk Read goes straight to Parquet reads nothing over REST until its
        # export is written: it is not read ahead.
        order = [s for s in self.streams.values() if isinstance(s, ModuleStream) and s.selected
                 and (s is stream or not s.backfills_to_parquet())]
        return self.prefetcher.feed_for(stream, order)

    @property
    def api_version(self) -> str:
        return str(self.config.get("api_version", "v8"))

    @property
    def api_version_number(self) -> float:
        return float(self.api_version.lstrip("v"))

    @property
    def is_v2(self) -> bool:
        return self.api_version in ("v2", "v2.1")

    @cached_property
    def authenticator(self) -> ZohoAuthenticator:
        """One authenticator per tap: every stream shares the access token."""
        config = self.config
        accounts = config.get("accounts_url") or data_centers.accounts_url(
            config.get("data_center", "us")
        )
        return ZohoAuthenticator(
            auth_endpoint=f"{accounts.rstrip('/')}/oauth/v2/token",
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            refresh_token=config["refresh_token"],
            token_store=token_store.from_config(config),
        )

    @cached_property
    def api_domain(self) -> str:
        """api_url if set; else the token's api_domain in production; else the DC's domain."""
        config = self.config
        if config.get("api_url"):
            return str(config["api_url"]).rstrip("/")
        dc = config.get("data_center", "us")
        environment = config.get("environment", "production")
        if environment == "production":
            self.authenticator.ensure_token()
            if self.authenticator.api_domain:
                return self.authenticator.api_domain
        return data_centers.api_domain(dc, environment)

    @property
    def api_base_url(self) -> str:
        return f"{self.api_domain}/crm/{self.api_version}"

    # -- discovery -------------------------------------------------------------------------

    @cached_property
    def metadata_reader(self) -> MetadataReader:
        return MetadataReader(self)

    def discover_streams(self) -> list[Stream]:
        if self.input_catalog is not None:
            return self._streams_from_catalog()
        return self._streams_from_api()

    def _readable_modules(self) -> list[dict[str, Any]]:
        modules = self.metadata_reader.get_list("/settings/modules", "modules")
        wanted = self.config.get("modules")
        by_name = {m.get("api_name"): m for m in modules if isinstance(m, dict)}
        if wanted:
            unknown = [name for name in wanted if name not in by_name]
            if unknown:
                msg = (
                    f"Setting `modules` names modules this Zoho org does not have (or the user "
                    f"cannot see): {', '.join(unknown)}. Known: {', '.join(sorted(by_name))}"
                )
                raise ConfigValidationError(msg, errors=[msg])
        readable = []
        for module in by_name.values():
            api_name = module["api_name"]
            if wanted and api_name not in wanted:
                continue
            if not module.get("api_supported", False):
                self.logger.info("Skipping module %s: not supported in the API", api_name)
                continue
            if module.get("viewable") is False:
                self.logger.info("Skipping module %s: not viewable by this user", api_name)
                continue
            readable.append(module)
        return readable

    def _streams_from_api(self) -> list[Stream]:
        modules: list[ModuleStream] = []
        for module in self._readable_modules():
            api_name = module["api_name"]
            try:
                fields = self.metadata_reader.get_list(
                    "/settings/fields", "fields", {"module": api_name}
                )
            except ZohoAuthError:
                raise
            except (FatalAPIError, ValueError) as exc:
                self.logger.warning("Skipping module %s: its fields metadata failed: %s",
                                    api_name, exc)
                continue
            if not fields:
                self.logger.warning("Skipping module %s: Zoho returned no fields", api_name)
                continue
            modules.append(self._module_stream(module, module_schema(fields)))
        return [*modules, *self._org_streams(modules, {})]

    def _module_stream(self, module: dict[str, Any], schema: dict[str, Any]) -> ModuleStream:
        if self.config.get("emit_deletes"):
            schema["properties"].setdefault(DELETED_AT, {"type": ["string", "null"],
                                                         "format": "date-time"})
        return ModuleStream(self, module["api_name"], schema,
                            generated_type=module.get("generated_type"))

    def _org_streams(
        self, modules: list[ModuleStream], schemas: dict[str, dict[str, Any]]
    ) -> list[Stream]:
        """Streams beyond the modules: org metadata, deleted records, attachments."""
        streams: list[Stream] = [cls(self, schemas.get(cls.name)) for cls in ORG_STREAM_TYPES]
        names = [m.api_name for m in modules]
        streams.append(FieldsMetadataStream(self, schemas.get("fields"), modules=names))
        deletable = [m.api_name for m in modules
                     if m.generated_type in DELETABLE_GENERATED_TYPES and m.api_name != "Notes"]
        streams.append(DeletedRecordsStream(self, schemas.get("deleted_records"), deletable))
        streams.append(AttachmentsStream(self, schemas.get("attachments")))
        return streams

    def _streams_from_catalog(self) -> list[Stream]:
        """Build streams from the input catalog; only settings/modules is read, for names."""
        assert self.input_catalog is not None
        entries = {entry.tap_stream_id: entry for entry in self.input_catalog.values()}
        readable = {stream_name(m["api_name"]): m for m in self._readable_modules()}
        fixed = {
            cls.name for cls in (*ORG_STREAM_TYPES, FieldsMetadataStream, DeletedRecordsStream,
                                 AttachmentsStream)
        }
        modules: list[ModuleStream] = []
        missing = []
        for name, entry in entries.items():
            if name in fixed:
                continue
            if name not in readable:
                if entry.metadata.root.selected is not False:
                    missing.append(name)
                continue
            schema = copy.deepcopy(entry.schema.to_dict())
            module = self._module_stream(readable[name], schema)
            modules.append(module)
        if missing:
            msg = (
                "The catalog selects streams whose Zoho modules no longer exist or are not "
                f"readable: {', '.join(sorted(missing))}. Run discovery again."
            )
            raise ConfigValidationError(msg, errors=[msg])
        schemas = {name: copy.deepcopy(entries[name].schema.to_dict())
                   for name in fixed if name in entries}
        selected_modules = [
            m for m in modules if entries[m.name].metadata.root.selected is not False
        ]
        others = [s for s in self._org_streams(selected_modules, schemas) if s.name in entries]
        return [*modules, *others]


def _check_settings(config: dict[str, Any]) -> list[str]:
    """Checks JSON Schema cannot express; each message names the setting."""
    errors = []
    for key in ("accounts_url", "api_url"):
        url = config.get(key)
        if url is None:
            continue
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            errors.append(f"`{key}` must be an https:// URL, got {url!r}")
        elif url.startswith("http://") and not data_centers.is_loopback(url):
            errors.append(f"`{key}` must use https:// (plain http only for 127.0.0.1/localhost)")
    store_error = token_store.check_setting(config.get("token_store"))
    if store_error:
        errors.append(store_error)
    start = config.get("start_date")
    if start is not None:
        try:
            datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        except ValueError:
            errors.append(f"`start_date` must be an ISO-8601 date or datetime, got {start!r}")
    per_page = config.get("per_page")
    if per_page is not None and (not isinstance(per_page, int) or not 1 <= per_page <= 200):
        errors.append(f"`per_page` must be an integer from 1 to 200, got {per_page!r}")
    for key, least in (("max_concurrency", 1), ("max_retries", 0), ("api_credits_reserve", 0),
                       ("max_api_credits", 1)):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or value < least):
            errors.append(f"`{key}` must be an integer of at least {least}, got {value!r}")
    modules = config.get("modules")
    if modules is not None and (
        not isinstance(modules, list) or not all(isinstance(m, str) and m for m in modules)
    ):
        errors.append("`modules` must be a list of module API names, e.g. [\"Leads\", \"Deals\"]")
    return errors


def _hide_secrets(error: str, config: dict[str, Any]) -> str:
    for key in SECRET_SETTINGS:
        value = config.get(key)
        if isinstance(value, str) and value and value in error:
            error = error.replace(value, "***")
    return error


if __name__ == "__main__":
    TapZohoCRM.cli()
