"""OAuth for Zoho CRM: refresh-token grant against the data center's accounts server."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import requests
from singer_sdk.authenticators import OAuthAuthenticator

from tap_zohocrm.errors import ZohoAuthError

LOGGER = logging.getLogger("tap-zohocrm.auth")

# Refresh this long before Zoho's stated expiry, so no request carries a token that dies in
# flight (the SDK has no margin at all).
EXPIRY_MARGIN_SECONDS = 300
# Zoho allows 10 token requests per refresh token per 10 minutes, then answers "Access Denied"
# for the rest of the window; waiting it out is the only remedy.
THROTTLE_FIRST_WAIT_SECONDS = 5.0
THROTTLE_MAX_TOTAL_WAIT_SECONDS = 660.0

_CLIENT_ERRORS = {"invalid_client", "invalid_client_secret", "unauthorized_client"}


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
        self._request_timeout = request_timeout
        self._throttle_first_wait = throttle_first_wait
        self._throttle_max_total_wait = throttle_max_total_wait
        self._lock = threading.RLock()
        self._refresh_forced = False
        self._token_after_rejection: str | None = None

    @property
    def oauth_request_body(self) -> dict[str, Any]:
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        # Zoho's scheme name, not "Bearer".
        request.headers["Authorization"] = f"Zoho-oauthtoken {token}"
        return request

    def is_token_valid(self) -> bool:
        if self.last_refreshed is None or self.access_token is None:
            return False
        if not self.expires_in:
            return True
        margin = min(EXPIRY_MARGIN_SECONDS, self.expires_in * 0.1)
        age = (datetime.now(UTC) - self.last_refreshed).total_seconds()
        return age < self.expires_in - margin

    def invalidate(self, rejected_token: str | None) -> bool:
        """Forget an access token Zoho rejected (401 INVALID_TOKEN) so the retry refreshes.

        Returns False when the rejected token is one fetched right after an earlier rejection:
        refreshing again would not help (revoked grant, clock skew), so the caller must stop.
        """
        with self._lock:
            if rejected_token and rejected_token == self._token_after_rejection:
                return False
            if rejected_token and rejected_token != self.access_token:
                return True  # already replaced by another stream's refresh
            self.access_token = None
            self.last_refreshed = None
            self._refresh_forced = True
            return True

    def ensure_token(self) -> str:
        """Return a valid access token, refreshing it if needed."""
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            assert self.access_token is not None
            return self.access_token

    def update_access_token(self) -> None:
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
                    time.sleep(wait)
                    waited += wait
                    wait = min(wait * 2, 120.0)
                    continue
                raise ZohoAuthError(_token_error_message(error, self.auth_endpoint))

    def _post_token_request(self) -> dict[str, Any]:
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
                time.sleep(min(2**attempt, 30))
                continue
            if response.status_code >= 500:
                last_exc = RuntimeError(f"HTTP {response.status_code}")
                time.sleep(min(2**attempt, 30))
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
    if error in _CLIENT_ERRORS:
        return (
            f"Zoho rejected the client credentials ({error}): check `client_id` and "
            f"`client_secret` (API console > Self Client) and that they belong to the data "
            f"center of {auth_endpoint}."
        )
    return f"Zoho refused the token request ({error!s}); check the OAuth settings."
