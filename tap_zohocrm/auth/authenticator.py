"""OAuth for Zoho CRM: refresh-token grant against the data center's accounts server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from singer_sdk.authenticators import OAuthAuthenticator
from typing_extensions import override

from tap_zohocrm.auth.token_store import StoredToken, TokenKey, TokenStore, TokenStoreError
from tap_zohocrm.errors import ZohoAuthError

LOGGER = logging.getLogger("tap-zohocrm.auth")

# Refresh this long before Zoho's stated expiry, so no request carries a token that dies in
# flight (the SDK has no margin at all).
EXPIRY_MARGIN_SECONDS = 300
# Zoho allows 10 token requests per refresh token per 10 minutes, then answers "Access Denied"
# for the rest of the window; waiting it out is the only remedy.
TOKEN_RATE_LIMIT = 10  # token requests per refresh token ...
TOKEN_RATE_WINDOW_SECONDS = 600.0  # ... per 10 minutes (Zoho's token limits page)
THROTTLE_FIRST_WAIT_SECONDS = 5.0
THROTTLE_MAX_TOTAL_WAIT_SECONDS = 660.0
# After a token store failure, keep the token in memory this long before trying the store again.
STORE_RETRY_SECONDS = 300.0

CLIENT_ERRORS = frozenset({"invalid_client", "invalid_client_secret", "unauthorized_client"})


class ZohoAuthenticator(OAuthAuthenticator):
    """Refresh-token grant with Zoho's quirks handled.

    Zoho reports most token errors in an HTTP 200 body (`{"error": "invalid_code"}`), returns the
    API domain to use with the token, and throttles token requests hard; one instance is shared
    by every stream of a tap so the access token is reused until shortly before it expires.
    """

    def __init__(
        self,
        *,
        auth_endpoint: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        request_timeout: float = 60.0,
        throttle_first_wait: float = THROTTLE_FIRST_WAIT_SECONDS,
        throttle_max_total_wait: float = THROTTLE_MAX_TOTAL_WAIT_SECONDS,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            auth_endpoint=auth_endpoint,
            client_id=client_id,
            client_secret=client_secret,
            default_expiration=3600,
        )
        self.logger = LOGGER
        self.refresh_token = refresh_token
        self.api_domain: str | None = None
        self.token_requests = 0
        self._token_request_times: list[float] = []
        self._request_timeout = request_timeout
        self._throttle_first_wait = throttle_first_wait
        self._throttle_max_total_wait = throttle_max_total_wait
        self._lock = threading.RLock()
        self._refresh_forced = False
        self._token_after_rejection: str | None = None
        # Shared token store (None: in memory only); tokens Zoho rejected are never reused.
        self.token_store = token_store
        # The run's stop-aware sleep: a stop (SIGTERM) cuts a wait between token requests short.
        self._sleep = sleep
        self._store_key = TokenKey(client_id, refresh_token)
        self._store_retry_at = 0.0
        self._rejected: set[str] = set()

    @property
    @override
    def oauth_request_body(self) -> dict[str, Any]:
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        # Zoho's scheme name, not "Bearer".
        request.headers["Authorization"] = f"Zoho-oauthtoken {token}"
        return request

    @override
    def is_token_valid(self) -> bool:
        if self.last_refreshed is None or self.access_token is None:
            return False
        if not self.expires_in:
            return True
        margin = min(EXPIRY_MARGIN_SECONDS, self.expires_in * 0.1)
        age = (datetime.now(UTC) - self.last_refreshed).total_seconds()
        return age < self.expires_in - margin

    def invalidate(self, rejected_token: str | None) -> bool:
        """Forget an access token Zoho rejected (401 INVALID_TOKEN or AUTHENTICATION_FAILURE) so
        the retry refreshes.

        Returns False when the rejected token is one fetched right after an earlier rejection:
        refreshing again would not help (revoked grant, clock skew), so the caller must stop.
        """
        with self._lock:
            if rejected_token and rejected_token == self._token_after_rejection:
                return False
            if rejected_token:
                self._rejected.add(rejected_token)
            if rejected_token and rejected_token != self.access_token:
                return True  # already replaced by another stream's refresh
            if rejected_token and (store := self._available_store()) is not None:
                try:  # only if the store still holds it: another process may have replaced it
                    store.mark_stale(self._store_key, rejected_token)
                except TokenStoreError as exc:
                    self._store_failed(exc)
            self.access_token = None
            self.last_refreshed = None
            self._refresh_forced = True
            return True

    def token_accepted(self, token: str | None) -> None:
        """Zoho accepted `token`: if it is revoked later, refreshing again is worth a try."""
        if token and token == self._token_after_rejection:
            self._token_after_rejection = None

    def ensure_token(self) -> str:
        """Return a valid access token, refreshing it if needed."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            assert self.access_token is not None
            return self.access_token

    @override
    def update_access_token(self) -> None:
        with self._lock:
            if (store := self._available_store()) is not None and self._update_through_store(store):
                return
            self._request_token()

    # -- the shared token store ----------------------------------------------------------

    def _available_store(self) -> TokenStore | None:
        """The token store, unless there is none or it failed less than a retry period ago."""
        if time.monotonic() < self._store_retry_at:
            return None
        return self.token_store

    def _store_failed(self, exc: TokenStoreError) -> None:
        self._store_retry_at = time.monotonic() + STORE_RETRY_SECONDS
        self.logger.warning(
            "%s; keeping the access token in this process's memory (store retried in %.0f s)",
            exc, STORE_RETRY_SECONDS,
        )

    def _usable(self, stored: StoredToken | None) -> bool:
        if stored is None or not stored.access_token or stored.access_token in self._rejected:
            return False
        lifetime = stored.lifetime or self._default_expiration or 3600
        margin = min(EXPIRY_MARGIN_SECONDS, lifetime * 0.1)
        return stored.expires_at - margin > time.time()

    def _adopt(self, stored: StoredToken) -> None:
        lifetime = stored.lifetime or self._default_expiration or 3600
        self.access_token = stored.access_token
        self.expires_in = lifetime
        self.last_refreshed = datetime.fromtimestamp(stored.expires_at - lifetime, UTC)
        if stored.api_domain:
            self.api_domain = stored.api_domain.rstrip("/")
        # Another process fetched it: if Zoho rejects it, this process may still refresh once.
        self._token_after_rejection = None
        self._refresh_forced = False
        self.logger.info(
            "Using the access token shared through the token store (%s), valid for %.0f s more",
            stored.source, stored.expires_at - time.time(),
        )

    def _update_through_store(self, store: TokenStore) -> bool:
        """Take the stored token, or refresh under the store's row lock and store the result.

        Returns False when the store failed before this process got a token (the caller then
        refreshes in memory). Token request errors (`ZohoAuthError`) propagate.
        """
        key = self._store_key
        got_token = False
        try:
            stored = store.read(key)
            if self._usable(stored):
                assert stored is not None
                self._adopt(stored)
                return True
            with store.lock(key) as row:
                # Whoever held the lock before us may have refreshed already.
                if self._usable(row.current):
                    assert row.current is not None
                    self._adopt(row.current)
                    got_token = True
                    return True
                self._request_token()
                got_token = True
                assert self.access_token is not None and self.last_refreshed is not None
                lifetime = self.expires_in or self._default_expiration or 3600
                row.save(StoredToken(
                    self.access_token, self.last_refreshed.timestamp() + lifetime, lifetime,
                    self.api_domain,
                ))
            return True
        except TokenStoreError as exc:
            self._store_failed(exc)
            return got_token

    # -- the token request ---------------------------------------------------------------

    def _request_token(self) -> None:
        with self._lock:
            waited = 0.0
            wait = self._throttle_first_wait
            while True:
                body = self._post_token_request()
                error = body.get("error")
                if "access_token" in body:
                    self._store_token(body)
                    return
                if error == "Access Denied":
                    if waited + wait > self._throttle_max_total_wait:
                        msg = (
                            "Zoho throttled token requests for this refresh token (more than 10 "
                            f"per 10 minutes) and still refused after waiting {waited:.0f} s; "
                            "another process is probably refreshing with the same refresh token."
                        )
                        raise ZohoAuthError(msg)
                    self.logger.warning(
                        "Zoho throttled the token request (Access Denied); retrying in %.0f s",
                        wait,
                    )
                    self._sleep(wait)
                    waited += wait
                    wait = min(wait * 2, 120.0)
                    continue
                raise ZohoAuthError(_token_error_message(error, self.auth_endpoint))

    def _respect_token_rate(self) -> None:
        """Never more than Zoho's 10 token requests per 10 minutes from this process: past
        that, Zoho blocks the refresh token for the rest of the window."""
        now = time.monotonic()
        recent = [t for t in self._token_request_times if now - t < TOKEN_RATE_WINDOW_SECONDS]
        if len(recent) >= TOKEN_RATE_LIMIT:
            wait = TOKEN_RATE_WINDOW_SECONDS - (now - recent[-TOKEN_RATE_LIMIT])
            self.logger.warning(
                "%d token requests in the last 10 minutes (Zoho's limit): waiting %.0f s",
                len(recent), wait,
            )
            self._sleep(max(0.0, wait))
        self._token_request_times = [*recent, time.monotonic()]

    def _post_token_request(self) -> dict[str, Any]:
        self._respect_token_rate()
        self.token_requests += 1
        self.logger.info("Requesting a new Zoho access token from %s", self.auth_endpoint)
        last_exc: Exception | None = None
        for attempt in range(5):
            try:
                response = self._session.post(
                    self.auth_endpoint,
                    data=self.oauth_request_payload,
                    timeout=self._request_timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_exc = exc
                self._sleep(min(2**attempt, 30))
                continue
            if response.status_code >= 500:
                last_exc = RuntimeError(f"HTTP {response.status_code}")
                self._sleep(min(2**attempt, 30))
                continue
            try:
                body = response.json()
            except ValueError:
                body = {}
            if isinstance(body, dict) and ("access_token" in body or "error" in body):
                return body
            # Never echo the body: it may carry a token.
            msg = (
                f"Unexpected answer from the Zoho accounts server {self.auth_endpoint} "
                f"(HTTP {response.status_code}); check accounts_url / data_center."
            )
            raise ZohoAuthError(msg)
        msg = (
            f"Could not reach the Zoho accounts server {self.auth_endpoint} after 5 attempts "
            f"({type(last_exc).__name__}: {last_exc})"
        )
        raise ZohoAuthError(msg)

    def _store_token(self, body: dict[str, Any]) -> None:
        self.access_token = body["access_token"]
        expires = body.get("expires_in", body.get("expires_in_sec", self._default_expiration))
        self.expires_in = int(expires) if expires else None
        self.last_refreshed = datetime.now(UTC)
        self._token_after_rejection = self.access_token if self._refresh_forced else None
        self._refresh_forced = False
        if body.get("api_domain"):
            self.api_domain = str(body["api_domain"]).rstrip("/")
        self.logger.info("Got a Zoho access token valid for %s s", self.expires_in)


def _token_error_message(error: Any, auth_endpoint: str) -> str:
    if error == "invalid_code":
        return (
            "Zoho rejected the refresh token (invalid_code): it is wrong, revoked, or was issued "
            f"for another data center or environment than {auth_endpoint}. Generate a new one "
            "(Self Client grant code, `tap-zohocrm auth`) and set `refresh_token`, or fix "
            "`data_center` / `environment`."
        )
    if error in CLIENT_ERRORS:
        return client_error_message(error, auth_endpoint)
    return f"Zoho refused the token request ({error!s}); check the OAuth settings."


def client_error_message(error: str, accounts: str) -> str:
    """Zoho refused the OAuth client itself: the same fix for the tap and `tap-zohocrm auth`."""
    return (
        f"Zoho rejected the client credentials ({error}) at {accounts}: check the client id "
        "(`client_id`, --client-id) and the client secret (`client_secret`, "
        "--client-secret) of the Self Client (API console > Self Client > Client Secret "
        "tab), and that they belong to this data center."
    )
