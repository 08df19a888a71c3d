"""The flow's bound on ``async def`` handlers in flight, and when a handler's timeout starts."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobStatus, Routine

PATIENCE = 10.0


class Source(Routine):
    """Emits ``first`` once, then ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("first", [])
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        self.emit("first")
        for i in range(n):
            self.emit("out", i=i)


class Held(Routine):
    """An ``async def`` handler that awaits until ``release`` is set; counts the overlap."""

    def __init__(self, release: threading.Event, overlap: Any) -> None:
        super().__init__()
        self.release = release
        self.overlap = overlap
        self.started = threading.Event()
        self.set_max_concurrency(None)
        self.define_slot("input", handler=self.hold)

    async def hold(self, **_: Any) -> None:
        self.overlap.enter()
        self.started.set()
        try:
            while not self.release.is_set():
                await asyncio.sleep(0.005)
        finally:
            self.overlap.leave()


class Quick(Routine):
    """An ``async def`` handler that awaits a short sleep; records what it received.

    The sleep gives a timer that was started too early the chance to fire.
    """

    def __init__(self) -> None:
        super().__init__()
        self.received: list[int] = []
        self.set_max_concurrency(None)
        self.define_slot("input", handler=self.take)

    async def take(self, i: int) -> None:
        await asyncio.sleep(0.01)
        self.received.append(i)


def wait_until(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until it holds or PATIENCE runs out; return whether it held."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)  # The counts change on the event loop's thread, with no event.
    return True


def waiting_inside(thread: threading.Thread) -> bool:
    """Whether ``thread`` is blocked in a ``threading`` wait (an Event or a Condition)."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        code = frame.f_code
        if code.co_name in {"wait", "wait_for"} and code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


def test_async_handlers_in_flight_never_exceed_the_flows_bound(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    release = gates.new()
    held = Held(release, overlap)
    flow = make_flow(execution_strategy="concurrent", max_workers=4, max_async_in_flight=3)
    flow.add_routine(Source(), "source")
    flow.add_routine(held, "held")
    flow.connect("source", "out", "held", "input")
    job = flow.start("source", {"n": 20})
    assert wait_until(lambda: overlap.now == 3)
    release.set()  # A fourth handler at any time of the run shows in the peak.
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED, job.error
    assert (overlap.calls, overlap.peak) == (20, 3)


def test_the_bound_is_shared_by_the_jobs_of_the_flow(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    release = gates.new()
    held = Held(release, overlap)
    flow = make_flow(execution_strategy="concurrent", max_workers=4, max_async_in_flight=2)
    flow.add_routine(Source(), "source")
    flow.add_routine(held, "held")
    flow.connect("source", "out", "held", "input")
    jobs = [flow.start("source", {"n": 3}) for _ in range(3)]
    assert wait_until(lambda: overlap.now == 2)
    release.set()  # A third handler at any time of the run shows in the peak.
    assert all(job.wait(PATIENCE) for job in jobs)
    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * 3
    assert (overlap.calls, overlap.peak) == (9, 2)


def test_without_a_bound_every_async_handler_may_run_at_once(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    release = gates.new()
    held = Held(release, overlap)
    flow = make_flow(execution_strategy="concurrent", max_workers=2, max_async_in_flight=None)
    flow.add_routine(Source(), "source")
    flow.add_routine(held, "held")
    flow.connect("source", "out", "held", "input")
    job = flow.start("source", {"n": 20})
    assert wait_until(lambda: overlap.now == 20)
    release.set()
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED, job.error


def test_the_time_a_delivery_waits_for_the_bound_does_not_count_toward_its_timeout(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    # "held" takes the flow's only place; the quick deliveries wait behind it
    # far longer than their routine's timeout, then each returns at once.
    release = gates.new()
    held, quick = Held(release, overlap), Quick()
    quick.set_timeout(0.2)
    quick.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = make_flow(execution_strategy="concurrent", max_workers=2, max_async_in_flight=1)
    flow.add_routine(Source(), "source")
    flow.add_routine(held, "held")
    flow.add_routine(quick, "quick")
    flow.connect("source", "first", "held", "input")
    flow.connect("source", "out", "quick", "input")
    job = flow.start("source", {"n": 3})
    assert held.started.wait(PATIENCE)
    # The behaviour under test, not a wait: the quick deliveries spend three
    # times their routine's timeout waiting for the place.
    time.sleep(0.6)
    assert quick.received == []
    release.set()
    assert job.wait(PATIENCE)
    assert job.errors == []
    assert job.status is JobStatus.COMPLETED
    assert sorted(quick.received) == [0, 1, 2]


def held_flow(make_flow: Callable[..., Flow], held: Held, bound: int) -> Flow:
    flow = make_flow(execution_strategy="concurrent", max_workers=2, max_async_in_flight=bound)
    flow.add_routine(Source(), "source")
    flow.add_routine(held, "held")
    flow.connect("source", "out", "held", "input")
    return flow


def test_a_pause_holds_the_deliveries_waiting_for_the_bound(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    release = gates.new()
    flow = held_flow(make_flow, Held(release, overlap), bound=1)
    job = flow.start("source", {"n": 4})
    assert wait_until(lambda: overlap.now == 1)
    pauser = threading.Thread(target=flow.pause, args=(job, PATIENCE))
    pauser.start()
    assert wait_until(lambda: waiting_inside(pauser))  # The pause waits for the handler.
    release.set()  # The running handler ends; the three waiting never start.
    pauser.join(PATIENCE)
    assert job.status is JobStatus.PAUSED
    assert [p.routine_id for p in job.pending_deliveries] == ["held"] * 3
    assert overlap.calls == 1
    assert flow.resume(job)
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED, job.error
    assert overlap.calls == 4


def test_a_cancelled_job_gives_its_places_back_to_later_jobs(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    release = gates.new()
    flow = held_flow(make_flow, Held(release, overlap), bound=2)
    job = flow.start("source", {"n": 6})
    assert wait_until(lambda: overlap.now == 2)
    assert flow.cancel(job)
    release.set()
    later = flow.start("source", {"n": 3})
    assert later.wait(PATIENCE), "a place under the bound was lost with the cancelled job"
    assert later.status is JobStatus.COMPLETED, later.error
    assert job.status is JobStatus.CANCELLED


def test_a_flow_shut_down_with_deliveries_waiting_for_the_bound_runs_later_jobs(
    make_flow: Callable[..., Flow], gates: Any, overlap: Any
) -> None:
    release = gates.new()
    flow = held_flow(make_flow, Held(release, overlap), bound=2)
    job = flow.start("source", {"n": 6})
    assert wait_until(lambda: overlap.now == 2)
    flow.shutdown(wait=False)  # Cancels the two handlers, and the job.
    assert job.status is JobStatus.CANCELLED
    release.set()
    later = flow.start("source", {"n": 4})
    assert later.wait(PATIENCE), "a place under the bound was lost at shutdown"
    assert later.status is JobStatus.COMPLETED, later.error
    assert overlap.peak == 2


class Hog(Routine):
    """An ``async def`` handler that leaves a task behind which blocks the job's loop later."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.blocked = threading.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.define_slot("input", handler=self.leave_work_behind)

    async def leave_work_behind(self) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self._block()))

    async def _block(self) -> None:
        await asyncio.sleep(0)  # Still pending when this handler's delivery ends.
        time.sleep(self.seconds)  # Then blocks the loop, before the next handler starts.
        self.blocked.set()


def test_in_the_sequential_strategy_a_timeout_counts_from_the_handlers_start() -> None:
    # The job's own loop runs the task "hog" left behind before the next
    # handler starts: that time is not the handler's.
    hog, quick = Hog(0.6), Quick()
    quick.set_timeout(0.2)
    quick.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(hog, "hog")
    flow.add_routine(quick, "quick")
    flow.connect("source", "first", "hog", "input")
    flow.connect("source", "out", "quick", "input")
    job = flow.execute("source", {"n": 1})
    assert hog.blocked.is_set()
    assert job.errors == []
    assert quick.received == [0]


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10"])
def test_the_bound_must_be_a_positive_integer_or_none(value: Any) -> None:
    with pytest.raises(DefinitionError, match="max_async_in_flight"):
        Flow(max_async_in_flight=value)


def test_the_bound_defaults_to_a_thousand() -> None:
    assert Flow().max_async_in_flight == 1_000
