"""The shared token store on SQLite, PostgreSQL and MariaDB (real servers on 127.0.0.1).

PostgreSQL and MariaDB must be running (CI machines run both): a missing server fails these
tests, it does not skip them. Override with TEST_POSTGRES_URL / TEST_MYSQL_URL (an admin URL;
each test creates and drops its own database).
"""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tap_zohocrm.auth.authenticator import ZohoAuthenticator
from tap_zohocrm.auth.token_store import TokenStore, check_setting
from tap_zohocrm.auth.tokens import (
    DEFAULT_TABLE,
    TokenKey,
    TokenStoreError,
    refresh_token_fingerprint,
)
from tests.helpers import discover, run_tap, tap_config
from zoho_simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "integration" / "token_store_worker.py"
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/")
BACKENDS = ["sqlite", "postgresql", "mariadb"]
PROCESSES = 10
LOOP_SECONDS = 8.0
SHORT_LIFETIME = 3


def _admin_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"database server {engine.url.render_as_string()} is not reachable "
                    f"(CI runs PostgreSQL and MariaDB on 127.0.0.1): {exc.orig}")
    return engine


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    name = f"tzc_tokens_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tokens.db'}"
        return
    admin_url = POSTGRES_ADMIN if request.param == "postgresql" else MYSQL_ADMIN
    admin = _admin_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if request.param == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def _authenticator(sim: Simulator, store: TokenStore | None, **kw) -> ZohoAuthenticator:
    creds = sim.credentials
    return ZohoAuthenticator(auth_endpoint=f"{sim.url}/oauth/v2/token",
                             client_id=creds["client_id"], client_secret=creds["client_secret"],
                             refresh_token=creds["refresh_token"], token_store=store, **kw)


def _api_ok(sim: Simulator, token: str) -> bool:
    response = requests.get(f"{sim.url}/crm/v8/settings/modules",
                            headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=30)
    return response.status_code == 200


# -- N processes, one refresh per expiry ------------------------------------------------------


class Workers:
    def __init__(self, sim: Simulator, store_url: str, count: int) -> None:
        creds = sim.credentials
        secrets = json.dumps({"client_secret": creds["client_secret"],
                              "refresh_token": creds["refresh_token"]})
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), sim.url, creds["client_id"], store_url],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=env,
            )
            for _ in range(count)
        ]
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(secrets + "\n")
            proc.stdin.flush()
        for proc in self.procs:
            self._expect_line(proc, "ready")

    def _expect_line(self, proc: subprocess.Popen, wanted: str | None = None) -> str:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line or (wanted and line != wanted):
            proc.kill()
            raise AssertionError(f"worker said {line!r}; stderr:\n{proc.stderr.read()[-3000:]}")
        return line

    def run(self, command: str) -> list[dict]:
        """Send `command` to every worker at once; wait for all answers."""
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
        return [json.loads(self._expect_line(proc)) for proc in self.procs]

    def stop(self) -> str:
        stderr = ""
        for proc in self.procs:
            try:
                proc.communicate("quit\n", timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        for proc in self.procs:
            stderr += proc.stderr.read() if proc.stderr and not proc.stderr.closed else ""
        return stderr


def test_ten_processes_refresh_once_per_expiry(make_simulator, store_url: str,
                                               record_property) -> None:
    sim = make_simulator(seed=11, sizes={"Leads": 10}, token_throttle_limit=1000)
    started = time.monotonic()
    workers = Workers(sim, store_url, PROCESSES)
    try:
        sim.reset_stats()
        # 1. An empty store: ten processes need a token at the same moment.
        first = workers.run("call")
        cold = sim.stats()["token_requests"]
        # 2. Zoho revokes every access token (forced expiry): ten processes get a 401.
        sim.expire_tokens()
        second = workers.run("call")
        forced = sim.stats()["token_requests"] - cold
        # 3. Short-lived tokens, refreshed ahead of expiry while all ten keep calling.
        sim.set_config(token_lifetime=SHORT_LIFETIME)
        sim.expire_tokens()
        third = workers.run(f"loop {LOOP_SECONDS}")
        looped = sim.stats()["token_requests"] - cold - forced
    finally:
        stderr = workers.stop()
    elapsed = time.monotonic() - started
    backend = sa.make_url(store_url).get_backend_name().replace("mysql", "mariadb")
    print(f"\n[{backend}] {PROCESSES} processes: token requests cold={cold} "
          f"forced-expiry={forced} short-lifetime({LOOP_SECONDS:.0f}s/{SHORT_LIFETIME}s)={looped}"
          f" in {elapsed:.1f}s")
    record_property("token_requests", {"cold": cold, "forced": forced, "looped": looped})

    assert cold == 1, first
    assert forced == 1, second
    assert sum(r["rejected"] for r in second) == PROCESSES  # every process saw the expiry
    # Refreshed `margin` (10 % of 3 s) before each expiry: at most one per lifetime, plus the
    # first one after the forced expiry.
    assert 1 <= looped <= math.ceil(LOOP_SECONDS / (SHORT_LIFETIME * 0.9)) + 1, third
    assert all(r["calls"] > 10 for r in third)
    # ... and ahead of expiry: the only 401s are the two forced expiries (counts are cumulative).
    assert all(r["rejected"] == 2 for r in third), third
    # Access tokens are secrets: no worker logged one.
    for token in list(sim.oauth.access_tokens):
        assert token not in stderr


# -- the store through the tap ----------------------------------------------------------------


def test_tap_runs_share_the_stored_token(sim, store_url: str) -> None:
    config = tap_config(sim, modules=["Leads"], token_store=store_url)
    sim.reset_stats()
    catalog = discover(config)
    run = run_tap(config, catalog=catalog)
    assert run.records("leads")
    assert sim.stats()["token_requests"] == 1  # the sync reused discovery's token
    # The refresh token is never stored, only its SHA-256.
    engine = sa.create_engine(store_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {DEFAULT_TABLE}")).mappings().all()
    engine.dispose()
    assert len(rows) == 1
    assert rows[0]["refresh_token_sha256"] == refresh_token_fingerprint(
        sim.credentials["refresh_token"])
    assert sim.credentials["refresh_token"] not in json.dumps([dict(r) for r in rows])
    for token in list(sim.oauth.access_tokens):
        assert token not in run.stderr


def test_rejected_token_is_marked_stale_only_if_still_stored(sim, store_url: str) -> None:
    store_a, store_b = TokenStore(store_url), TokenStore(store_url)
    a, b = _authenticator(sim, store_a), _authenticator(sim, store_b)
    t1 = a.ensure_token()
    assert b.ensure_token() == t1 and b.token_requests == 0
    sim.expire_tokens()
    assert not _api_ok(sim, t1)
    assert a.invalidate(t1)  # still stored: marked stale
    t2 = a.ensure_token()
    assert t2 != t1 and a.token_requests == 2
    # b learns of the same expiry later: t2 is stored now, so b must not expire it.
    key = TokenKey(sim.credentials["client_id"], sim.credentials["refresh_token"])
    assert store_b.mark_stale(key, t1) is False
    assert b.invalidate(t1)
    assert b.ensure_token() == t2 and b.token_requests == 0
    assert _api_ok(sim, t2)
    assert store_a.read(key).access_token == t2


def test_store_keyed_per_refresh_token(sim, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    a = _authenticator(sim, TokenStore(url))
    other = sim.issue_refresh_token("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL")
    creds = sim.credentials
    b = ZohoAuthenticator(auth_endpoint=f"{sim.url}/oauth/v2/token",
                          client_id=creds["client_id"], client_secret=creds["client_secret"],
                          refresh_token=other, token_store=TokenStore(url))
    assert a.ensure_token() != b.ensure_token()
    assert a.token_requests == b.token_requests == 1


def test_two_orgs_one_client_one_store_each_its_own_token_and_data_center(
        make_simulator, store_url: str) -> None:
    """Two orgs of one multi-org project (docs/multi-org.md) in two data centers (a simulator
    each), one OAuth client, one token store: each org's tap gets its own access token, reuses
    it from the store, and sends it (and its refresh token) to its own data center only."""
    # One seed: one client id and secret at both data centers, as one client enabled in two.
    dcs = {"acme": make_simulator(seed=61, sizes={"Leads": 5}),
           "beta": make_simulator(seed=61, sizes={"Leads": 5})}
    assert dcs["acme"].credentials["client_id"] == dcs["beta"].credentials["client_id"]
    refresh = {org: sim.issue_refresh_token("ZohoCRM.modules.ALL,ZohoCRM.settings.ALL")
               for org, sim in dcs.items()}
    # The API domain comes from each org's token (no api_url), as with real Zoho.
    configs = {org: tap_config(sim, modules=["Leads"], token_store=store_url,
                               refresh_token=refresh[org]) for org, sim in dcs.items()}
    for config in configs.values():
        del config["api_url"]
    for sim in dcs.values():
        sim.reset_stats()
    for org in ("acme", "beta", "acme", "beta"):
        run = run_tap(configs[org], "--discover")
        assert run.returncode == 0, run.stderr[-3000:]
        for sim in dcs.values():
            for token in list(sim.oauth.access_tokens):
                assert token not in run.stderr

    for org, sim in dcs.items():
        stats = sim.stats()
        # One token per org for its two runs: its second run took it from the store.
        assert stats["token_requests"] == stats["tokens_issued"] == 1, (org, stats)
        # A data center answers 401 to a token it did not issue: none came to either.
        assert stats["api_calls"] > 0
        assert not [r for r in sim.requests() if r["status"] == 401], org
    # The store: one row per org (same client, refresh tokens apart), each with a token of its
    # own data center and that data center's API domain.
    engine = sa.create_engine(store_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {DEFAULT_TABLE}")).mappings().all()
    engine.dispose()
    by_org = {org: next(r for r in rows
                        if r["refresh_token_sha256"] == refresh_token_fingerprint(refresh[org]))
              for org in dcs}
    assert len(rows) == 2 and {r["client_id"] for r in rows} == {
        dcs["acme"].credentials["client_id"]}
    for org, other in (("acme", "beta"), ("beta", "acme")):
        assert by_org[org]["access_token"] in dcs[org].oauth.access_tokens
        assert by_org[org]["access_token"] not in dcs[other].oauth.access_tokens
        assert by_org[org]["api_domain"] == dcs[org].url
    assert by_org["acme"]["access_token"] != by_org["beta"]["access_token"]


# -- migration: the archived Zoho SDKs' oauthtokens table ---------------------------------------


def _legacy_table(store_url: str, name: str, rows: list[dict]) -> None:
    engine = sa.create_engine(store_url, poolclass=sa.pool.NullPool)
    table = sa.Table(
        name, sa.MetaData(),
        sa.Column("useridentifier", sa.String(100)),
        sa.Column("accesstoken", sa.String(100)),
        sa.Column("refreshtoken", sa.String(100)),
        sa.Column("expirytime", sa.BigInteger),
    )
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    engine.dispose()


def _zoho_token(sim: Simulator) -> str:
    body = requests.post(f"{sim.url}/oauth/v2/token",
                         data={"grant_type": "refresh_token", **sim.credentials},
                         timeout=10).json()
    return body["access_token"]


def test_reads_the_zoho_sdk_oauthtokens_table(sim, store_url: str) -> None:
    legacy_token = _zoho_token(sim)
    now_ms = int(time.time() * 1000)
    refresh = sim.credentials["refresh_token"]
    _legacy_table(store_url, "oauthtokens", [
        {"useridentifier": "old@example.com", "accesstoken": "1000.expired.token",
         "refreshtoken": refresh, "expirytime": now_ms - 60_000},
        {"useridentifier": "user@example.com", "accesstoken": legacy_token,
         "refreshtoken": refresh, "expirytime": now_ms + 3_000_000},
        {"useridentifier": "other@example.com", "accesstoken": "1000.other.user",
         "refreshtoken": "1000.another.refresh", "expirytime": now_ms + 3_500_000},
    ])
    sim.reset_stats()
    auth = _authenticator(sim, TokenStore(store_url))  # `oauthtokens` found by itself
    assert auth.ensure_token() == legacy_token
    assert auth.token_requests == 0 and sim.stats()["token_requests"] == 0
    assert _api_ok(sim, legacy_token)
    # Once it nears expiry the tap refreshes into its own table; the SDK's table is only read.
    sim.expire_tokens()
    assert auth.invalidate(legacy_token)
    fresh = auth.ensure_token()
    assert fresh != legacy_token and auth.token_requests == 1
    key = TokenKey(sim.credentials["client_id"], refresh)
    assert TokenStore(store_url).read(key).access_token == fresh


def test_legacy_table_by_name_and_expired_legacy_token(sim, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'zohooauth.db'}"
    refresh = sim.credentials["refresh_token"]
    _legacy_table(url, "zoho_tokens", [
        {"useridentifier": "user@example.com", "accesstoken": "1000.stale.token",
         "refreshtoken": refresh, "expirytime": int(time.time() * 1000) + 10_000},
    ])
    auth = _authenticator(sim, TokenStore(url, legacy_table="zoho_tokens"))
    # 10 s left is inside the refresh margin: refreshed, not reused.
    token = auth.ensure_token()
    assert token != "1000.stale.token" and auth.token_requests == 1
    # A legacy table that is not there: a warning, then tokens in memory.
    missing = _authenticator(sim, TokenStore(url, legacy_table="no_such_table"))
    assert _api_ok(sim, missing.ensure_token())


# -- the default SQLite file, its mode, and an unreachable store --------------------------------


def test_default_store_is_a_private_sqlite_file(sim, tmp_path: Path) -> None:
    state_home = tmp_path / "state"
    config = tap_config(sim, modules=["Leads"])
    del config["token_store"]  # the default
    env = {"XDG_STATE_HOME": str(state_home)}
    sim.reset_stats()
    for _ in range(2):
        run = run_tap(config, "--discover", env=env)
        assert run.returncode == 0, run.stderr[-3000:]
    assert sim.stats()["token_requests"] == 1
    db = state_home / "tap-zohocrm" / "tokens.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    # A file someone loosened is tightened again.
    db.chmod(0o644)
    db.parent.chmod(0o755)
    assert run_tap(config, "--discover", env=env).returncode == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_new_sqlite_file_is_created_0600_whatever_the_umask(sim, tmp_path: Path) -> None:
    db = tmp_path / "custom" / "tokens.db"
    old = os.umask(0)
    try:
        _authenticator(sim, TokenStore(f"sqlite:///{db}")).ensure_token()
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://tap:s3cr3t-pw@127.0.0.1:1/tokens",
    "mysql+pymysql://tap:s3cr3t-pw@127.0.0.1:1/tokens",
    "sqlite:///{tmp}/a-file/tokens.db",  # its directory cannot be created (even by root)
])
def test_unreachable_store_falls_back_to_memory(sim, url: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    url = url.format(tmp=tmp_path)
    config = tap_config(sim, modules=["Leads"], token_store=url)
    run = run_tap(config, "--discover")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "token store" in run.stderr and "in this process's memory" in run.stderr
    assert "s3cr3t-pw" not in run.stderr
    for token in list(sim.oauth.access_tokens):
        assert token not in run.stderr


def test_bad_token_store_setting_is_a_config_error(sim) -> None:
    assert check_setting("memory") is None
    assert check_setting("postgresql://u:p@h/db") is None
    assert "not supported" in check_setting("oracle://u:p@h/db")
    run = run_tap(tap_config(sim, token_store="not a url :: s3cr3t"), "--discover")
    assert run.returncode != 0
    assert "token_store" in run.stderr and "s3cr3t" not in run.stderr


# -- a driver not installed (tap-zohocrm without its [postgres] / [mysql] extra) ---------------


@pytest.mark.parametrize(("url", "module", "extra"), [
    ("postgresql://tap:s3cr3t-pw@db.internal:5432/tokens", "psycopg", "postgres"),
    ("mysql+pymysql://tap:s3cr3t-pw@db.internal:3306/tokens", "pymysql", "mysql"),
])
def test_missing_driver_names_the_extra_never_the_url(sim, tmp_path: Path, url: str, module: str,
                                                      extra: str) -> None:
    # The tap's process without the driver: a sitecustomize blocks its import at start.
    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{module!r}] = None\n")
    run = run_tap(tap_config(sim, token_store=url), "--discover",
                  env={"PYTHONPATH": str(tmp_path)})
    assert run.returncode != 0
    assert f"install tap-zohocrm[{extra}]" in run.stderr, run.stderr[-3000:]
    assert "token_store" in run.stderr
    for secret in (url, "s3cr3t-pw", "db.internal"):
        assert secret not in run.stderr


def test_missing_driver_in_the_store_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Used as a library (no config check first), the store says the same."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    url = "postgresql+psycopg://tap:s3cr3t-pw@db.internal:1/tokens"
    assert "install tap-zohocrm[postgres]" in (check_setting(url) or "")
    with pytest.raises(TokenStoreError) as caught:
        TokenStore(url).read(TokenKey("client", "refresh"))
    message = str(caught.value)
    assert "PostgreSQL" in message and "install tap-zohocrm[postgres]" in message
    assert "s3cr3t-pw" not in message and "db.internal" not in message
