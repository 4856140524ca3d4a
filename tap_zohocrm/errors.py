"""Errors the tap raises, each with a message that says what to fix."""

from __future__ import annotations

import signal

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


class RunStopped(BaseException):
    """SIGTERM or SIGINT stopped the run: every stream stops where it stands, resumably.

    A BaseException, like KeyboardInterrupt: no handler written for errors (a skipped stream,
    a retried call) may take a stop for a failure of its own and go on.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        try:
            self.signal_name = signal.Signals(signum).name
        except ValueError:
            self.signal_name = f"signal {signum}"
        super().__init__(f"stopped by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by this signal: 143 for SIGTERM, 130 for
        SIGINT."""
        return 128 + self.signum
