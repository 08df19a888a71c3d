"""Handler and job timeouts: a slow or hung handler never holds a job past its limit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    JobStatus,
    Routine,
)
from routilux.testing import FakeClock

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


class Slow(Routine):
    """Blocks on ``hold`` for the attempts listed in ``slow_attempts``, then emits ``done``.

    ``unblocked`` is set once a blocked attempt returns from its wait (the
    gate opened, or ``PATIENCE`` ran out).
    """

    def __init__(self, hold: threading.Event, slow_attempts: frozenset[int]) -> None:
        super().__init__()
        self.hold = hold
        self.slow_attempts = slow_attempts
        self.attempts = 0
        self.unblocked = threading.Event()
        self.define_slot("trigger", handler=self.work)
        self.define_event("done", ["attempt"])

    def work(self) -> None:
        self.attempts += 1
        attempt = self.attempts
        if attempt in self.slow_attempts:
            self.hold.wait(PATIENCE)
            self.unblocked.set()
        self.emit("done", attempt=attempt)


class Sink(Routine):
    """Records every ``attempt`` it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[int] = []
        self.define_slot("input", handler=self.take)

    def take(self, attempt: int) -> None:
        self.received.append(attempt)


def slow_flow(
    make_flow: Callable[..., Flow],
    strategy: str,
    slow: Routine,
    sink: Sink | None = None,
) -> Flow:
    flow = make_flow(execution_strategy=strategy, max_workers=2)
    flow.add_routine(slow, "slow")
    flow.add_routine(sink or Sink(), "sink")
    flow.connect("slow", "done", "sink", "input")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_handler_over_its_timeout_is_retried_by_retry(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    slow, sink = Slow(gates.new(), frozenset({1})), Sink()
    slow.set_timeout(0.1)
    slow.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=0.01)
    )
    job = slow_flow(make_flow, strategy, slow, sink).execute("slow")
    assert job.status is JobStatus.COMPLETED, job.error
    assert [(e.error_type, e.attempt, e.action) for e in job.errors] == [
        ("HandlerTimeoutError", 1, "retry")
    ]
    # Only the second attempt's output counts: the first one's is discarded.
    assert sink.received == [2]


class AsyncSlowOnce(Routine):
    """An ``async def`` handler that sleeps ten seconds on its first attempt only."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.define_slot("trigger", handler=self.work)
        self.define_event("done", ["attempt"])

    async def work(self) -> None:
        self.attempts += 1
        if self.attempts == 1:
            await asyncio.sleep(PATIENCE)
        self.emit("done", attempt=self.attempts)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("kind", ["plain", "async"])
def test_a_policy_retrying_timeout_error_retries_a_handler_over_its_timeout(
    make_flow: Callable[..., Flow], gates: Any, strategy: str, kind: str
) -> None:
    slow = Slow(gates.new(), frozenset({1})) if kind == "plain" else AsyncSlowOnce()
    sink = Sink()
    slow.set_timeout(0.1)
    slow.set_error_handler(
        ErrorHandler(
            strategy=ErrorStrategy.RETRY,
            max_retries=2,
            retry_delay=0.01,
            retryable_exceptions=(TimeoutError,),
        )
    )
    job = slow_flow(make_flow, strategy, slow, sink).execute("slow")
    assert [(e.error_type, e.attempt, e.action) for e in job.errors] == [
        ("HandlerTimeoutError", 1, "retry")
    ]
    assert job.status is JobStatus.COMPLETED, job.error
    assert sink.received == [2]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_handler_over_its_timeout_is_recorded_by_continue(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    slow = Slow(gates.new(), frozenset({1}))
    slow.set_timeout(0.1)
    slow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = slow_flow(make_flow, strategy, slow).execute("slow")
    assert job.status is JobStatus.COMPLETED
    (error,) = job.errors
    assert (error.error_type, error.routine_id, error.action) == (
        "HandlerTimeoutError",
        "slow",
        "continue",
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_handler_over_its_timeout_fails_the_job_by_default(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    slow = Slow(gates.new(), frozenset({1}))
    slow.set_timeout(0.1)
    job = slow_flow(make_flow, strategy, slow).execute("slow")
    assert job.status is JobStatus.FAILED
    assert "HandlerTimeoutError" in (job.error or "")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_output_of_a_handler_that_overran_is_discarded(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    slow, sink = Slow(hold, frozenset({1})), Sink()
    slow.set_timeout(0.1)
    slow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = slow_flow(make_flow, strategy, slow, sink)
    job = flow.execute("slow")
    hold.set()  # The overrunning handler now returns and emits, too late.
    flow.shutdown(wait=True)
    for thread in threading.enumerate():
        if thread.name.startswith("routilux-handler"):
            thread.join(PATIENCE)
    assert sink.received == []
    assert job.get_execution_history() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_hung_handler_does_not_hold_execute_past_the_job_timeout(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    slow = Slow(gates.new(), frozenset({1}))
    flow = slow_flow(make_flow, strategy, slow)
    job = flow.execute("slow", timeout=0.3)
    assert not slow.unblocked.is_set()  # It returned while the handler still hung.
    assert job.status is JobStatus.FAILED
    assert [e.error_type for e in job.errors] == ["JobTimeoutError"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_flows_execution_timeout_bounds_a_hung_job(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    slow = Slow(gates.new(), frozenset({1}))
    flow = make_flow(execution_strategy=strategy, execution_timeout=0.3)
    flow.add_routine(slow, "slow")
    job = flow.execute("slow")
    assert not slow.unblocked.is_set()  # It returned while the handler still hung.
    assert job.status is JobStatus.FAILED
    assert "timeout" in (job.error or "")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_started_job_past_its_timeout_ends_failed(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    slow = Slow(gates.new(), frozenset({1}))
    flow = slow_flow(make_flow, strategy, slow)
    job = flow.start("slow", timeout=0.3)
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.FAILED
    assert [e.error_type for e in job.errors] == ["JobTimeoutError"]


class AsyncSleeper(Routine):
    """An ``async def`` handler that sleeps ten seconds unless cancelled; ``woke`` if it did."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = threading.Event()
        self.woke = threading.Event()
        self.define_slot("trigger", handler=self.nap)

    async def nap(self) -> None:
        try:
            await asyncio.sleep(10)  # The handler's own work, which its timeout cuts short.
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.woke.set()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_async_handler_over_its_timeout_fails_quickly(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    sleeper = AsyncSleeper()
    sleeper.set_timeout(0.1)
    sleeper.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = make_flow(execution_strategy=strategy)
    flow.add_routine(sleeper, "sleeper")
    job = flow.execute("sleeper")
    assert not sleeper.woke.is_set()  # It returned without waiting out the ten seconds.
    assert [e.error_type for e in job.errors] == ["HandlerTimeoutError"]
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_async_handler_over_its_timeout_is_cancelled(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    sleeper = AsyncSleeper()
    sleeper.set_timeout(0.1)
    sleeper.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = make_flow(execution_strategy=strategy)
    flow.add_routine(sleeper, "sleeper")
    flow.execute("sleeper")
    assert sleeper.cancelled.wait(PATIENCE)


def test_a_handler_timeout_error_names_the_routine_and_the_limit(
    make_flow: Callable[..., Flow], gates: Any
) -> None:
    slow = Slow(gates.new(), frozenset({1}))
    slow.set_timeout(0.05)
    slow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = slow_flow(make_flow, "concurrent", slow).execute("slow")
    (error,) = job.errors
    assert "'slow'" in error.message
    assert "0.05" in error.message


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan"), True, "1"])
def test_invalid_routine_timeouts_raise_definition_error(seconds: Any) -> None:
    with pytest.raises(DefinitionError, match="set_timeout"):
        Sink().set_timeout(seconds)


class FlakyTwice(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("trigger", handler=self.go)

    def go(self) -> None:
        self.calls += 1
        if self.calls < 3:
            raise ConnectionError("not yet")


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_job_timeout_on_a_fake_clock_waits_for_the_retries_before_it(strategy: str) -> None:
    # The fake clock jumps to the next timer once the job is idle: the job's
    # deadline, 10 s away, must not be jumped to before the work has started.
    clock = FakeClock()
    flow = Flow(execution_strategy=strategy, clock=clock)
    routine = FlakyTwice()
    routine.set_error_handler(ErrorHandler(strategy="retry", max_retries=3, retry_delay=0.5))
    flow.add_routine(routine, "r")
    try:
        job = flow.execute("r", timeout=10)
    finally:
        flow.shutdown()
    assert job.status == "completed", job.error
    assert routine.calls == 3
    assert clock.monotonic() == pytest.approx(0.5 + 1.0)
