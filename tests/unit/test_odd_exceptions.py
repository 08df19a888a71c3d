"""Handlers that raise odd things: the engine records them and goes on.

A ``BaseException`` that is not an interrupt, or an exception whose
``str()`` raises, is a failure of its delivery like any other; an interrupt
(KeyboardInterrupt, SystemExit) on the thread that runs a sequential job
stops the job and reaches the caller, with the interrupted delivery listed
as pending. Nothing of it may kill a worker, hang a job, or let a job that
did not finish end ``completed``.
"""

from __future__ import annotations

import pytest

from routilux import Flow, Routine

STRATEGIES = ["sequential", "concurrent"]


class Signal(BaseException):
    """A BaseException of the user's own, as some libraries define."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class Thrower(Routine):
    """Raises ``error`` for ``n == 1``; emits ``n`` on ``out`` otherwise."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.define_slot("trigger", handler=self.run)
        self.define_event("out", ["n"])

    def run(self, n: int) -> None:
        if n == 1:
            raise self.error
        self.emit("out", n=n)


def flow_of(strategy: str, error: BaseException) -> Flow:
    flow = Flow(execution_strategy=strategy, max_workers=1)
    flow.add_routine(Thrower(error), "r")
    return flow


ERRORS = {"base-exception": Signal("stop here"), "unprintable": Unprintable()}
# An interrupt is a failure on the engine's threads only: with a timeout, a
# sequential job runs on one of them; on the caller's thread, see below.
CASES = [
    pytest.param(strategy, timeout, error, id=f"{name}-{strategy}-{timeout}")
    for strategy in STRATEGIES
    for timeout in (None, 10.0)
    for name, error in [*ERRORS.items(), ("system-exit", SystemExit(3))]
    if not (name == "system-exit" and strategy == "sequential" and timeout is None)
]


@pytest.mark.parametrize(("strategy", "timeout", "error"), CASES)
def test_an_odd_exception_fails_its_delivery_and_the_engine_goes_on(
    strategy: str, timeout: float | None, error: BaseException
) -> None:
    flow = flow_of(strategy, error)
    try:
        job = flow.execute("r", {"n": 1}, timeout=timeout)
        assert job.status == "failed"
        (record,) = job.errors
        assert record.error_type == type(error).__name__
        assert record.routine_id == "r"
        assert job.routine_states["r"]["status"] == "failed"
        after = flow.execute("r", {"n": 2}, timeout=timeout)
        assert after.status == "completed"
    finally:
        flow.shutdown()


def test_an_exception_whose_text_cannot_be_made_is_recorded_with_a_placeholder() -> None:
    job = flow_of("sequential", Unprintable()).execute("r", {"n": 1})
    (record,) = job.errors
    assert record.message == "<str() of the exception raised RuntimeError>"
    assert "Unprintable: <str() of the exception raised RuntimeError>" in (job.error or "")


class Relay(Routine):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.taken: list[int] = []
        self.define_slot("input", handler=self.take)

    def take(self, n: int) -> None:
        self.taken.append(n)
        if n == 3 and self.taken.count(3) == 1:
            raise self.error


class Counter(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.count)
        self.define_event("out", ["n"])

    def count(self, upto: int) -> None:
        for n in range(upto):
            self.emit("out", n=n)


@pytest.mark.parametrize("error", [KeyboardInterrupt("Ctrl-C"), SystemExit(2)])
def test_an_interrupt_stops_a_sequential_job_and_reaches_the_caller(error: BaseException) -> None:
    flow = Flow()
    relay = Relay(error)
    flow.add_routine(Counter(), "counter")
    flow.add_routine(relay, "relay")
    flow.connect("counter", "out", "relay", "input")
    with pytest.raises(type(error)):
        flow.execute("counter", {"upto": 6})
    (job,) = flow.get_all_executions()
    assert job.status == "failed"
    assert f"interrupted before it finished ({type(error).__name__}" in (job.error or "")
    # The interrupted delivery did not finish: it is pending, first.
    assert [d.data["n"] for d in job.pending_deliveries] == [3, 4, 5]
    assert flow.execute("counter", {"upto": 1}).status == "completed"


class AsyncThrower(Routine):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.define_slot("trigger", handler=self.run)

    async def run(self, n: int) -> None:
        if n == 1:
            raise self.error


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt()], ids=["exit", "interrupt"])
def test_an_interrupt_in_an_async_handler_fails_its_delivery_and_the_loop_goes_on(
    error: BaseException,
) -> None:
    flow = Flow(execution_strategy="concurrent", max_workers=1)
    flow.add_routine(AsyncThrower(error), "r")
    try:
        job = flow.execute("r", {"n": 1}, timeout=10)
        assert job.status == "failed"
        (record,) = job.errors
        assert record.error_type == type(error).__name__
        assert flow.execute("r", {"n": 2}, timeout=10).status == "completed"
    finally:
        flow.shutdown()


class PausesThenInterrupts(Routine):
    """Asks for a pause, then is interrupted, on its first call; emits after."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self) -> None:
        self.calls += 1
        if self.calls == 1:
            ctx = self.get_execution_context()
            assert ctx is not None
            ctx.flow.pause(ctx.job_state)
            raise KeyboardInterrupt
        self.emit("out", n=1)


def test_an_interrupt_while_pausing_leaves_a_job_that_resumes_to_completion() -> None:
    flow = Flow()
    relay = Relay(KeyboardInterrupt())
    flow.add_routine(PausesThenInterrupts(), "src")
    flow.add_routine(relay, "relay")
    flow.connect("src", "out", "relay", "input")
    with pytest.raises(KeyboardInterrupt):
        flow.execute("src")
    (job,) = flow.get_all_executions()
    assert job.status == "paused"
    assert flow.resume(job, wait=True)
    assert job.status == "completed", job.error
    assert relay.taken == [1]
