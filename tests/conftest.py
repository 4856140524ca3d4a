"""Fixtures: a Zoho CRM simulator per test (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import zoho_openapi
from zoho_simulator import Simulator, exchanges

# Every exchange of the tests that run the tap is checked against Zoho's OpenAPI files
# (tests/zoho_openapi.py); ZOHO_OPENAPI_CHECK=0 turns the check off.
OPENAPI_CHECK = os.environ.get("ZOHO_OPENAPI_CHECK", "1") != "0"
# The simulator's own tests send wrong requests on purpose; the tap is not in them.
TAP_TEST_DIRS = ("tap", "integration")
_openapi_tally = zoho_openapi.Tally()


def pytest_configure(config: pytest.Config) -> None:
    if OPENAPI_CHECK:
        exchanges.record_every_simulator()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    """Fail a test whose exchanges (or those of the module fixtures before it) differ from
    Zoho's files in a way the allow-list does not explain."""
    outcome = yield
    if not OPENAPI_CHECK:
        return
    logged = exchanges.REGISTRY.drain_all()
    if Path(str(item.path)).parent.name not in TAP_TEST_DIRS:
        return
    unexplained = _openapi_tally.check(logged)
    if unexplained and outcome.excinfo is None:
        outcome.force_exception(AssertionError(zoho_openapi.report(unexplained)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if OPENAPI_CHECK and _openapi_tally.exchanges:
        terminalreporter.write_line(_openapi_tally.summary())


@pytest.fixture(autouse=True, scope="session")
def _private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the tap's default token store (XDG_STATE_HOME) out of the user's home."""
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


@pytest.fixture
def make_simulator() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def factory(**kwargs: Any) -> Simulator:
        sim = Simulator(**kwargs).start(port=0)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_simulator: Callable[..., Simulator]) -> Simulator:
    """A small org: every module at its default size."""
    return make_simulator(seed=7)


@pytest.fixture
def repo_meltano() -> Iterator[None]:
    """Tests that run Meltano in this repository's own `.meltano` take turns, across test
    processes: Meltano keeps a tap's run files there whatever the state ID, and `meltano install`
    rewrites them, so one test's install broke another's run ("No such file ...
    tap.properties.json"). Tests with a `.meltano` of their own (MELTANO_SYS_DIR_ROOT) need not."""
    root = str(Path(__file__).resolve().parent.parent)
    lock = Path(tempfile.gettempdir()) / (
        f"tap-zohocrm-meltano-{hashlib.sha1(root.encode()).hexdigest()[:12]}.lock")
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
