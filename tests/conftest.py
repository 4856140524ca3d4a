"""Fixtures: a Zoho CRM simulator per test (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from zoho_simulator import Simulator


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
