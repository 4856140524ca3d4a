"""An access token as the token store keeps it, and the key of its row."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

DEFAULT_TABLE = "tap_zohocrm_tokens"


class TokenStoreError(Exception):
    """The store could not be read or written; the message carries no secret."""


@dataclass(frozen=True)
class TokenKey:
    """Which row: the OAuth client and a fingerprint of the refresh token (never the token)."""

    client_id: str
    refresh_token: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return refresh_token_fingerprint(self.refresh_token)


@dataclass(frozen=True)
class StoredToken:
    access_token: str = field(repr=False)
    expires_at: float  # epoch seconds
    lifetime: int | None = None  # seconds the token was issued for
    api_domain: str | None = None
    source: str = DEFAULT_TABLE


def refresh_token_fingerprint(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
