"""Base REST stream for Zoho CRM: URLs, auth, Zoho's error envelope, retries."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_zohocrm.batch_files.stream_batches import Manifest, StreamBatches, state_with_stream
from tap_zohocrm.cost_plan import CostRow
from tap_zohocrm.errors import RunStopped, ZohoAPIError
from tap_zohocrm.responses import (
    ACCESS_HINTS,
    EMPTY_STATUSES,
    PAGE_LIMIT_CODES,
    REJECTED_TOKEN_CODES,
    answer_items,
    check_answer,
    describe,
    error_code,
    lone_surrogates_replaced,
    response_json,
    retry_after_seconds,
    sent_token,
    short_reason,
)
from tap_zohocrm.schema.fields import MISMATCH_PROPERTY
from tap_zohocrm.schema.record_values import RecordValues
from tap_zohocrm.sync.limits import CreditBudgetReached, DailyCreditsExhausted
from tap_zohocrm.sync.message_writer import BufferedMsgSpecWriter
from tap_zohocrm.sync.record_messages import has_deselected_properties, record_messages
from tap_zohocrm.sync.run_report import READ_TO_END, StreamReport

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers._batch import BatchConfig
    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib import RecordMessage

    from tap_zohocrm.auth.authenticator import ZohoAuthenticator
    from tap_zohocrm.sync.run import ZohoRun

CONNECT_TIMEOUT_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 120.0

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
    def _deselected(self) -> bool:
        return has_deselected_properties(self.mask)

    @override
    def _generate_record_messages(self, record: dict[str, Any]
                                  ) -> Generator[RecordMessage, None, None]:
        yield from record_messages(record, schema=self.schema, mask=self.mask,
                               deselected=self._deselected, stream_maps=self.stream_maps,
                               version=self._stream_version)

    @cached_property
    def batch_files(self) -> StreamBatches:
        return StreamBatches(self.tap_name, self.name, self.schema)

    @property
    def writes_batches(self) -> bool:
        return self.get_batch_config(self.config) is not None

    @override
    def get_batches(self, batch_config: BatchConfig,
                    context: Context | None = None) -> Iterator[Manifest]:
        files = self.batch_files.write(batch_config,
                                       self._sync_records(context, write_messages=False))
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
    @override
    def timeout(self) -> tuple[float, float]:  # type: ignore[override]
        return (CONNECT_TIMEOUT_SECONDS, float(self.config["request_timeout"]))

    @property
    def module_api_name(self) -> str:
        """The Zoho module this stream reads (for messages)."""
        return self.name

    @property
    def required_scope(self) -> str:
        return f"ZohoCRM.modules.{self.module_api_name.lower()}.READ"

    # -- responses -------------------------------------------------------------------------

    @override
    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:  # the token works: a later rejection may be answered by a refresh
            self.authenticator.token_accepted(sent_token(response))
        if status in EMPTY_STATUSES:
            return
        if status == 429 or status >= 500:
            raise RetriableAPIError(describe(response), response)
        if status >= 400:
            code = error_code(response)
            if status == 401 and code in REJECTED_TOKEN_CODES:
                if self.authenticator.invalidate(sent_token(response)):
                    # Expired or revoked early: the retry runs with a fresh token.
                    self.logger.info("Zoho rejected the access token (%s); retrying with a new "
                                     "one", code)
                    raise RetriableAPIError(f"access token rejected ({code})", response)
                msg = (
                    f"Zoho rejected a freshly issued access token ({code}); the refresh "
                    "token may have been revoked, or it belongs to another data center or "
                    "environment than api_url. Generate a new refresh token."
                )
                raise ZohoAPIError(msg, code=code, status=status)
            if code in PAGE_LIMIT_CODES:
                return  # the paginator restarts the query
            hint = ACCESS_HINTS.get(code or "")
            if hint:
                msg = (
                    f"Zoho refused to read module {self.module_api_name} ({code}): "
                    + hint.format(scope=self.required_scope)
                )
                raise ZohoAPIError(msg, code=code, status=status)
            details = response_json(response).get("details")
            raise ZohoAPIError(
                describe(response), code=code,
                details=details if isinstance(details, dict) else None, status=status,
            )
        # A 2xx that is not what Zoho documents (cut off, a proxy's page, `null`) is a
        # transient failure, never "no more data".
        replaced = lone_surrogates_replaced(check_answer(response))
        if replaced:
            self._lone_surrogates(replaced)

    def _lone_surrogates(self, count: int) -> None:
        """Count the strings written with U+FFFD for a lone surrogate; say so once a stream."""
        if not self._report.replaced_surrogates:
            self.logger.warning(
                "%s: Zoho sent text holding a lone UTF-16 surrogate (an escape such as \\ud800, "
                "which UTF-8 cannot carry); written with U+FFFD in its place (counted in the "
                "run report)", self.module_api_name)
        self.run.report.replaced(self.name, count)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        if response.status_code >= 400:  # a page limit: the paginator restarts the query
            return []
        return answer_items(response)

    # -- retries ---------------------------------------------------------------------------

    @override
    def backoff_max_tries(self) -> int:
        return int(self.config["max_retries"]) + 1

    @override
    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """Exponential backoff, but wait as long as Zoho's Retry-After says when it says so.

        The wait happens here, on the run's stop event, and backoff's own sleep is 0: a stop
        cuts a backoff short (RunStopped) instead of sleeping it out. So the retry is logged
        here too, before the wait.
        """
        attempt = 0
        first_429_at: float | None = None
        exc = yield 0.0
        while True:
            response = getattr(exc, "response", None)
            if response is not None and response.status_code == 429:
                # Too many calls in flight, or the day's credits used up: the latter stops.
                first_429_at = first_429_at or time.monotonic()
                self.run.limits.too_many_requests(response, attempt + 1, first_429_at)
            wait = retry_after_seconds(exc)
            if wait is None:
                base = float(self.config["retry_backoff_seconds"])
                wait = min(BACKOFF_CAP_SECONDS, base * 2**attempt)
            wait = super().backoff_jitter(wait)
            attempt += 1
            self.run.report.retry(self.name, short_reason(exc))
            self.logger.warning("Retrying %s after %s (try %d, waiting %.1f s)",
                                self.module_api_name, short_reason(exc), attempt, wait)
            self.run.stop.sleep(wait)
            exc = yield 0.0

    @override
    def backoff_jitter(self, value: float) -> float:
        return value  # added to the wait in backoff_wait_generator, which waits itself

    @override
    def backoff_handler(self, details: Any) -> None:
        """Nothing: backoff_wait_generator logs each retry before it waits."""

    @override
    def request_decorator(self, func: Any) -> Any:
        """The SDK's retrying call, with a failure message that says what failed and how often."""
        decorated = super().request_decorator(func)

        def call(prepared_request: requests.PreparedRequest, context: Context | None) -> Any:
            try:
                return decorated(prepared_request, context)
            except (RetriableAPIError, requests.RequestException, ConnectionResetError) as exc:
                path = (prepared_request.path_url or "").split("?")[0]
                msg = (
                    f"{prepared_request.method} {path} failed {self.backoff_max_tries()} times "
                    f"(last: {short_reason(exc)}); giving up. The last STATE message lets "
                    "the next run resume."
                )
                raise ZohoAPIError(msg) from exc

        return call

    @override
    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        with self.call_slot(prepared_request):
            response = super()._request(prepared_request, context)
            self.run.limits.observe(response)
        return response

    @contextlib.contextmanager
    def call_slot(self, prepared_request: requests.PreparedRequest) -> Iterator[None]:
        """Hold one of the run's call slots (never more calls in flight than max_concurrency)
        and charge the call's credits; every API call goes through here."""
        limits = self.run.limits
        with limits.call_slot():
            # Budget checked once this call has its slot: calls queued for a slot must see
            # the credits the calls before them reported.
            credits = limits.reserve(prepared_request.method or "GET",
                                     prepared_request.path_url or "")
            self.run.report.call(self.name, credits)
            yield

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

    def request_json(
        self, path: str, params: dict[str, Any] | None = None, *,
        headers: dict[str, str] | None = None, method: str = "GET", url: str | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One call with this stream's auth, limits, validation and retries (side calls).

        `path` is relative to the API base (`/crm/{version}`); `url` replaces both.
        """
        prepared = self.build_prepared_request(
            method=method, url=url or f"{self.url_base}{path}", params=params or {},
            headers={**self.http_headers, **(headers or {})}, json=json,
        )
        return self.request_decorator(self._request)(prepared, None)


