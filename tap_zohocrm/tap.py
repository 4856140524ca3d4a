"""tap-zohocrm: the Tap, its settings, and discovery of Zoho modules."""

from __future__ import annotations

import copy
import json
import threading
from functools import cached_property
from typing import Any

import click
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.plugin_base import _ConfigInput

from tap_zohocrm import data_centers
from tap_zohocrm.auth import token_store
from tap_zohocrm.auth.authenticator import ZohoAuthenticator
from tap_zohocrm.cost_plan import format_plan, make_plan
from tap_zohocrm.errors import ZohoAuthError
from tap_zohocrm.schema.fields import module_schema
from tap_zohocrm.settings import CONFIG_SCHEMA, check_settings, drop_empty_settings, hide_secrets
from tap_zohocrm.streams.attachments import AttachmentsStream
from tap_zohocrm.streams.deleted import (
    DELETABLE_GENERATED_TYPES,
    DELETED_AT,
    DeletedRecordsStream,
)
from tap_zohocrm.streams.module import MetadataReader, ModuleStream, stream_name
from tap_zohocrm.streams.org import ORG_STREAM_TYPES, FieldsMetadataStream
from tap_zohocrm.sync.limits import ApiLimits
from tap_zohocrm.sync.message_writer import BufferedMsgSpecWriter
from tap_zohocrm.sync.parallel_modules import sync_streams
from tap_zohocrm.sync.read_ahead import PageFeed, Prefetcher
from tap_zohocrm.sync.run_report import RunReport
from tap_zohocrm.sync.state_checks import validate_state


class TapZohoCRM(Tap):
    """Singer tap for Zoho CRM."""

    name = "tap-zohocrm"
    dynamic_catalog = True
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = CONFIG_SCHEMA

    # -- settings --------------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        for key in drop_empty_settings(self._config):
            self.logger.debug("Setting `%s` is empty: treated as unset", key)
        errors = [hide_secrets(e, self.config) for e in super()._validate_config(
            raise_errors=False)]
        errors += check_settings(self.config)
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
