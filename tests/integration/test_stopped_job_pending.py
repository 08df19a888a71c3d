"""A job that stops keeps its undelivered messages, in both strategies alike.

STOP, a job timeout and the runaway limit end the job ``failed``; what had
not run is listed in ``job.pending_deliveries`` and counted in ``job.error``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import Flow, Routine

STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["v"])

    def go(self, n: int) -> None:
        for v in range(n):
            self.emit("out", v=v)


class Bad(Routine):
    """Fails on ``v == 1``; with ``hold``, the first call waits for it to be set."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        super().__init__()
        self.hold = hold
        self.set_max_concurrency(1)  # In the concurrent strategy too, one at a time, in order.
        self.define_slot("input", handler=self.take)

    def take(self, v: int) -> None:
        if self.hold is not None and v == 0:
            self.hold.wait(10)
        if v == 1:
            raise ValueError("bad")


class Loop(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.step)
        self.define_slot("input", handler=self.step)
        self.define_event("next", ["n"])

    def step(self, n: int = 0) -> None:
        self.emit("next", n=n + 1)


def flow_of(strategy: str, worker: Routine, **options: Any) -> Flow:
    flow = Flow(execution_strategy=strategy, **options)
    flow.add_routine(Source(), "src")
    flow.add_routine(worker, "bad")
    flow.connect("src", "out", "bad", "input")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_stopped_job_lists_what_it_did_not_run(strategy: str) -> None:
    flow = flow_of(strategy, Bad())
    try:
        job = flow.execute("src", {"n": 6}, timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "failed"
    assert sorted(d.data["v"] for d in job.pending_deliveries) == [2, 3, 4, 5]
    assert "(4 pending deliveries dropped)" in (job.error or "")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_timed_out_job_lists_what_it_did_not_run(strategy: str) -> None:
    hold = threading.Event()
    flow = flow_of(strategy, Bad(hold))
    try:
        job = flow.execute("src", {"n": 5}, timeout=0.2)
    finally:
        hold.set()
        flow.shutdown()
    assert job.status == "failed"
    assert "ran past its timeout" in (job.error or "")
    # The delivery of 0 was running; 1 to 4 had not started.
    assert sorted(d.data["v"] for d in job.pending_deliveries) == [1, 2, 3, 4]
    assert "(4 pending deliveries dropped)" in (job.error or "")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_runaway_job_lists_the_delivery_it_refused(strategy: str) -> None:
    flow = Flow(execution_strategy=strategy, max_deliveries=20)
    flow.add_routine(Loop(), "loop")
    flow.connect("loop", "next", "loop", "input")
    try:
        job = flow.execute("loop", timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "failed"
    assert job.routine_stats("loop").deliveries == 20  # type: ignore[union-attr]
    assert [d.data for d in job.pending_deliveries] == [{"n": 20}]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_job_past_max_hops_lists_the_delivery_it_refused(strategy: str) -> None:
    flow = Flow(execution_strategy=strategy, max_hops=20)
    flow.add_routine(Loop(), "loop")
    flow.connect("loop", "next", "loop", "input")
    try:
        job = flow.execute("loop", timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "failed"
    assert job.routine_stats("loop").deliveries == 21  # type: ignore[union-attr]
    assert [(d.data, d.hops) for d in job.pending_deliveries] == [({"n": 21}, 21)]
    assert "(1 pending delivery dropped)" in (job.error or "")
