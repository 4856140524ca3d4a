"""Zoho Accounts `/oauth/v2/token`: client, refresh tokens, grant codes, access tokens, throttle."""

from __future__ import annotations

import random
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .records import Clock

# The default refresh token's scope: records, metadata, the users and org APIs, Bulk Read
# and COQL.
FULL_SCOPE = ("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ,"
              "ZohoCRM.bulk.READ,ZohoCRM.coql.READ")
THROTTLE_BODY = {
    "error_description": "You have made too many requests continuously. Please try again "
                         "after some time.",
    "error": "Access Denied", "status": "failure",
}
GRANT_CODE_TTL = 180.0  # Self Client default expiry: 3 minutes
MAX_ACTIVE_TOKENS = 15  # per refresh token (v3 token-validity page); the oldest is invalidated


@dataclass
class RefreshToken:
    scope: str
    revoked: bool = False
    issued: deque[float] = field(default_factory=deque)  # issue times, for the throttle
    active: deque[str] = field(default_factory=deque)  # live access tokens, oldest first


@dataclass
class AccessToken:
    scope: str
    refresh: str
    expires_at: float


@dataclass
class GrantCode:
    scope: str
    expires_at: float
    used: bool = False


def _token(prefix: str, rng: random.Random | None = None) -> str:
    if rng is None:
        return f"{prefix}.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
    return f"{prefix}.{rng.randbytes(16).hex()}.{rng.randbytes(16).hex()}"


def scope_items(scope: str) -> set[str]:
    return {s.strip().lower() for s in scope.replace(" ", ",").split(",") if s.strip()}


class OAuth:
    def __init__(self, seed: int, clock: Clock, token_lifetime: int, throttle_limit: int,
                 throttle_window: float) -> None:
        rng = random.Random(f"{seed}:oauth")
        self.clock = clock
        self.lock = threading.Lock()
        self.token_lifetime = token_lifetime
        self.throttle_limit = throttle_limit
        self.throttle_window = throttle_window
        self.client_id = "1000." + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                                           for _ in range(30))
        self.client_secret = rng.randbytes(21).hex()
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.grant_codes: dict[str, GrantCode] = {}
        self.refresh_token = _token("1000", rng)
        self.refresh_tokens[self.refresh_token] = RefreshToken(scope=FULL_SCOPE)
        self.tokens_issued = 0

    # ------------------------------------------------------------- control
    def issue_refresh_token(self, scope: str) -> str:
        with self.lock:
            tok = _token("1000")
            self.refresh_tokens[tok] = RefreshToken(scope=scope)
            return tok

    def revoke_refresh_token(self, token: str) -> None:
        with self.lock:
            rt = self.refresh_tokens.get(token)
            if rt is not None:
                rt.revoked = True
                for at in rt.active:  # access tokens of a revoked refresh token stop working
                    self.access_tokens.pop(at, None)

    def issue_grant_code(self, scope: str) -> str:
        with self.lock:
            code = _token("1000")
            self.grant_codes[code] = GrantCode(scope=scope,
                                               expires_at=self.clock.now() + GRANT_CODE_TTL)
            return code

    def expire_all(self) -> None:
        with self.lock:
            self.access_tokens.clear()
            for rt in self.refresh_tokens.values():
                rt.active.clear()

    # ------------------------------------------------------------- API
    def validate(self, token: str) -> AccessToken | None:
        with self.lock:
            at = self.access_tokens.get(token)
            if at is None:
                return None
            if at.expires_at <= self.clock.now():
                self.access_tokens.pop(token, None)
                return None
            return at

    def _issue(self, refresh: str, rt: RefreshToken, now: float) -> str:
        tok = _token("1000")
        self.access_tokens[tok] = AccessToken(scope=rt.scope, refresh=refresh,
                                              expires_at=now + self.token_lifetime)
        rt.issued.append(now)
        rt.active.append(tok)
        while len(rt.active) > MAX_ACTIVE_TOKENS:
            self.access_tokens.pop(rt.active.popleft(), None)
        self.tokens_issued += 1
        return tok

    def token_request(self, params: dict[str, str], api_domain: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body). Zoho reports most token errors with HTTP 200."""
        grant = params.get("grant_type", "")
        with self.lock:
            now = self.clock.now()
            if params.get("client_id") != self.client_id:
                return 200, {"error": "invalid_client"}
            if params.get("client_secret") != self.client_secret:
                return 200, {"error": "invalid_client_secret"}
            if grant == "refresh_token":
                refresh = params.get("refresh_token", "")
                rt = self.refresh_tokens.get(refresh)
                if rt is None or rt.revoked:
                    return 200, {"error": "invalid_code"}
                while rt.issued and rt.issued[0] <= now - self.throttle_window:
                    rt.issued.popleft()
                if len(rt.issued) >= self.throttle_limit:
                    return 400, dict(THROTTLE_BODY)
                tok = self._issue(refresh, rt, now)
                return 200, {"access_token": tok, "scope": rt.scope, "api_domain": api_domain,
                             "token_type": "Bearer", "expires_in": self.token_lifetime}
            if grant == "authorization_code":
                gc = self.grant_codes.get(params.get("code", ""))
                if gc is None or gc.used or gc.expires_at <= now:
                    return 200, {"error": "invalid_code"}
                gc.used = True
                refresh = _token("1000")
                rt = self.refresh_tokens[refresh] = RefreshToken(scope=gc.scope)
                tok = self._issue(refresh, rt, now)
                return 200, {"access_token": tok, "refresh_token": refresh, "scope": gc.scope,
                             "api_domain": api_domain, "token_type": "Bearer",
                             "expires_in": self.token_lifetime}
            return 200, {"error": "unsupported_grant_type"}
