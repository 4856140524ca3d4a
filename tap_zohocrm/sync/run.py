"""What every stream of one run shares, built once by the tap and handed to each stream.

Streams reach the org's API, the access token, the call and credit limits, the run report, the
read-ahead and the state lock through this object only, and record the run's outcome on it;
they never reach into the tap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any, TypeVar

from tap_zohocrm import data_centers
from tap_zohocrm.api_versions import ApiVersion, api_version
from tap_zohocrm.auth import token_store
from tap_zohocrm.auth.authenticator import ZohoAuthenticator
from tap_zohocrm.sync.limits import ApiLimits
from tap_zohocrm.sync.read_ahead import PageFeed, ReadAhead, ReadsAhead
from tap_zohocrm.sync.run_report import RunReport
from tap_zohocrm.sync.stop import RunStop
from tap_zohocrm.zoho_api import ZohoApi

T = TypeVar("T")


class ZohoRun:
    """One run against one Zoho org: its settings and the parts its streams share."""

    def __init__(self, config: Mapping[str, Any],
                 streams: Callable[[], Iterable[object]] = tuple) -> None:
        """`config` is the tap's validated config with the schema's defaults filled in;
        `streams` gives the tap's streams in sync order (for the read-ahead)."""
        self.config = config
        self._streams = streams
        self.stopped_reason: str | None = None  # set when a credit budget stopped the run
        # Set by SIGTERM or SIGINT: every call gate and every wait of the run asks it.
        self.stop = RunStop()
        # Held for every change to the tap's state and every STATE message (parallel modules).
        self.state_lock = threading.RLock()
        # Settings lists (no parameters) read this run, by path: settings/modules, read for
        # the catalog's modules, is not asked for again by the modules stream.
        self.settings_lists: dict[str, list[dict[str, Any]]] = {}
        # Whether the token's user is an administrator (None: Zoho did not say), asked once.
        self.token_user_is_admin: bool | None = None
        self._shared: dict[str, Any] = {}
        self._build_lock = threading.Lock()

    # -- the API ---------------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        return str(self.config["api_version"])

    @cached_property
    def version(self) -> ApiVersion:
        """What this run's API version can do (api_versions.VERSIONS)."""
        return api_version(self.api_version)

    @cached_property
    def authenticator(self) -> ZohoAuthenticator:
        """One authenticator per run: every stream shares the access token."""
        config = self.config
        accounts = config.get("accounts_url") or data_centers.accounts_url(config["data_center"])
        return ZohoAuthenticator(
            auth_endpoint=f"{accounts.rstrip('/')}/oauth/v2/token",
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            refresh_token=config["refresh_token"],
            token_store=token_store.from_config(dict(config)),
            sleep=self.stop.sleep,
        )

    @cached_property
    def api_domain(self) -> str:
        """api_url if set; else the token's api_domain in production; else the DC's domain."""
        config = self.config
        if config.get("api_url"):
            return str(config["api_url"]).rstrip("/")
        if config["environment"] == "production":
            self.authenticator.ensure_token()
            if self.authenticator.api_domain:
                return self.authenticator.api_domain
        return data_centers.api_domain(config["data_center"], config["environment"])

    @property
    def api_base_url(self) -> str:
        return f"{self.api_domain}/crm/{self.api_version}"

    def api_for(self, name: str, *, module_api_name: str | Callable[[], str],
                required_scope: str | Callable[[], str], logger: logging.Logger
                ) -> ZohoApi[ZohoRun]:
        """The door to Zoho of the stream (or side reader) `name`: its calls through this
        run's call gate, credit budget, token and report."""
        return ZohoApi(self, name=name, module_api_name=module_api_name,
                       required_scope=required_scope, logger=logger)

    # -- limits, report, read-ahead --------------------------------------------------------

    @cached_property
    def limits(self) -> ApiLimits:
        """Concurrency and credit limits shared by every stream of this run."""
        return ApiLimits(
            max_concurrency=int(self.config["max_concurrency"]),
            max_api_credits=self.config.get("max_api_credits"),
            credits_reserve=int(self.config["api_credits_reserve"]),
            stop=self.stop,
        )

    @cached_property
    def report(self) -> RunReport:
        return RunReport(float(self.config["progress_interval_seconds"]))

    @cached_property
    def read_ahead(self) -> ReadAhead:
        concurrency = int(self.config["max_concurrency"])
        return ReadAhead(window=concurrency, workers=2 * concurrency, stop=self.stop)

    def feed_for(self, stream: ReadsAhead) -> PageFeed:
        """The page feed of a module stream; starts reading the next modules in sync order."""
        order = [s for s in self._streams()
                 if s is stream or (isinstance(s, ReadsAhead) and s.reads_ahead)]
        return self.read_ahead.feed_for(stream, order)

    def build_shared_parts(self) -> None:
        """Build the shared parts now, in one thread: from Python 3.12 on cached_property does
        not lock, and two streams' threads could each build, say, their own concurrency gate."""
        with self._build_lock:
            _ = self.read_ahead, self.limits, self.report, self.authenticator

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """A part some streams of the run share, built by the first that asks."""
        with self._build_lock:
            if name not in self._shared:
                self._shared[name] = build()
            return self._shared[name]

    def close(self) -> None:
        if "read_ahead" in self.__dict__:
            self.read_ahead.close()
