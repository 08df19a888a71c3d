"""Strategies by name, and the settings a job starts with."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import Flow, Routine
from routilux._engine.concurrent import ConcurrentStrategy
from routilux._engine.ray_strategy import RayStrategy
from routilux._engine.sequential import SequentialStrategy
from routilux._engine.services import EngineServices
from routilux._engine.strategies import STRATEGY_NAMES, make_strategy
from routilux.testing import FakeClock


class Echo(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.run)

    def run(self, **data: Any) -> None:
        pass


def test_each_strategy_name_makes_its_strategy() -> None:
    services = EngineServices(FakeClock(), lambda: True)
    assert STRATEGY_NAMES == ("sequential", "concurrent", "ray")
    assert isinstance(make_strategy("sequential", services), SequentialStrategy)
    assert isinstance(make_strategy("concurrent", services), ConcurrentStrategy)
    # Made without Ray: the cluster is connected by its first job (tests/ray).
    assert isinstance(make_strategy("ray", services), RayStrategy)


# The strategies that run in this process; tests/ray runs jobs under "ray".
@pytest.mark.parametrize("name", ["sequential", "concurrent"])
def test_a_job_runs_under_the_strategy_it_names(name: str) -> None:
    flow = Flow(execution_strategy="sequential", clock=FakeClock())
    flow.add_routine(Echo(), "echo")
    with flow:
        job = flow.execute("echo", execution_strategy=name)
        run = flow._jobs.engine.run_of(job)
    assert job.status.value == "completed"
    assert run is not None
    assert run.strategy is flow._jobs.engine._strategy(name)


def test_settings_are_read_from_the_flow_when_a_job_starts() -> None:
    flow = Flow(max_workers=2, history_limit=50, max_hops=7)
    before = flow._jobs.settings()
    flow.set_execution_strategy("concurrent", max_workers=3)
    after = flow._jobs.settings()
    assert (before.strategy, before.max_workers) == ("sequential", 2)
    assert (after.strategy, after.max_workers) == ("concurrent", 3)
    assert (after.history_limit, after.max_hops, after.clock) == (50, 7, flow.clock)
