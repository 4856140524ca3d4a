"""One stream's calls to Zoho: the run's call gate and credit budget, the access token, Zoho's
answers checked, retries as Zoho asks, and each call counted in the run report.

Every call of the tap goes through a ZohoApi: the SDK's own page loops (through the stream's
`request_decorator`), and the side objects that make calls of their own (the recycle bin, the
deleted-records listing, Bulk Read jobs, the settings reads of discovery).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import requests
from singer_sdk import Tap
from singer_sdk.exceptions import RetriableAPIError

from tap_zohocrm.errors import ZohoAPIError
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
from tap_zohocrm.sync.limits import is_coql

if TYPE_CHECKING:
    from tap_zohocrm.auth.authenticator import ZohoAuthenticator
    from tap_zohocrm.sync.limits import ApiLimits
    from tap_zohocrm.sync.run_report import RunReport
    from tap_zohocrm.sync.stop import RunStop

CONNECT_TIMEOUT_SECONDS = 15.0
COQL_SCOPE = "ZohoCRM.coql.READ"
BACKOFF_CAP_SECONDS = 120.0
# What a retry may cure: Zoho's 5xx and 429, an odd 2xx, a rejected token, the network.
RETRIED = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RunParts(Protocol):
    """What a ZohoApi uses of its run (sync/run.py's ZohoRun, which builds it and so cannot be
    imported here)."""

    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def api_base_url(self) -> str: ...
    @property
    def authenticator(self) -> ZohoAuthenticator: ...
    @property
    def limits(self) -> ApiLimits: ...
    @property
    def report(self) -> RunReport: ...
    @property
    def stop(self) -> RunStop: ...


RunT = TypeVar("RunT", bound=RunParts)


class ZohoApi(Generic[RunT]):
    """One stream's door to Zoho: each call through the run's call gate and credit budget, its
    answer checked against what Zoho documents, retried as Zoho asks, counted in the run report."""

    def __init__(self, run: RunT, *, name: str, module_api_name: str | Callable[[], str],
                 required_scope: str | Callable[[], str], logger: logging.Logger,
                 session: requests.Session | None = None) -> None:
        """`name` is the stream's (the run report's line); `module_api_name` and
        `required_scope` name what a refusal refused, asked when it comes (a stream of several
        modules reads one at a time)."""
        self.run = run
        self.name = name
        self.logger = logger
        self._module_api_name = module_api_name
        self._required_scope = required_scope
        self._session = session or requests.Session()
        # The SDK's User-Agent, as on the stream's own requests.
        self._user_agent = str(run.config.get("user_agent",
                                              f"singer-sdk/{Tap.get_sdk_version()}"))

    @property
    def module_api_name(self) -> str:
        """The Zoho module this door reads (for messages)."""
        name = self._module_api_name
        return name() if callable(name) else name

    @property
    def base_url(self) -> str:
        """The API base every `path` is relative to: `{api domain}/crm/{version}`."""
        return self.run.api_base_url

    # -- calls ---------------------------------------------------------------------------

    def call(self, path: str, params: Mapping[str, Any] | None = None, *,
             headers: Mapping[str, str] | None = None, method: str = "GET",
             url: str | None = None, json: Any = None, stream: bool = False
             ) -> requests.Response:
        """One call: `path` is relative to the API base (`/crm/{version}`); `url` replaces
        both. `stream`: the body is read by the caller, as it arrives."""
        request = requests.Request(
            method, url or f"{self.base_url}{path}", params=dict(params or {}),
            headers={"User-Agent": self._user_agent, **(headers or {})}, json=json)
        return self.send(self._session.prepare_request(request), stream=stream)

    def send(self, prepared: requests.PreparedRequest, *, stream: bool = False
             ) -> requests.Response:
        """Send one prepared request until Zoho answers it right, at most `max_retries` + 1
        times; ZohoAPIError once the tries are used up (or on an error no retry cures)."""
        tries = int(self.run.config["max_retries"]) + 1
        failed = 0
        first_429_at: float | None = None
        while True:
            try:
                return self._send_once(prepared, stream)
            except RETRIED as exc:
                failed += 1
                if failed >= tries:
                    raise self._gave_up(prepared, tries, exc) from exc
                response = getattr(exc, "response", None)
                if response is not None and response.status_code == 429:
                    # Too many calls in flight, or the day's credits used up: the latter stops.
                    first_429_at = first_429_at or time.monotonic()
                    self.run.limits.too_many_requests(response, failed, first_429_at)
                self._wait(failed, exc)
            except requests.RequestException as exc:
                raise self._gave_up(prepared, tries, exc) from exc

    def _send_once(self, prepared: requests.PreparedRequest, stream: bool) -> requests.Response:
        """One try: a call slot held (never more calls in flight than max_concurrency) and its
        credits charged, the access token of this moment applied (a retry after a rejected
        token carries the new one), the answer checked."""
        limits = self.run.limits
        with limits.call_slot(prepared.path_url or ""):
            # Budget checked once this call has its slot: calls queued for a slot must see
            # the credits the calls before them reported.
            body = prepared.body if isinstance(prepared.body, bytes | str) else None
            credits = limits.reserve(prepared.method or "GET", prepared.path_url or "", body)
            self.run.report.call(self.name, credits)
            response = self._session.send(
                self.run.authenticator(prepared), stream=stream,
                timeout=(CONNECT_TIMEOUT_SECONDS, float(self.run.config["request_timeout"])))
            if stream and response.status_code >= 400:
                response.content  # noqa: B018 - a small error envelope, read for the message
            self.validate(response)
            limits.observe(response)
        return response

    def _wait(self, failed: int, exc: BaseException) -> None:
        """Wait before the next try: as long as Zoho's Retry-After says, else exponentially
        longer, capped; and a random fraction of a second. The wait is on the run's stop, so a
        stop cuts it short (RunStopped)."""
        wait = retry_after_seconds(exc)
        if wait is None:
            base = float(self.run.config["retry_backoff_seconds"])
            wait = min(BACKOFF_CAP_SECONDS, base * 2 ** (failed - 1))
        # Up to a second more (the SDK's jitter): calls that failed together retry apart.
        wait += random.random()
        self.run.report.retry(self.name, short_reason(exc))
        self.logger.warning("Retrying %s after %s (try %d, waiting %.1f s)",
                            self.module_api_name, short_reason(exc), failed, wait)
        self.run.stop.sleep(wait)

    @staticmethod
    def _gave_up(prepared: requests.PreparedRequest, tries: int,
                 exc: BaseException) -> ZohoAPIError:
        path = (prepared.path_url or "").split("?")[0]
        return ZohoAPIError(
            f"{prepared.method} {path} failed {tries} times (last: {short_reason(exc)}); giving "
            "up. The last STATE message lets the next run resume.")

    # -- answers -------------------------------------------------------------------------

    def validate(self, response: requests.Response) -> None:
        """Raise for an answer that is not what Zoho documents: RetriableAPIError for what a
        retry may cure, ZohoAPIError for the rest. Page-limit errors pass (the paginator
        restarts the query)."""
        status = response.status_code
        authenticator = self.run.authenticator
        if status < 400:  # the token works: a later rejection may be answered by a refresh
            authenticator.token_accepted(sent_token(response))
        if status in EMPTY_STATUSES:
            return
        if status == 429 or status >= 500:
            raise RetriableAPIError(describe(response), response)
        if status >= 400:
            code = error_code(response)
            if status == 401 and code in REJECTED_TOKEN_CODES:
                if authenticator.invalidate(sent_token(response)):
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
                return
            details = response_json(response).get("details")
            details = details if isinstance(details, dict) else None
            coql = is_coql(response.request.path_url or "" if response.request else "")
            # A COQL query's INVALID_QUERY is about the query (a column COQL cannot select).
            hint = None if coql and code == "INVALID_QUERY" else ACCESS_HINTS.get(code or "")
            if hint:
                scope = self._required_scope
                scope = scope() if callable(scope) else scope
                if coql:
                    scope = f"{COQL_SCOPE} (with {scope})"
                msg = (f"Zoho refused to read module {self.module_api_name} ({code}): "
                       + hint.format(scope=scope))
                raise ZohoAPIError(msg, code=code, status=status, details=details)
            raise ZohoAPIError(describe(response), code=code, details=details, status=status)
        # A 2xx that is not what Zoho documents (cut off, a proxy's page, `null`) is a
        # transient failure, never "no more data".
        replaced = lone_surrogates_replaced(check_answer(response))
        if replaced:
            self._lone_surrogates(replaced)

    def _lone_surrogates(self, count: int) -> None:
        """Count the strings written with U+FFFD for a lone surrogate; say so once a stream."""
        report = self.run.report
        if not report.stream(self.name).replaced_surrogates:
            self.logger.warning(
                "%s: Zoho sent text holding a lone UTF-16 surrogate (an escape such as \\ud800, "
                "which UTF-8 cannot carry); written with U+FFFD in its place (counted in the "
                "run report)", self.module_api_name)
        report.replaced(self.name, count)

    def items(self, response: requests.Response) -> list[dict[str, Any]]:
        """The records (or users, fields, ...) of a validated answer; [] for a page-limit
        error (the paginator restarts the query)."""
        if response.status_code >= 400:
            return []
        return answer_items(response)
