"""A shared store for Zoho access tokens, so many tap processes refresh once per expiry.

Zoho issues at most 10 access tokens per refresh token per 10 minutes and keeps 15 alive; N tap
processes (Airflow tasks, several machines) that each refresh on their own soon hit that limit.
The store keeps one access token, its expiry and its API domain per (client_id, SHA-256 of the
refresh token) in a SQL table; a process that finds no valid token locks the row (`SELECT ... FOR
UPDATE` on PostgreSQL and MySQL/MariaDB, `BEGIN IMMEDIATE` on SQLite), looks again, and only then
asks Zoho, so every other process waiting on the lock reuses the token it got.

The refresh token itself is never written: the row is keyed by its hash. Access tokens are
secrets: nothing here logs them, and SQL parameters are hidden from error messages. Any failure
of the store is a `TokenStoreError`; the authenticator then keeps its token in memory.

It can also read a table in the layout of Zoho's archived SDKs (`oauthtokens`: useridentifier,
accesstoken, refreshtoken, expirytime in ms), so a token that SDK keeps is used too while users
migrate.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tap_zohocrm.auth.legacy_tokens import find_legacy_table, legacy_token, prefer
from tap_zohocrm.auth.tokens import (
    DEFAULT_TABLE,
    StoredToken,
    TokenKey,
    TokenStoreError,
)

MEMORY = "memory"
# How long a process waits for the row lock another process holds while it refreshes. The holder
# may be waiting out Zoho's token throttle (up to ~11 minutes), and waiting is still better than
# asking Zoho too; a holder that dies releases the lock with its connection.
LOCK_WAIT_SECONDS = 1200
CONNECT_TIMEOUT_SECONDS = 10
_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")
# Drivers for URLs that name none: those the tap's extras install (SQLite needs none: Python's own).
_DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
# Per backend: its name in messages and the extra that installs its default driver.
_EXTRAS = {
    "postgresql": ("PostgreSQL", "postgres"),
    "mysql": ("MySQL/MariaDB", "mysql"),
    "mariadb": ("MySQL/MariaDB", "mysql"),
}


def default_store_path() -> Path:
    """`$XDG_STATE_HOME/tap-zohocrm/tokens.db`, else `~/.local/state/tap-zohocrm/tokens.db`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tap-zohocrm" / "tokens.db"


def default_store_url() -> str:
    return f"sqlite:///{default_store_path()}"


def normalize_url(url: str) -> str:
    """Give bare `postgresql://`, `mysql://`, `mariadb://` URLs the driver of the tap's extra."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if parsed.drivername == backend and backend in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=f"{backend}+{_DEFAULT_DRIVERS[backend]}")
    return parsed.render_as_string(hide_password=False)


def check_setting(value: Any) -> str | None:
    """Error message for a `token_store` value the tap cannot use, or None."""
    if value is None or value == MEMORY:
        return None
    if not isinstance(value, str) or not value.strip():
        return f"`token_store` must be a SQLAlchemy URL or {MEMORY!r}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(value).get_backend_name()
    except (ArgumentError, ValueError):
        return (
            "`token_store` is not a SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db, "
            f"mysql+pymysql://user@host/db, sqlite:////path/tokens.db, or {MEMORY!r})"
        )
    if backend not in _BACKENDS:
        return (f"`token_store` backend {backend!r} is not supported; use one of "
                f"{', '.join(_BACKENDS)}")
    # A missing driver is an install mistake, not an outage: stop at start rather than fall
    # back to per-process tokens run after run.
    return missing_driver(value)


def missing_driver(url: str) -> str | None:
    """Message naming the extra to install when the URL's database driver cannot be imported,
    or None. It never contains the URL: the URL may hold a password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(normalize_url(url))
    except (ArgumentError, ValueError):
        return None  # not a URL: check_setting says so
    backend = parsed.get_backend_name()
    if backend not in _EXTRAS:
        return None
    label, extra = _EXTRAS[backend]
    driver = parsed.get_driver_name()
    default = _DEFAULT_DRIVERS[backend]
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        reason = " ".join(str(exc).split())[:200]
    except ArgumentError:  # SQLAlchemy has no such driver for this backend
        return (f"`token_store` uses {label} with the driver {driver!r}, which SQLAlchemy does "
                f"not know; use {backend}+{default}:// and install tap-zohocrm[{extra}]")
    else:
        return None
    if driver == default:
        return (f"`token_store` uses {label}, but its driver {driver} is not installed "
                f"({reason}): install tap-zohocrm[{extra}]")
    return (f"`token_store` uses {label} with the driver {driver}, which is not installed "
            f"({reason}): install it, or use {backend}+{default}:// and install "
            f"tap-zohocrm[{extra}]")


def describe_url(url: str) -> str:
    """The URL with its password masked, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable token_store URL>"


def from_config(config: dict[str, Any]) -> TokenStore | None:
    """The store the settings ask for; None for `token_store: memory`. Never connects."""
    url = config.get("token_store")
    if url == MEMORY:
        return None
    legacy = config.get("token_store_legacy_table")
    # `none` turns the legacy table off; "" cannot, since an empty setting counts as unset.
    return TokenStore(url or None, legacy_table="" if legacy == "none" else legacy)


class TokenStore:
    """Access tokens shared through a SQL table (see the module docstring)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        legacy_table: str | None = None,
        table: str = DEFAULT_TABLE,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.is_default = url is None
        self.url = default_store_url() if url is None else url
        self.description = describe_url(self.url)
        self.table_name = table
        # None: use `oauthtokens` if the database has one; "": never read a legacy table.
        self.legacy_table_setting = legacy_table
        self.lock_wait = lock_wait
        self._engine: Any = None
        self._table: Any = None
        self._legacy: Any = None
        self._rows_made: set[tuple[str, str]] = set()

    # -- public -------------------------------------------------------------------------

    def read(self, key: TokenKey) -> StoredToken | None:
        """The stored token for `key` (or the legacy table's, if ours is not usable)."""
        with self._errors("read"):
            engine = self._ready()
            with engine.connect() as conn:
                own = self._select(conn, key, lock=False)
                return prefer(own, legacy_token(conn, self._legacy, key))

    @contextlib.contextmanager
    def lock(self, key: TokenKey) -> Iterator[LockedRow]:
        """Hold the row lock for `key`; `LockedRow.save` writes before the lock is released.

        Errors raised by the body (a failed token request) roll back and propagate unchanged;
        errors of the database itself become `TokenStoreError`.
        """
        with self._errors("lock"):
            engine = self._ready()
            if engine.dialect.name != "sqlite":
                self._ensure_row(engine, key)
            conn = engine.connect()
            if engine.dialect.name == "sqlite":
                conn = conn.execution_options(tap_zohocrm_begin="IMMEDIATE")
            trans = conn.begin()
        try:
            with self._errors("lock"):
                self._set_lock_timeout(conn)
                if engine.dialect.name == "sqlite":
                    self._insert_missing(conn, key)
                own = self._select(conn, key, lock=True)
                current = prefer(own, legacy_token(conn, self._legacy, key))
            row = LockedRow(self, conn, key, current)
            yield row
            with self._errors("write"):
                trans.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                trans.rollback()
            raise
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def mark_stale(self, key: TokenKey, access_token: str) -> bool:
        """Expire the stored token if it is still `access_token` (compare-and-set)."""
        from sqlalchemy import update

        with self._errors("update"):
            engine = self._ready()
            t = self._table
            with engine.connect().execution_options(tap_zohocrm_begin="IMMEDIATE") as conn, \
                    conn.begin():
                result = conn.execute(
                    update(t)
                    .where(t.c.client_id == key.client_id,
                           t.c.refresh_token_sha256 == key.fingerprint,
                           t.c.access_token == access_token)
                    .values(expires_at=0)
                )
                return bool(result.rowcount)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    # -- internals ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except TokenStoreError:
            raise
        except (SQLAlchemyError, OSError, ImportError) as exc:
            driver = isinstance(exc, ImportError) and missing_driver(self.url)
            raise TokenStoreError(  # a missing driver: the extra to install, never the URL
                driver or f"token store {self.description}: {what} failed: {self._reason(exc)}"
            ) from None

    def _reason(self, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        text = " ".join(str(orig).split())[:300]
        with contextlib.suppress(Exception):
            from sqlalchemy.engine import make_url

            password = make_url(self.url).password
            if password:
                text = text.replace(str(password), "***")
        return f"{type(orig).__name__}: {text}"

    def _ready(self) -> Any:
        if self._engine is None:
            engine = self._make_engine()
            try:
                self._create_table(engine)
                self._legacy = find_legacy_table(engine, self.legacy_table_setting,
                                                 self.description)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def _make_engine(self) -> Any:
        from sqlalchemy import create_engine, event
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        url = make_url(normalize_url(self.url))
        backend = url.get_backend_name()
        connect_args: dict[str, Any] = {}
        if backend == "sqlite":
            if url.database and url.database != ":memory:":
                _prepare_sqlite_file(Path(url.database), private_dir=self.is_default)
            connect_args["timeout"] = self.lock_wait
        else:  # postgresql (psycopg), mysql / mariadb (pymysql): the tap's extras
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        # NullPool: a tap touches the store about once an hour; no idle connections to go stale.
        engine = create_engine(url, poolclass=NullPool, hide_parameters=True,
                               connect_args=connect_args)
        if backend == "sqlite":
            # pysqlite's own BEGIN handling cannot take the write lock up front; do it here.
            @event.listens_for(engine, "connect")
            def _no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
                dbapi_connection.isolation_level = None

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                mode = conn.get_execution_options().get("tap_zohocrm_begin", "DEFERRED")
                conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def _create_table(self, engine: Any) -> None:
        from sqlalchemy import (
            BigInteger,
            Column,
            Integer,
            MetaData,
            String,
            Table,
            inspect,
        )
        from sqlalchemy.exc import SQLAlchemyError

        table = Table(
            self.table_name, MetaData(),
            Column("client_id", String(200), primary_key=True),
            Column("refresh_token_sha256", String(64), primary_key=True),
            Column("access_token", String(2000)),
            Column("expires_at", BigInteger, nullable=False, default=0),  # epoch ms; 0: stale
            Column("lifetime", Integer),
            Column("api_domain", String(255)),
            Column("refreshed_at", BigInteger),  # epoch ms
            Column("refreshed_by", String(255)),  # host:pid, for operators
        )
        self._table = table
        try:
            # IMMEDIATE on SQLite: a deferred transaction that read the schema could not take
            # the write lock while another process creates the table (SQLITE_BUSY, no wait).
            with engine.connect().execution_options(tap_zohocrm_begin="IMMEDIATE") as conn, \
                    conn.begin():
                table.create(conn, checkfirst=True)
        except SQLAlchemyError:
            # Another process created it at the same moment.
            if not inspect(engine).has_table(self.table_name):
                raise

    def _select(self, conn: Any, key: TokenKey, *, lock: bool) -> StoredToken | None:
        from sqlalchemy import select

        t = self._table
        query = select(t.c.access_token, t.c.expires_at, t.c.lifetime, t.c.api_domain).where(
            t.c.client_id == key.client_id, t.c.refresh_token_sha256 == key.fingerprint
        )
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None or not row.access_token or not row.expires_at:
            return None
        return StoredToken(row.access_token, row.expires_at / 1000.0, row.lifetime,
                           row.api_domain)

    def _ensure_row(self, engine: Any, key: TokenKey) -> None:
        """Make sure the row to lock exists (PostgreSQL, MySQL: FOR UPDATE needs a row)."""
        ident = (key.client_id, key.fingerprint)
        if ident in self._rows_made:
            return
        with engine.begin() as conn:
            self._insert_missing(conn, key)
        self._rows_made.add(ident)

    def _insert_missing(self, conn: Any, key: TokenKey) -> None:
        t = self._table
        values = {"client_id": key.client_id, "refresh_token_sha256": key.fingerprint,
                  "access_token": None, "expires_at": 0}
        name = conn.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(t).values(**values).on_conflict_do_nothing())
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            conn.execute(sqlite_insert(t).values(**values).on_conflict_do_nothing())
        else:  # mysql, mariadb
            from sqlalchemy import insert

            conn.execute(insert(t).values(**values).prefix_with("IGNORE"))

    def _set_lock_timeout(self, conn: Any) -> None:
        seconds = int(self.lock_wait)
        name = conn.dialect.name
        if name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{seconds}s'")
        elif name in ("mysql", "mariadb"):
            conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {seconds}")

    def _write(self, conn: Any, key: TokenKey, token: StoredToken) -> None:
        from sqlalchemy import update

        t = self._table
        now_ms = int(time.time() * 1000)
        conn.execute(
            update(t)
            .where(t.c.client_id == key.client_id, t.c.refresh_token_sha256 == key.fingerprint)
            .values(access_token=token.access_token, expires_at=int(token.expires_at * 1000),
                    lifetime=token.lifetime, api_domain=token.api_domain,
                    refreshed_at=now_ms, refreshed_by=f"{socket.gethostname()}:{os.getpid()}"[:255])
        )


class LockedRow:
    """The locked row: what it held when locked, and a way to replace it."""

    def __init__(self, store: TokenStore, conn: Any, key: TokenKey,
                 current: StoredToken | None) -> None:
        self._store = store
        self._conn = conn
        self._key = key
        self.current = current

    def save(self, token: StoredToken) -> None:
        with self._store._errors("write"):
            self._store._write(self._conn, self._key, token)


def _prepare_sqlite_file(path: Path, *, private_dir: bool) -> None:
    """Create the SQLite file readable by its owner only (0600); journals inherit the mode."""
    if private_dir:  # the tap's own directory: owner only
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.parent.stat().st_mode & 0o077:
            path.parent.chmod(0o700)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if private_dir and (os.fstat(fd).st_mode & 0o077):
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
