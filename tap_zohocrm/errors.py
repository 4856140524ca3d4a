"""Errors the tap raises, each with a message that says what to fix."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError


class ZohoAuthError(FatalAPIError):
    """The accounts server refused the client or the refresh token."""


class ZohoAPIError(FatalAPIError):
    """Zoho answered with an error that retrying cannot fix."""

    def __init__(
        self, message: str, code: str | None = None, details: dict | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}
        self.status = status  # Zoho's HTTP status, when Zoho answered


class ZohoConfigError(ValueError):
    """A setting has a value the tap cannot use."""
