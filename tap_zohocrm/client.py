"""Base REST stream for Zoho CRM: URLs, auth, Zoho's error envelope, retries."""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import time
from collections.abc import Generator, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage

from tap_zohocrm.errors import ZohoAPIError
from tap_zohocrm.jsonl_batch import JsonlFiles
from tap_zohocrm.limits import CreditBudgetReached
from tap_zohocrm.pagination import EMPTY_STATUSES, PAGE_LIMIT_CODES, response_json
from tap_zohocrm.parquet_batch import ParquetFiles, ParquetRows
from tap_zohocrm.report import StreamReport
from tap_zohocrm.schema import MISMATCH_PROPERTY, Converter, value_converters

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.auth import ZohoAuthenticator
    from tap_zohocrm.tap import TapZohoCRM

CONNECT_TIMEOUT_SECONDS = 15.0
BACKOFF_CAP_SECONDS = 120.0
RETRY_AFTER_CAP_SECONDS = 900.0

# What to grant when Zoho refuses a read, by error code.
_ACCESS_HINTS = {
    "OAUTH_SCOPE_MISMATCH": "the OAuth client lacks the scope {scope}; generate a new grant "
    "code with it (see README, 'Zoho console')",
    "NO_PERMISSION": "the Zoho user of this refresh token has no permission to read it; give "
    "the user's profile read access to the module, or drop it from `modules`",
    "INVALID_MODULE": "Zoho says the module does not exist or is not supported in this API "
    "version; check the module API name in `modules` and `api_version`",
    "NOT_SUPPORTED": "Zoho allows this only for administrators; use an admin user's refresh token",
    "FEATURE_NOT_ENABLED": "the feature is not enabled in this Zoho edition",
}


class ZohoStream(RESTStream[Any]):
    """A stream read from Zoho CRM's REST API."""

    records_jsonpath = "$.data[*]"
    # post_process already emits JSON-native values of the schema's types and drops unknown
    # keys; the SDK's conformance pass would only repeat that, at half the per-record cost.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # Zoho asks for restraint on 429; the SDK's default 5 tries can give up within a minute.
    _MAX_TRIES = 8

    def __init__(self, tap: TapZohoCRM, **kwargs: Any) -> None:
        super().__init__(tap=tap, **kwargs)
        self._zoho_tap = tap
        self.mismatch_counts: dict[str, int] = {}
        self._unknown_keys_logged: set[str] = set()

    # -- where and how ---------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        return self._zoho_tap.api_base_url

    @property
    def authenticator(self) -> ZohoAuthenticator:
        return self._zoho_tap.authenticator

    @property
    def timeout(self) -> tuple[float, float]:  # type: ignore[override]
        return (CONNECT_TIMEOUT_SECONDS, float(self.config.get("request_timeout", 300)))

    @property
    def module_api_name(self) -> str:
        """The Zoho module this stream reads (for messages)."""
        return self.name

    @property
    def required_scope(self) -> str:
        return f"ZohoCRM.modules.{self.module_api_name.lower()}.READ"

    # -- responses -------------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:  # the token works: a later rejection may be answered by a refresh
            self.authenticator.token_accepted(_sent_token(response))
        if status in EMPTY_STATUSES:
            return
        if status == 429 or status >= 500:
            raise RetriableAPIError(self._describe(response), response)
        if status >= 400:
            code = _error_code(response)
            if status == 401 and code == "INVALID_TOKEN":
                if self.authenticator.invalidate(_sent_token(response)):
                    # Expired or revoked early: the retry runs with a fresh token.
                    self.logger.info("Zoho rejected the access token; retrying with a new one")
                    raise RetriableAPIError("access token rejected (INVALID_TOKEN)", response)
                msg = (
                    "Zoho rejected a freshly issued access token (INVALID_TOKEN); the refresh "
                    "token may have been revoked, or it belongs to another data center or "
                    "environment than api_url. Generate a new refresh token."
                )
                raise ZohoAPIError(msg, code=code)
            if code in PAGE_LIMIT_CODES:
                return  # the paginator restarts the query
            hint = _ACCESS_HINTS.get(code or "")
            if hint:
                msg = (
                    f"Zoho refused to read module {self.module_api_name} ({code}): "
                    + hint.format(scope=self.required_scope)
                )
                raise ZohoAPIError(msg, code=code)
            details = response_json(response).get("details")
            raise ZohoAPIError(
                self._describe(response), code=code,
                details=details if isinstance(details, dict) else None,
            )
        # A 200 whose body was cut off mid-way is a transient failure, not bad data.
        if "json" not in response.headers.get("Content-Type", "json"):
            return  # a Bulk Read download (ZIP)
        try:
            response_json(response)
        except ValueError as exc:
            msg = f"Truncated or invalid JSON from {response.request.path_url.split('?')[0]}"
            raise RetriableAPIError(msg, response) from exc

    def _describe(self, response: requests.Response) -> str:
        path = (response.request.path_url if response.request else self.path).split("?")[0]
        code = _error_code(response)
        message = ""
        with contextlib.suppress(ValueError):
            message = str(response_json(response).get("message") or "")
        details = ""
        with contextlib.suppress(ValueError):
            details = json.dumps(response_json(response).get("details") or {})
        return f"HTTP {response.status_code} {code or ''} from GET {path}: {message} {details}"

    def parse_response(self, response: requests.Response) -> Iterable[dict[str, Any]]:
        if response.status_code >= 400 or response.status_code in EMPTY_STATUSES:
            return []
        body = response_json(response)
        return body.get(self._records_key, []) or []

    _records_key = "data"

    # -- retries ---------------------------------------------------------------------------

    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", self._MAX_TRIES - 1)) + 1

    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """Exponential backoff, but wait as long as Zoho's Retry-After says when it says so."""
        attempt = 0
        exc = yield 0.0
        while True:
            wait = _retry_after(exc)
            if wait is None:
                base = float(self.config.get("retry_backoff_seconds", 2.0))
                wait = min(BACKOFF_CAP_SECONDS, base * 2**attempt)
            attempt += 1
            exc = yield wait

    def backoff_handler(self, details: Any) -> None:
        exc = details.get("exception")
        self._zoho_tap.report.retry(self.name, _short_reason(exc))
        self.logger.warning(
            "Retrying %s after %s (try %d, waiting %.1f s)",
            self.module_api_name,
            _short_reason(exc),
            details.get("tries"),
            details.get("wait") or 0.0,
        )

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
                    f"(last: {_short_reason(exc)}); giving up. The last STATE message lets "
                    "the next run resume."
                )
                raise ZohoAPIError(msg) from exc

        return call

    def _request(
        self, prepared_request: requests.PreparedRequest, context: Context | None
    ) -> requests.Response:
        limits = self._zoho_tap.limits
        with limits.call_slots:  # never more calls in flight than max_concurrency
            # Budget checked once this call has its slot: calls queued for a slot must see
            # the credits the calls before them reported.
            credits = limits.reserve(prepared_request.method or "GET",
                                     prepared_request.path_url or "")
            self._zoho_tap.report.call(self.name, credits)
            response = super()._request(prepared_request, context)
            limits.observe(response)
        return response

    def expected_total(self) -> int | None:
        """Records this stream expects to read, for progress lines (None: unknown)."""
        return None

    # -- state: every change and every STATE message under the tap's lock (parallel.py) ------

    def _increment_stream_state(self, latest_record: dict[str, Any], *,
                                context: Context | None = None) -> None:
        with self._zoho_tap.state_lock:
            super()._increment_stream_state(latest_record, context=context)

    def _write_state_message(self) -> None:
        with self._zoho_tap.state_lock:
            super()._write_state_message()

    def _write_starting_replication_value(self, context: Context | None) -> None:
        with self._zoho_tap.state_lock:
            super()._write_starting_replication_value(context)

    def _finalize_state(self, state: dict | None = None) -> None:
        with self._zoho_tap.state_lock:
            super()._finalize_state(state)

    def sync(self, context: Context | None = None) -> None:
        """Sync, making sure a resumable STATE is written however the stream ends."""
        report = self._zoho_tap.report
        status = "failed"
        try:
            if self._report.started is None:
                report.start(self.name, None)
                self._report.expected = self.expected_total()
            super().sync(context)
            status = "ok"
        except CreditBudgetReached as exc:
            self._write_state_message()
            self._zoho_tap.stopped_reason = str(exc)
            self.logger.warning("Stopping %s cleanly: %s", self.name, exc)
            status = "stopped: credit budget"
        except ZohoAPIError as exc:
            if exc.code not in self.skippable_codes:
                with contextlib.suppress(Exception):
                    self._write_state_message()
                raise
            self.logger.warning("Skipping stream %s: %s", self.name, exc)
            status = f"skipped: {exc.code}"
        except Exception:
            with contextlib.suppress(Exception):
                self._write_state_message()
            raise
        finally:
            report.finish(self.name, status)
            if self.mismatch_counts:
                self.logger.warning(
                    "%s: values that did not fit their field's type were kept in %s and the "
                    "field left null: %s", self.module_api_name, MISMATCH_PROPERTY,
                    ", ".join(f"{k} x{n}" for k, n in sorted(self.mismatch_counts.items())),
                )

    # Zoho errors that mean "this stream cannot be read by this user", not "the run failed".
    skippable_codes: frozenset[str] = frozenset()

    # -- values ----------------------------------------------------------------------------

    @cached_property
    def _converters(self) -> list[tuple[str, tuple[type, ...], Converter]]:
        return value_converters(self.schema)

    @cached_property
    def _known_keys(self) -> frozenset[str]:
        return frozenset(self.schema.get("properties", {}))

    def post_process(self, row: dict[str, Any], context: Context | None = None) -> dict | None:
        mismatched: dict[str, Any] | None = None
        for key, ok, convert in self._converters:
            value = row.get(key)
            if value is None or type(value) in ok:
                continue
            try:
                row[key] = convert(value)
            except ValueError:
                # Keep the value where its type cannot break the typed column, and count it.
                mismatched = mismatched or {}
                mismatched[key] = value
                row[key] = None
                self.mismatch_counts[key] = self.mismatch_counts.get(key, 0) + 1
        if mismatched:
            row[MISMATCH_PROPERTY] = mismatched
        if not self._known_keys.issuperset(row):
            self._drop_unknown_keys(row)
        self._zoho_tap.report.record(self.name, self._report, self.logger)
        return row

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH files; for Parquet, rows built from the schema (see parquet_batch); for
        JSONL, records written by msgspec (see jsonl_batch)."""
        if batch_config.encoding.format == "jsonl":
            jsonl = JsonlFiles(batch_config, self.tap_name, self.name)
            for manifest in jsonl.write_rows(self._sync_records(context, write_messages=False)):
                yield batch_config.encoding, manifest
            return
        if batch_config.encoding.format != "parquet":
            yield from super().get_batches(batch_config, context)
            return
        rows = ParquetRows(self.schema)
        files = ParquetFiles(batch_config, self.tap_name, self.name)
        records = self._sync_records(context, write_messages=False)
        for manifest in files.write(rows.batches(records), rows.schema):
            yield batch_config.encoding, manifest

    @cached_property
    def _has_deselected_properties(self) -> bool:
        return any(
            not selected for breadcrumb, selected in self.mask.items() if breadcrumb
        )

    def _generate_record_messages(self, record: dict[str, Any]) -> Iterator[RecordMessage]:
        """The SDK's record message path, minus its deselected-property pass when nothing is
        deselected (it walks every property of every record: ~40% of our per-record cost).
        Type conformance is off (post_process already typed the values)."""
        if self._has_deselected_properties:
            pop_deselected_record_properties(record, self.schema, self.mask)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias, record=mapped,
                    version=self._stream_version, time_extracted=utc_now(),
                )

    @cached_property
    def _report(self) -> StreamReport:
        return self._zoho_tap.report.stream(self.name)

    def _drop_unknown_keys(self, row: dict[str, Any]) -> None:
        """Drop keys the catalog's schema lacks (a field added since discovery), logged once."""
        unknown = [key for key in row if key not in self._known_keys]
        for key in unknown:
            del row[key]
        new = set(unknown) - self._unknown_keys_logged
        if new:
            self._unknown_keys_logged |= new
            self.logger.log(
                self.unknown_keys_log_level,
                "%s: Zoho returned fields the catalog does not have (added after discovery?): "
                "%s. Run discovery again to include them.",
                self.module_api_name, ", ".join(sorted(new)),
            )

    unknown_keys_log_level = logging.WARNING

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


def _error_code(response: requests.Response) -> str | None:
    try:
        code = response_json(response).get("code")
    except ValueError:
        return None
    return code if isinstance(code, str) else None


def _sent_token(response: requests.Response) -> str | None:
    header = (response.request.headers.get("Authorization") if response.request else "") or ""
    return header.removeprefix("Zoho-oauthtoken ") or None


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        seconds = parsed.timestamp() - time.time() if parsed else 0.0
    return max(0.0, min(seconds, RETRY_AFTER_CAP_SECONDS))


def _short_reason(exc: Any) -> str:
    if isinstance(exc, RetriableAPIError):
        return str(exc).split(":")[0]
    return type(exc).__name__ if exc is not None else "an error"
