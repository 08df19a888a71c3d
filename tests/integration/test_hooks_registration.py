"""Registering event hooks: per flow, global, after a first job; a hook that raises is detached."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from routilux import Flow, JobStatus, Routine
from routilux.hooks import DeliveryEvent, Hooks, JobEvent, add_global_hooks, remove_global_hooks

STRATEGIES = ["sequential", "concurrent"]


class Echo(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        self.emit("out", n=n)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)

    def go(self, n: int) -> None:
        pass


class Names(Hooks):
    def __init__(self) -> None:
        self.names: list[str] = []

    def job_started(self, event: JobEvent) -> None:
        self.names.append("job_started")

    def delivery_started(self, event: DeliveryEvent) -> None:
        self.names.append(f"started {event.routine_id}")


class Raising(Hooks):
    def __init__(self) -> None:
        self.calls = 0

    def delivery_started(self, event: DeliveryEvent) -> None:
        self.calls += 1
        raise RuntimeError("hook broke")


def two_step(make_flow: Callable[..., Flow], strategy: str = "sequential") -> Flow:
    flow = make_flow(execution_strategy=strategy)
    flow.add_routine(Echo(), "echo")
    flow.add_routine(Sink(), "sink")
    flow.connect("echo", "out", "sink", "input")
    return flow


@pytest.fixture
def global_hooks() -> Iterator[list[Hooks]]:
    added: list[Hooks] = []
    yield added
    for hooks in added:
        remove_global_hooks(hooks)


def test_a_hook_added_after_a_first_job_sees_the_next_job(make_flow: Callable[..., Flow]) -> None:
    flow = two_step(make_flow)
    flow.execute("echo")
    names = Names()
    flow.add_hooks(names)
    flow.execute("echo")
    assert names.names == ["job_started", "started echo", "started sink"]
    flow.remove_hooks(names)
    flow.execute("echo")
    assert len(names.names) == 3


def test_global_hooks_see_every_flow(
    make_flow: Callable[..., Flow], global_hooks: list[Hooks]
) -> None:
    names = Names()
    add_global_hooks(names)
    global_hooks.append(names)
    two_step(make_flow).execute("echo")
    two_step(make_flow, "concurrent").execute("echo")
    assert names.names.count("job_started") == 2
    remove_global_hooks(names)
    two_step(make_flow).execute("echo")
    assert names.names.count("job_started") == 2


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_hook_that_raises_is_logged_and_detached(
    make_flow: Callable[..., Flow], strategy: str, caplog: pytest.LogCaptureFixture
) -> None:
    flow = two_step(make_flow, strategy)
    raising, names = Raising(), Names()
    flow.add_hooks(raising)
    flow.add_hooks(names)
    with caplog.at_level(logging.ERROR, logger="routilux"):
        job = flow.execute("echo")
        again = flow.execute("echo")
    assert job.status is JobStatus.COMPLETED
    assert again.status is JobStatus.COMPLETED
    assert raising.calls == 1
    assert names.names.count("started sink") == 2  # The other hooks go on.
    [record] = [r for r in caplog.records if "detached" in r.getMessage()]
    assert record.exc_info is not None
    assert "hook broke" in str(record.exc_info[1])


def test_a_global_hook_that_raises_is_detached(
    make_flow: Callable[..., Flow], global_hooks: list[Hooks]
) -> None:
    raising = Raising()
    add_global_hooks(raising)
    global_hooks.append(raising)
    assert two_step(make_flow).execute("echo").status is JobStatus.COMPLETED
    assert two_step(make_flow).execute("echo").status is JobStatus.COMPLETED
    assert raising.calls == 1


class Canceller(Hooks):
    """Cancels the job from its first ``delivery_started``."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.cancelled: list[bool] = []
        self.ended: list[str] = []
        self.done = threading.Event()

    def delivery_started(self, event: DeliveryEvent) -> None:
        if not self.cancelled:
            job = self.flow.get_execution(event.job_id)
            assert job is not None
            self.cancelled.append(self.flow.cancel(job, "seen enough"))

    def job_ended(self, event: JobEvent) -> None:
        self.ended.append(event.status)
        self.done.set()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_hook_may_cancel_its_job(make_flow: Callable[..., Flow], strategy: str) -> None:
    flow = two_step(make_flow, strategy)
    canceller = Canceller(flow)
    flow.add_hooks(canceller)
    job = flow.execute("echo")
    assert job.status is JobStatus.CANCELLED
    assert job.error is not None
    assert job.error.startswith("seen enough")
    assert canceller.cancelled == [True]
    assert canceller.done.wait(10.0)  # Told by the thread that ended the job.
    assert canceller.ended == ["cancelled"]
