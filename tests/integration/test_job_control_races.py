"""Races between job control and the thread that drives a sequential job.

A sequential job paused from another thread stops its driver thread; resume
starts a new one. The old driver still has a clean-up step to run after the
job reports ``paused``. Under the GIL that window is a few bytecodes wide,
so these tests widen it: a profile hook (``threading.setprofile``, which
changes no behaviour) makes the driver thread sleep when it enters that
step. The hook records that it fired, so a renamed step fails the test
loudly instead of letting it pass without the delay.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from routilux import Flow, JobState, JobStatus, Routine

PATIENCE = 10.0
# The driver's clean-up step, run after the drive loop has stopped
# (SequentialRun.settle: it acknowledges the pause and ends the driving).
CLEAN_UP = "settle"


class Source(Routine):
    """Emits ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Sink(Routine):
    """Blocks on ``hold`` for message 0; takes 0.05 s for each later message.

    So the five later messages outlast the 0.1 s the old driver sleeps.
    """

    def __init__(self, hold: threading.Event) -> None:
        super().__init__()
        self.hold = hold
        self.started = threading.Event()
        self.received: list[int] = []
        self.define_slot("input", handler=self.take)

    def take(self, i: int) -> None:
        if i == 0:
            self.started.set()
            self.hold.wait(PATIENCE)
        else:
            time.sleep(0.05)
        self.received.append(i)


class SlowCleanUp:
    """A profile hook: a thread entering the clean-up step first sleeps 0.1 s."""

    def __init__(self) -> None:
        self.fired = threading.Event()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name == CLEAN_UP:
            self.fired.set()
            time.sleep(0.1)


@pytest.fixture
def slow_clean_up() -> Iterator[SlowCleanUp]:
    """Install the hook for threads started during the test."""
    hook = SlowCleanUp()
    threading.setprofile(hook)
    try:
        yield hook
    finally:
        threading.setprofile(None)


def start_job(flow: Flow) -> JobState:
    return flow.start("source", {"n": 6})


def execute_job(flow: Flow) -> JobState:
    # execute drives the job on the calling thread; call it from a thread of ours.
    threading.Thread(target=flow.execute, args=("source", {"n": 6}), daemon=True).start()
    deadline = time.monotonic() + PATIENCE
    while not flow.get_all_executions() and time.monotonic() < deadline:
        time.sleep(0.001)  # No event says that execute has made its job.
    (job,) = flow.get_all_executions()
    return job


@pytest.mark.parametrize("begin", [start_job, execute_job], ids=["start", "execute"])
def test_resume_right_after_pause_is_not_undone_by_the_old_driver(
    make_flow: Callable[..., Flow],
    gates: Any,
    slow_clean_up: SlowCleanUp,
    begin: Callable[[Flow], JobState],
) -> None:
    hold = gates.new()
    sink = Sink(hold)
    flow = make_flow(execution_strategy="sequential")
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    job = begin(flow)
    assert sink.started.wait(PATIENCE)
    result: list[bool] = []
    pauser = threading.Thread(target=lambda: result.append(flow.pause(job, PATIENCE)))
    pauser.start()
    hold.set()
    pauser.join(PATIENCE)
    assert result == [True]
    # The old driver sleeps in its clean-up step now; resume meanwhile.
    assert flow.resume(job)
    assert job.wait(PATIENCE)
    assert slow_clean_up.fired.is_set(), f"no thread entered {CLEAN_UP}; update CLEAN_UP"
    assert job.status is JobStatus.COMPLETED, job.error
    assert sink.received == [0, 1, 2, 3, 4, 5]
