"""`Simulator`: owns the org, OAuth state, faults, stats and the HTTP server thread."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from .bulk_jobs import DEFAULT_PAGE_SIZE, BulkRead
from .control import Control
from .credits import COQL_CONCURRENCY, CreditWindow
from .exchanges import REGISTRY
from .faults import Faults, Stats
from .field_usage import mark_unused
from .hard_values import hard_value
from .living import Churn, crowd_second
from .oauth import FULL_SCOPE, OAuth
from .org import Org
from .records import Clock
from .server import Api, make_server

CONFIG_KEYS = ("latency_ms", "page_token_cap", "token_lifetime", "token_throttle_limit",
               "token_throttle_window", "bulk_job_seconds", "bulk_page_size", "daily_credits",
               "positional_page_tokens", "deleted_page_cap", "notes_v8_plain",
               "rejected_token_code", "unservable_modules", "v8_user_types_only",
               "concurrency_limit", "count_documented_only", "bulk_skips_converted",
               "bulk_skips_unapproved", "bulk_refuses_fields", "bulk_refuses_modules",
               "recycle_bin_own_deletions", "coql_concurrency_limit", "coql_returns_converted",
               "coql_returns_unapproved", "coql_ties_in_id_order", "coql_offset_snapshot",
               "coql_full_rich_text")


class Simulator:
    def __init__(self, seed: int = 42, sizes: dict[str, int] | None = None,
                 token_lifetime: int = 3600, page_token_cap: int = 100_000,
                 token_throttle_limit: int = 10, token_throttle_window: float = 600.0,
                 latency_ms: float = 0, user_is_admin: bool = True,
                 bulk_job_seconds: float = 1.0, bulk_page_size: int = DEFAULT_PAGE_SIZE,
                 daily_credits: int | None = None, positional_page_tokens: bool = False,
                 deleted_page_cap: int | None = None, notes_v8_plain: bool = False,
                 rejected_token_code: str = "INVALID_TOKEN",
                 unservable_modules: bool = False, v8_user_types_only: bool = False,
                 concurrency_limit: int | None = None,
                 count_documented_only: bool = False,
                 recycle_bin_own_deletions: bool = False,
                 coql_concurrency_limit: int | None = COQL_CONCURRENCY,
                 coql_returns_converted: bool = False, coql_returns_unapproved: bool = False,
                 coql_ties_in_id_order: bool = False, coql_offset_snapshot: bool = False,
                 coql_full_rich_text: bool = False) -> None:
        self.seed = seed
        self.clock = Clock()
        self.org = Org(seed, sizes, self.clock)
        self.oauth = OAuth(seed, self.clock, token_lifetime, token_throttle_limit,
                           token_throttle_window)
        self.faults = Faults(seed)
        self.counters = Stats()
        # Whole exchanges, when the test fixtures record them (exchanges.record_every_simulator).
        self.exchanges = REGISTRY.new_log()
        self.user_is_admin = user_is_admin
        # The API user: Patricia Boyle (Administrator) or, for a non-admin, Rahul Iyer.
        self.org.current_user = 0 if user_is_admin else 2
        self.config: dict[str, Any] = {
            "latency_ms": latency_ms, "page_token_cap": page_token_cap,
            "token_lifetime": token_lifetime, "token_throttle_limit": token_throttle_limit,
            "token_throttle_window": token_throttle_window,
            # Bulk Read: how long a job takes to complete (simulated clock) and its page size.
            "bulk_job_seconds": bulk_job_seconds, "bulk_page_size": bulk_page_size,
            # The org's daily API credits (None: unlimited); see Api.handle.
            "daily_credits": daily_credits,
            # Page tokens as offsets (like `page`) instead of keyset positions.
            "positional_page_tokens": positional_page_tokens,
            # Entries `/{module}/deleted` reaches with `page` (None: no cap).
            "deleted_page_cap": deleted_page_cap,
            # v8 GET /Notes ignores If-Modified-Since and page_token.
            "notes_v8_plain": notes_v8_plain,
            # The 401 code for an expired or revoked access token (or AUTHENTICATION_FAILURE).
            "rejected_token_code": rejected_token_code,
            # List the system modules whose records Zoho refuses (system_modules.py).
            "unservable_modules": unservable_modules,
            # From v8 on, refuse the users?type= values the v8 OpenAPI file does not list.
            "v8_user_types_only": v8_user_types_only,
            # Calls in flight Zoho allows (None: any); more get 429 without Retry-After.
            "concurrency_limit": concurrency_limit,
            # From v8 on, Record Count refuses what its OpenAPI file does not list (approved,
            # converted, If-Modified-Since).
            "count_documented_only": count_documented_only,
            # Bulk Read exports leave out converted Leads / records pending approval (Zoho's
            # docs are silent), refuse these fields (list of API names; an all-fields export
            # leaves their columns out), or refuse these modules (list of API names).
            "bulk_skips_converted": False, "bulk_skips_unapproved": False,
            "bulk_refuses_fields": [], "bulk_refuses_modules": [],
            # A user who is not an administrator sees only their own deletions in
            # settings/recycle_bin (Zoho's API docs are silent; its UI does so).
            "recycle_bin_own_deletions": recycle_bin_own_deletions,
            # COQL calls in flight Zoho allows (None: any); more get 429 like the org's limit.
            "coql_concurrency_limit": coql_concurrency_limit,
            # What Zoho's COQL docs leave open, answered the way that loses data unless
            # switched (coql_api.py): converted Leads and records pending approval left out;
            # rows tied on every ORDER BY field in an order of each call's own; OFFSET
            # positions in the live data; v7+ rich text cut at 500 characters.
            "coql_returns_converted": coql_returns_converted,
            "coql_returns_unapproved": coql_returns_unapproved,
            "coql_ties_in_id_order": coql_ties_in_id_order,
            "coql_offset_snapshot": coql_offset_snapshot,
            "coql_full_rich_text": coql_full_rich_text}
        self.credit_window = CreditWindow(self.clock)
        self.bulk = BulkRead(self.org, self.clock, self.config)
        self.churn = Churn(self.org)
        self.control = Control(self)
        self.api = Api(org=self.org, oauth=self.oauth, bulk=self.bulk, churn=self.churn,
                       control=self.control, clock=self.clock, config=self.config,
                       faults=self.faults, counters=self.counters,
                       credit_window=self.credit_window, user_is_admin=user_is_admin)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self, port: int = 0, host: str = "127.0.0.1") -> Simulator:
        self._server = make_server(self.api, self.clock, self.exchanges, host, port)
        self.api.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="zoho-simulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.exchanges.closed = True
        self.bulk.close()  # result files

    def __enter__(self) -> Simulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Where it serves (empty until started): the API and accounts URL."""
        return self.api.url

    # ------------------------------------------------------------ credentials / oauth
    @property
    def credentials(self) -> dict[str, str]:
        return {"client_id": self.oauth.client_id, "client_secret": self.oauth.client_secret,
                "refresh_token": self.oauth.refresh_token}

    def expire_tokens(self) -> None:
        self.oauth.expire_all()

    def issue_grant_code(self, scope: str = FULL_SCOPE) -> str:
        return self.oauth.issue_grant_code(scope)

    def issue_refresh_token(self, scope: str) -> str:
        return self.oauth.issue_refresh_token(scope)

    def revoke_refresh_token(self, token: str) -> None:
        self.oauth.revoke_refresh_token(token)

    @property
    def credits_spent_today(self) -> int:
        """Credits spent in the current 24-hour window (with `daily_credits` set)."""
        return self.credit_window.spent

    def new_day(self) -> None:
        """Start a new 24-hour credit window: the day's credits are available again."""
        self.credit_window.new_day()

    def advance_clock(self, seconds: float) -> None:
        """Move simulated time forward (token, grant-code and page-token expiry tests)."""
        self.clock.offset += seconds

    # ------------------------------------------------------------ data
    def records(self, module: str, version: str = "v8") -> list[dict[str, Any]]:
        """What the org holds: every record with the fields a list call of `version` carries,
        rich text in full (list calls from v7 on cut it to 500 characters)."""
        return self.org.all_records(module, float(version.lstrip("v")))

    def create_record(self, module: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.org.changes.create_record(module, values)

    def update_record(self, module: str, id: str | int, values: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
        return self.org.changes.update_record(module, id, values)

    def seed_hard_values(self, module: str, count: int = 4) -> list[str]:
        """Write hard values (hard_values.py) into the first `count` records of `module`, by
        id, one variant per record: each an edit (its Modified_Time moves). Answers the ids."""
        md = self.org.modules[module]
        ids = sorted(md.recs)[:count]
        for index, rid in enumerate(ids):
            values: dict[str, Any] = {}
            for fd in md.fields:
                if fd.meta.get("field_read_only") or fd.api_name in ("id", "Tag", "Created_Time",
                                                                       "Modified_Time"):
                    continue
                textarea = (fd.meta.get("textarea") or {}).get("type")
                wanted, value = hard_value(fd.data_type, textarea, index)
                if wanted:
                    values[fd.api_name] = value
            self.org.changes.update_record(module, rid, values)
        return [str(rid) for rid in ids]

    def delete_record(self, module: str, id: str | int, permanent: bool = False,
                      unlisted: bool = False) -> None:
        """Delete as the API user: into the recycle bin, or permanently (`permanent=True`,
        also for a record already in the recycle bin). GET /{module}/deleted lists it, unless
        `unlisted` (no trace in `/deleted` nor the recycle bin: a deletion older than Zoho
        keeps them)."""
        self.org.changes.delete_record(module, id, permanent, unlisted)

    def start_churn(self, module: str, per_call: int = 3, seed: int = 0) -> None:
        """From now on, before each Get Records page call of `module` (not `ids=` calls),
        edit, delete and create `per_call` records in turn (each record changes once)."""
        self.churn.start(module, per_call, seed)

    def stop_churn(self, module: str | None = None) -> dict[str, dict[str, list[str]]]:
        """Stop churning; returns the ids edited, deleted and created, by module."""
        return self.churn.stop(module)

    def crowd_second(self, module: str, count: int) -> str:
        """Give `count` records of a module one Modified_Time second (returned)."""
        return crowd_second(self.org, module, count)

    def change_computed_values(self, seed: int = 0, renamed_records: int = 2,
                               renamed_users: int = 1) -> dict[str, Any]:
        """Recompute formula and rollup values, rename looked-up records and users, without
        moving the Modified_Time of the records that show them (answers what changed)."""
        return self.org.computed.change_computed_values(seed, renamed_records, renamed_users)

    def purge_recycle_bin(self, module: str) -> int:
        """Empty a module's recycle bin: its entries turn `permanent` (deleted_time = now).
        Returns how many entries changed."""
        return self.org.changes.purge_recycle_bin(module)

    def deleted_records(self, module: str) -> list[dict[str, Any]]:
        """Every Get Deleted Records entry of a module (type=all), newest first."""
        return self.org.deleted_rows(module)

    def attachments(self, module: str) -> list[dict[str, Any]]:
        """Every attachment of a module's records (all keys), in id order."""
        return self.org.all_attachments(module)

    def add_attachment(self, module: str, record_id: str | int,
                       values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Attach a file to a record now (as the API user); `values` overrides keys."""
        return self.org.changes.add_attachment(module, record_id, values)

    def bulk_jobs(self) -> list[dict[str, Any]]:
        """Every Bulk Read job, oldest first: id, module, state (now), count, page,
        more_records, next_page_token, created_time, downloads, columns and query."""
        return self.bulk.summary()

    def users(self) -> list[dict[str, Any]]:
        """Every user of the org as GET /users shows them, deleted users included."""
        return self.org.user_directory()

    def add_field(self, module: str, field: dict[str, Any]) -> None:
        self.org.changes.add_field(module, field)

    def mark_field_unused(self, module: str, api_name: str) -> None:
        """Take a field out of every layout: settings/fields lists it only with `type=all`
        (v2.1 on); its values stay and Get Records serves them."""
        mark_unused(self.org, module, api_name)

    def remove_field(self, module: str, api_name: str) -> None:
        self.org.changes.remove_field(module, api_name)

    # ------------------------------------------------------------ faults / config / stats
    def add_fault(self, path_regex: str, status: int = 500, count: int | None = 1,
                  probability: float = 1.0, delay: float = 0.0, truncate: bool = False,
                  retry_after: int | str | None = None, body: str | None = None,
                  content_type: str | None = None, query_regex: str | None = None,
                  after: int = 0) -> None:
        self.faults.add(path_regex, status, count, probability, delay, truncate, retry_after,
                        body, content_type, query_regex, after)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_config(self, **kw: Any) -> None:
        unknown = set(kw) - set(CONFIG_KEYS)
        if unknown:
            raise TypeError(f"unknown config keys: {sorted(unknown)}")
        if int(kw.get("bulk_page_size", 1)) < 1 or float(kw.get("bulk_job_seconds", 0)) < 0:
            raise ValueError("bulk_page_size must be >= 1 and bulk_job_seconds >= 0")
        self.config.update(kw)
        o = self.oauth
        o.token_lifetime = int(self.config["token_lifetime"])
        o.throttle_limit = int(self.config["token_throttle_limit"])
        o.throttle_window = float(self.config["token_throttle_window"])

    def stats(self) -> dict[str, Any]:
        return self.counters.snapshot(self.oauth.tokens_issued)

    def requests(self) -> list[dict[str, Any]]:
        return self.counters.requests()

    def reset_stats(self) -> None:
        self.counters.reset()
        self.counters.tokens_issued_base = self.oauth.tokens_issued
