"""Fixtures: a Zoho CRM simulator per test (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from zoho_simulator import Simulator


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
