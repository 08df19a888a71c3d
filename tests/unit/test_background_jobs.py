"""Background jobs and the concurrent strategy (contract section 2)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import Flow, JobState, Routine

WAIT = 10.0  # Real seconds a test waits for another thread before it gives up.


@pytest.fixture
def make_flow() -> Iterator[Callable[..., Flow]]:
    flows: list[Flow] = []

    def make(**kwargs: Any) -> Flow:
        flow = Flow(**kwargs)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown(wait=True)


class Gate(Routine):
    """Its entry handler waits for the test to open the gate named in the message."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = {name: threading.Event() for name in ("one", "two")}
        self.gates = {name: threading.Event() for name in ("one", "two")}
        self.define_slot("trigger", handler=self.hold)
        self.define_event("out")

    def hold(self, name: str) -> None:
        self.entered[name].set()
        if not self.gates[name].wait(WAIT):
            raise TimeoutError(f"gate {name} never opened")
        self.emit("out", name=name)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.received: list[Any] = []
        self.threads: set[int] = set()
        self.define_slot("input", handler=self.receive)

    def receive(self, **message: Any) -> None:
        with self.lock:
            self.received.append(message)
            self.threads.add(threading.get_ident())


def gated(make_flow: Callable[..., Flow], **kwargs: Any) -> tuple[Flow, Gate, Sink]:
    flow = make_flow(**kwargs)
    gate, sink = Gate(), Sink()
    flow.add_routine(gate, "gate")
    flow.add_routine(sink, "sink")
    flow.connect("gate", "out", "sink", "input")
    return flow, gate, sink


def until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # A job's status changes with no event to wait on, but its end.
    return True


@pytest.mark.timeout(30)
def test_start_returns_while_the_job_still_runs(make_flow: Callable[..., Flow]) -> None:
    flow, gate, sink = gated(make_flow)
    job = flow.start("gate", entry_params={"name": "one"})
    assert isinstance(job, JobState)
    assert gate.entered["one"].wait(WAIT)
    assert job.wait(timeout=0) is False
    assert not job.is_finished
    gate.gates["one"].set()
    assert job.wait(timeout=WAIT) is True
    assert job.status == "completed"
    assert sink.received == [{"name": "one"}]


@pytest.mark.timeout(30)
def test_wait_for_completion_waits_for_a_started_job(make_flow: Callable[..., Flow]) -> None:
    flow, gate, _ = gated(make_flow)
    job = flow.start("gate", entry_params={"name": "one"})
    threading.Timer(0.05, gate.gates["one"].set).start()
    assert JobState.wait_for_completion(flow, job, timeout=WAIT) is True
    assert job.status == "completed"


@pytest.mark.timeout(30)
def test_a_started_job_is_remembered_by_the_flow(make_flow: Callable[..., Flow]) -> None:
    flow, gate, _ = gated(make_flow)
    gate.gates["one"].set()
    job = flow.start("gate", entry_params={"name": "one"})
    assert job.wait(WAIT)
    assert flow.get_execution(job.job_id) is job


@pytest.mark.timeout(30)
def test_cancel_ends_only_the_cancelled_job(make_flow: Callable[..., Flow]) -> None:
    flow, gate, sink = gated(make_flow)
    one = flow.start("gate", entry_params={"name": "one"})
    two = flow.start("gate", entry_params={"name": "two"})
    assert gate.entered["one"].wait(WAIT)
    assert flow.cancel(one) is True
    gate.gates["one"].set()
    gate.gates["two"].set()
    assert one.wait(WAIT)
    assert two.wait(WAIT)
    assert (one.status, two.status) == ("cancelled", "completed")
    assert sink.received == [{"name": "two"}]


@pytest.mark.timeout(30)
def test_cancel_of_a_finished_job_returns_false(make_flow: Callable[..., Flow]) -> None:
    flow, gate, _ = gated(make_flow)
    gate.gates["one"].set()
    job = flow.execute("gate", entry_params={"name": "one"})
    assert flow.cancel(job) is False
    assert job.status == "completed"


class SelfPausing(Routine):
    """Pauses its own job, then emits three messages."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.run)
        self.define_event("out")

    def run(self) -> None:
        context = self.get_execution_context()
        assert context is not None
        context.flow.pause(context.job_state)
        for n in range(3):
            self.emit("out", n=n)


@pytest.mark.timeout(30)
def test_pause_keeps_pending_deliveries_and_resume_runs_them(
    make_flow: Callable[..., Flow],
) -> None:
    flow = make_flow()
    sink = Sink()
    flow.add_routine(SelfPausing(), "pauser")
    flow.add_routine(sink, "sink")
    flow.connect("pauser", "out", "sink", "input")
    job = flow.start("pauser")
    assert until(lambda: job.status == "paused")
    assert sink.received == []
    assert [(p.routine_id, p.data) for p in job.pending_deliveries] == [
        ("sink", {"n": 0}),
        ("sink", {"n": 1}),
        ("sink", {"n": 2}),
    ]
    assert flow.resume(job) is job
    assert job.wait(WAIT)
    assert job.status == "completed"
    assert sink.received == [{"n": 0}, {"n": 1}, {"n": 2}]


# -- the concurrent strategy -----------------------------------------------------------


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda: self.emit("out", v=1))
        self.define_event("out")


class Meeter(Routine):
    """Waits on a barrier shared with its siblings: only parallel deliveries can pass."""

    def __init__(self, barrier: threading.Barrier, sink: Sink) -> None:
        super().__init__()
        self.barrier = barrier
        self.sink = sink
        self.define_slot("input", handler=self.meet)

    def meet(self, v: Any) -> None:
        self.barrier.wait(timeout=WAIT)
        self.sink.receive(v=v)


@pytest.mark.timeout(60)
def test_concurrent_strategy_runs_deliveries_in_parallel_on_worker_threads(
    make_flow: Callable[..., Flow],
) -> None:
    flow = make_flow(execution_strategy="concurrent", max_workers=2)
    barrier, sink = threading.Barrier(2), Sink()
    flow.add_routine(Source(), "source")
    flow.add_routine(Meeter(barrier, sink), "left")
    flow.add_routine(Meeter(barrier, sink), "right")
    flow.connect("source", "out", "left", "input")
    flow.connect("source", "out", "right", "input")
    job = flow.execute("source")
    assert job.status == "completed"
    assert sink.received == [{"v": 1}, {"v": 1}]
    assert threading.get_ident() not in sink.threads


class AsyncDoubler(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.double)
        self.define_event("out")

    async def double(self, v: int) -> None:
        self.emit("out", v=v * 2)


@pytest.mark.timeout(60)
def test_async_handlers_work_in_the_concurrent_strategy(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(execution_strategy="concurrent", max_workers=2)
    sink = Sink()
    flow.add_routine(Source(), "source")
    flow.add_routine(AsyncDoubler(), "doubler")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "doubler", "input")
    flow.connect("doubler", "out", "sink", "input")
    job = flow.execute("source")
    assert job.status == "completed"
    assert sink.received == [{"v": 2}]
