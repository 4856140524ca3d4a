"""Base REST stream for Zoho CRM: URLs, its calls through a ZohoApi, a stream's outcome."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import RESTStream
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zohocrm.batch_files.stream_batches import Manifest, StreamBatches, state_with_stream
from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.errors import RunStopped, ZohoAPIError
from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.record_values import RecordValues
from tap_zohocrm.sync.limits import CreditBudgetReached, DailyCreditsExhausted
from tap_zohocrm.sync.message_writer import BufferedMsgSpecWriter
from tap_zohocrm.sync.record_messages import Deselection, record_messages
from tap_zohocrm.sync.run_report import READ_TO_END, StreamReport

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers._batch import BatchConfig
    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib import RecordMessage

    from tap_zohocrm.auth.authenticator import ZohoAuthenticator
    from tap_zohocrm.sync.run import ZohoRun
    from tap_zohocrm.zoho_api import ZohoApi


class ZohoStream(RESTStream[Any]):
    """A stream read from Zoho CRM's REST API."""

    records_jsonpath = "$.data[*]"
    # post_process already emits JSON-native values of the schema's types and drops unknown
    # keys; the SDK's conformance pass would only repeat that, at half the per-record cost.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # Zoho sends fields added after discovery: say so loudly, with what to do.
    unknown_keys_log_level = logging.WARNING
    unknown_keys_hint = "Run discovery again to include them."

    def __init__(self, tap: Tap, run: ZohoRun, **kwargs: Any) -> None:
        super().__init__(tap=tap, **kwargs)
        self.run = run
        # Asked at each refusal: a stream of several modules names the one it reads then.
        self.api: ZohoApi[ZohoRun] = run.api_for(
            self.name, module_api_name=lambda: self.module_api_name,
            required_scope=lambda: self.required_scope, logger=self.logger)

    @property
    def reads_ahead(self) -> bool:
        """Whether a producer thread reads this stream's pages ahead (module streams)."""
        return False

    @property
    def syncs_side_by_side(self) -> bool:
        """Whether this stream may sync in a thread of its own, side by side with others
        (parallel_modules): every stream that syncs no child stream."""
        return True

    # -- records: values, messages, BATCH files --------------------------------------------

    @cached_property
    def values(self) -> RecordValues:
        return RecordValues(self.schema, self.logger, lambda: self.module_api_name,
                            unknown_keys_log_level=self.unknown_keys_log_level,
                            hint=self.unknown_keys_hint)

    @property
    def known_keys(self) -> frozenset[str]:
        return self.values.known_keys

    @override
    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        self.values.fit(row)
        self.run.report.record(self.name, self._report, self.logger)
        return row

    @cached_property
    def deselection(self) -> Deselection:
        return Deselection(self.schema, self.mask)

    @override
    def _generate_record_messages(self, record: dict[str, Any]
                                  ) -> Generator[RecordMessage, None, None]:
        yield from record_messages(record, deselection=self.deselection,
                                   stream_maps=self.stream_maps, version=self._stream_version)

    @cached_property
    def batch_files(self) -> StreamBatches:
        return StreamBatches(self.tap_name, self.name, self.selected_schema)

    @cached_property
    def selected_schema(self) -> dict[str, Any]:
        """The SCHEMA message's properties: what BATCH files hold as columns."""
        return get_selected_schema(self.name, self.schema, self.mask)

    @property
    def writes_batches(self) -> bool:
        return self.get_batch_config(self.config) is not None

    @override
    def get_batches(self, batch_config: BatchConfig,
                    context: Context | None = None) -> Iterator[Manifest]:
        files = self.batch_files.write(batch_config, self.deselection.strip_all(
            self._sync_records(context, write_messages=False)))
        yield from super().get_batches(batch_config, context) if files is None else files

    def write_state_where_stopped(self) -> None:
        """The STATE of a stream that stops before its end (a failure, a credit budget). None
        with BATCH output: the records read since its last file are in no file written out,
        and the STATE written after that file stands."""
        if not self.writes_batches:
            self._write_state_message()

    # -- where and how ---------------------------------------------------------------------

    @property
    @override
    def url_base(self) -> str:
        return self.run.api_base_url

    @property
    @override
    def authenticator(self) -> ZohoAuthenticator:
        return self.run.authenticator

    @property
    def module_api_name(self) -> str:
        """The Zoho module this stream reads (for messages)."""
        return self.name

    @property
    def required_scope(self) -> str:
        return f"ZohoCRM.modules.{self.module_api_name.lower()}.READ"

    # -- calls: every one through this stream's ZohoApi ------------------------------------

    @override
    def request_decorator(self, func: Any) -> Any:
        """The SDK's page loop sends through this stream's ZohoApi (call gate, credits, token,
        checks, retries), not through `func`, the SDK's own `_request`."""

        def send(prepared_request: requests.PreparedRequest,
                 context: Context | None) -> requests.Response:
            response = self.api.send(prepared_request)
            # The SDK's METRIC line of each request of the stream's own pages, kept.
            self._write_request_duration_log(endpoint=self.path, response=response,
                                             context=context, extra_tags=None)
            return response

        return send

    @override
    def validate_response(self, response: requests.Response) -> None:
        self.api.validate(response)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        return self.api.items(response)

    def cost_row(self) -> CostRow | None:
        """This stream's row of `--plan` (one call, unless it says otherwise)."""
        return CostRow(self.name, calls=1, credits=1)

    def expected_total(self) -> int | None:
        """Records this stream expects to read, for progress lines (None: unknown)."""
        return None

    # -- state: every change and every STATE message under the run's lock (parallel_modules) --

    @override
    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        with self.run.state_lock:
            super()._increment_stream_state(latest_record, context=context)

    @override
    def get_context_state(self, context: Context | None) -> dict:
        # Creates a partition's entry on first use: not while another thread copies the state.
        with self.run.state_lock:
            return super().get_context_state(context)

    @override
    def _write_state_message(self) -> None:
        # With BATCH output, a STATE changes only this stream's entry, written when its file
        # is out (batch_files.stream_batches.state_with_stream).
        with self.run.state_lock:
            if not self.writes_batches:
                super()._write_state_message()
            elif not self.state_manager.is_flushed:
                writer = self._tap.message_writer
                last = writer.last_state() if isinstance(writer, BufferedMsgSpecWriter) else None
                self._tap.state_writer.write_state(
                    state_with_stream(last, self.name, self.stream_state))
                self.state_manager.is_flushed = True

    @override
    def _write_starting_replication_value(self, context: Context | None) -> None:
        with self.run.state_lock:
            super()._write_starting_replication_value(context)

    @override
    def _finalize_state(self, state: dict | None = None) -> None:
        with self.run.state_lock:
            super()._finalize_state(state)

    # Wraps the SDK's @final sync (its source is pinned in tests/unit/test_sdk_contract.py).
    @override  # type: ignore[misc]
    def sync(self, context: Context | None = None) -> None:
        """Sync, making sure a resumable STATE is written however the stream ends."""
        report = self.run.report
        status = "failed"
        try:
            if self._report.started is None:
                report.start(self.name, None)
                self._report.expected = self.expected_total()
            super().sync(context)
            status = READ_TO_END
        except RunStopped as exc:
            status = f"stopped: {exc.signal_name}"  # the run writes the last STATE
            raise
        except CreditBudgetReached as exc:
            self.write_state_where_stopped()
            self.run.stopped_reason = str(exc)
            self.logger.warning("Stopping %s cleanly: %s", self.name, exc)
            status = ("stopped: daily credits used up" if isinstance(exc, DailyCreditsExhausted)
                      else "stopped: credit budget")
        except ZohoAPIError as exc:
            if not self.skips(exc):
                with contextlib.suppress(Exception):
                    self.write_state_where_stopped()
                raise
            self.logger.warning("Skipping stream %s: %s", self.name, exc)
            status = f"skipped: {exc.code or f'HTTP {exc.status}'}"
            self._report.reason = str(exc)
        except Exception:
            with contextlib.suppress(Exception):
                self.write_state_where_stopped()
            raise
        finally:
            report.finish(self.name, status)
            if self.values.mismatch_counts:
                self.logger.warning(
                    "%s: values that did not fit their field's type were kept in %s and the "
                    "field left null: %s", self.module_api_name, MISMATCH_PROPERTY,
                    ", ".join(f"{k} x{n}" for k, n in sorted(self.values.mismatch_counts.items())),
                )

    def skips(self, exc: ZohoAPIError) -> bool:
        """Whether this error skips the stream (with a warning) instead of failing the run: it
        means "this stream cannot be read by this user", not "the run failed"."""
        return False

    @cached_property
    def _report(self) -> StreamReport:
        return self.run.report.stream(self.name)
