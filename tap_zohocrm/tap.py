"""tap-zohocrm: the Tap, its settings, and discovery of Zoho modules."""

from __future__ import annotations

import copy
import io
import json
from functools import cached_property
from types import FrameType
from typing import Any, NoReturn

import click
from singer_sdk import Stream, Tap
from singer_sdk.plugin_base import _ConfigInput
from typing_extensions import override

from tap_zohocrm import __version__
from tap_zohocrm.client import ZohoStream
from tap_zohocrm.cost_plan import format_plan, make_plan
from tap_zohocrm.errors import RunStopped, ZohoAPIError, ZohoConfigError
from tap_zohocrm.reads.module_rules import (
    UNREADABLE_SYSTEM_MODULES,
    lists_deletions,
    stream_name,
    unreadable_reason,
)
from tap_zohocrm.responses import is_refusal
from tap_zohocrm.schema.fields import module_schema
from tap_zohocrm.settings import (
    CONFIG_SCHEMA,
    check_settings,
    drop_empty_settings,
    fill_defaults,
    hide_secrets,
    read_numbers_given_as_text,
    unknown_settings,
)
from tap_zohocrm.streams.attachments import AttachmentsStream
from tap_zohocrm.streams.deleted import DELETED_AT, DeletedRecordsStream
from tap_zohocrm.streams.metadata_reader import MetadataReader
from tap_zohocrm.streams.module import ModuleStream
from tap_zohocrm.streams.module_choice import ModuleChoice
from tap_zohocrm.streams.org import ORG_STREAM_TYPES, FieldsMetadataStream, warn_unless_admin
from tap_zohocrm.sync.limits import DailyCreditsExhausted
from tap_zohocrm.sync.log_levels import log_sdk_notes_at_debug, metrics_at_debug
from tap_zohocrm.sync.message_writer import BufferedMsgSpecWriter
from tap_zohocrm.sync.parallel_modules import sync_streams
from tap_zohocrm.sync.run import ZohoRun
from tap_zohocrm.sync.state_checks import read_state_file, validate_state
from tap_zohocrm.sync.stop import end_stopped_run

# Exit code of a run stopped because the org's API credits for the day are used up.
EXIT_CREDITS_EXHAUSTED = 3


class TapZohoCRM(Tap):
    """Singer tap for Zoho CRM."""

    name = "tap-zohocrm"
    dynamic_catalog = True
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = CONFIG_SCHEMA

    @override
    def __init__(self, **kwargs: Any) -> None:
        # A default run logs what a user reads or acts on; the SDK's other notes go to DEBUG.
        log_sdk_notes_at_debug()
        super().__init__(**kwargs)
        metrics_at_debug(self.metrics_logger)

    @override
    @classmethod
    def get_plugin_version(cls) -> str:
        """The package's version (`--version`, `--about`), read from the source rather than
        installed metadata, which an editable install leaves stale after a bump."""
        return __version__

    # -- settings --------------------------------------------------------------------------

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        for key in drop_empty_settings(self._config):
            self.logger.debug("Setting `%s` is empty: treated as unset", key)
        read_numbers_given_as_text(self._config)
        fill_defaults(self._config)
        errors = [hide_secrets(e, self.config) for e in super()._validate_config(
            raise_errors=False)]
        errors += check_settings(self.config)
        known = copy.deepcopy(self.config_jsonschema)
        self.append_builtin_config(known)  # the SDK's own keys: stream_maps, flattening_...
        for warning in unknown_settings(self._config, known["properties"]):
            self.logger.warning(warning)
        if errors and raise_errors:
            # Not the SDK's ConfigValidationError, which it turns into exit code 1 itself: the
            # command (cli.py) gives every setting error its one line and its own exit code.
            raise ZohoConfigError("Config validation failed: " + "; ".join(errors))
        return errors

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        validate_state(state)
        super().load_state(state)

    @cached_property
    def run(self) -> ZohoRun:
        """What the streams of this run share; built once, handed to every stream."""
        return ZohoRun(self.config, streams=lambda: self.streams.values())

    # @final in the SDK, replaced on purpose: tests/unit/test_sdk_contract.py pins its source.
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Sync every selected stream, then log the run report (also when the run fails)."""
        run = self.run
        run.stop.watch(end=self._end_stopped_run)
        self._syncing = True
        try:
            run.token_user_is_admin = warn_unless_admin(self.metadata_reader.api, self.logger)
            workers = int(self.config["parallel_modules"])
            if workers > 1:
                sync_streams(self, run, workers)
            else:
                super().sync_all()
        except DailyCreditsExhausted:
            pass  # before any stream started (settings/modules): the STATE is unchanged
        except RunStopped as exc:
            run.stopped_reason = str(exc)
        finally:
            run.report.log_summary(run.authenticator.token_requests, run.stopped_reason)
            run.close()
        if run.stop.requested:
            self._end_stopped_run()
        if run.limits.day_exhausted:
            # Every stream started wrote its STATE; invoke() turns this into a plain message
            # and a non-zero exit.
            raise DailyCreditsExhausted(run.limits.day_exhausted)

    _syncing = False  # sync_all started: a stop signal ends the run with a last STATE

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM or SIGINT. The SDK's handler writes the state and exits 0 from wherever the
        main thread stands, and the interpreter then waits for every stream's thread to read
        to its end. Here a sync stops: no new calls, the last STATE, a non-zero exit
        (sync/stop.py). Before the sync (discovery, --plan, reading the catalog's modules)
        there is nothing to keep: the run ends at once."""
        if not self._syncing:
            raise RunStopped(signum)
        self.run.stop.request(signum)

    def _end_stopped_run(self) -> NoReturn:
        # With BATCH output the state counts records in files not yet written out: the last
        # STATE is the one written after the last file.
        batches = bool(self.config.get("batch_config"))
        writer = self.message_writer
        assert isinstance(writer, BufferedMsgSpecWriter)  # message_writer_class
        end_stopped_run(self.run.stop, self.run.state_lock,
                        lambda: None if batches else self.state, writer, self.logger)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        # `auth` is dispatched before click (cli.py); listed here so --help shows it.
        command.help = ("Execute the Singer tap.\n\n"
                        "`tap-zohocrm auth --client-id ... --code ...` exchanges a Self Client "
                        "grant code for a refresh token (`tap-zohocrm auth --help`).")
        command.params.append(click.Option(
            ["--plan"], is_flag=True,
            help="Print the records, API calls and credits a sync with this config, catalog "
            "and state would use, then exit (reads only record counts and /org).",
        ))
        return command

    # `plan` is the --plan option this tap adds to the SDK's command (get_singer_command).
    @classmethod
    @override
    def invoke(cls, *, plan: bool = False, **kwargs: Any) -> None:  # type: ignore[override]
        if kwargs.get("state") is not None:
            # A state file that is not JSON: an error naming the file and how to recover.
            state = kwargs["state"]
            text = state.read()
            read_state_file(text, getattr(state, "name", "given with --state"))
            kwargs["state"] = io.StringIO(text)
        if not plan:
            try:
                super().invoke(**kwargs)
            except DailyCreditsExhausted as exc:
                # A non-zero exit keeps schedulers from reporting a partial load as a success.
                cls.logger.error(
                    "Stopped: the org's Zoho API credits for the day are used up. Every "
                    "stream read so far has its STATE written: the next run resumes where this "
                    "one stopped once credits are available again (Zoho counts them over 24 "
                    "hours). Details: %s", exc,
                )
                raise SystemExit(EXIT_CREDITS_EXHAUSTED) from None
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
        selected = [s for s in tap.streams.values() if s.selected and isinstance(s, ZohoStream)]
        print(format_plan(make_plan(selected, tap.run, tap.metadata_reader.get_list("/org"))))

    # -- discovery -------------------------------------------------------------------------

    @cached_property
    def metadata_reader(self) -> MetadataReader:
        return MetadataReader(self.run, self.logger.getChild(MetadataReader.name))

    @override
    def discover_streams(self) -> list[Stream]:
        if self.input_catalog is not None:
            return self._streams_from_catalog()
        return self._streams_from_api()

    @cached_property
    def module_choice(self) -> ModuleChoice:
        return ModuleChoice(self.metadata_reader, self.config, self.logger)

    def _streams_from_api(self) -> list[Stream]:
        modules: list[ModuleStream] = []
        for module in self.module_choice.readable():
            api_name = module["api_name"]
            try:
                fields = self.module_choice.fields(api_name)
            except ZohoAPIError as exc:
                if not is_refusal(exc.status, exc.code):
                    raise  # an answer that did not come right after the retries: no guess
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
        return ModuleStream(self, self.run, module["api_name"], schema,
                            generated_type=module.get("generated_type"))

    def _org_streams(
        self, modules: list[ModuleStream], schemas: dict[str, dict[str, Any]]
    ) -> list[Stream]:
        """Streams beyond the modules: org metadata, deleted records, attachments."""
        streams: list[Stream] = [cls(self, self.run, schemas.get(cls.name))
                                 for cls in ORG_STREAM_TYPES]
        names = [m.api_name for m in modules]
        streams.append(FieldsMetadataStream(self, self.run, schemas.get("fields"), modules=names))
        deletable = [m.api_name for m in modules if lists_deletions(m.api_name, m.generated_type)]
        streams.append(DeletedRecordsStream(self, self.run, schemas.get("deleted_records"),
                                            deletable))
        streams.append(AttachmentsStream(self, self.run, schemas.get("attachments")))
        return streams

    def _streams_from_catalog(self) -> list[Stream]:
        """Build streams from the input catalog; only settings/modules is read, for names."""
        assert self.input_catalog is not None
        entries = {entry.tap_stream_id: entry for entry in self.input_catalog.values()}
        readable = {stream_name(m["api_name"]): m
                    for m in self.module_choice.readable(from_catalog=True)}
        fixed = {cls.name for cls in ORG_STREAM_TYPES} | {
            FieldsMetadataStream.name, DeletedRecordsStream.name, AttachmentsStream.name}
        # A catalog from before these modules were left out of discovery.
        unreadable_names = {stream_name(m): m for m in UNREADABLE_SYSTEM_MODULES}
        modules: list[ModuleStream] = []
        missing = []
        for name, entry in entries.items():
            if name in fixed:
                continue
            if name not in readable:
                unreadable = unreadable_reason(unreadable_names.get(name, ""))
                if unreadable and entry.metadata.root.selected is not False:
                    self.logger.warning("Skipping stream %s: Zoho does not serve its records "
                                        "(%s)", name, unreadable)
                elif entry.metadata.root.selected is not False:
                    missing.append(name)
                continue
            schema = copy.deepcopy(entry.schema.to_dict())
            module = self._module_stream(readable[name], schema)
            modules.append(module)
        if missing:
            msg = (
                "The catalog selects streams whose Zoho modules no longer exist, are not "
                "readable or are left out by `modules` / `exclude_modules`: "
                f"{', '.join(sorted(missing))}. Run discovery again."
            )
            raise ZohoConfigError(msg)
        schemas = {name: copy.deepcopy(entries[name].schema.to_dict())
                   for name in fixed if name in entries}
        # The fields and deleted_records streams cover the selected modules; with none
        # selected (only those streams chosen), every module of the catalog.
        selected_modules = [
            m for m in modules if entries[m.name].metadata.root.selected is not False
        ] or modules
        others = [s for s in self._org_streams(selected_modules, schemas) if s.name in entries]
        return [*modules, *others]
