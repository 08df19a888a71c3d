"""Job limits: the timeout and the delivery limit that stops runaway flows."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.testing import FakeClock


class Slow(Routine):
    """Takes ``cost`` seconds of fake time per delivery, then emits ``fan`` messages."""

    def __init__(self, clock: FakeClock, cost: float, fan: int = 1) -> None:
        super().__init__()
        self.clock = clock
        self.cost = cost
        self.fan = fan
        self.calls = 0
        self.define_slot("trigger", handler=self.work)
        self.define_slot("input", handler=self.work)
        self.define_event("out")

    def work(self, **kwargs: Any) -> None:
        self.calls += 1
        self.clock.advance(self.cost)
        for i in range(self.fan):
            self.emit("out", i=i)


def chain(clock: FakeClock, costs: list[float], **flow_kwargs: Any) -> tuple[Flow, list[Slow]]:
    flow = Flow(clock=clock, **flow_kwargs)
    routines = [Slow(clock, cost) for cost in costs]
    for i, routine in enumerate(routines):
        flow.add_routine(routine, f"step{i}")
    for i in range(len(routines) - 1):
        flow.connect(f"step{i}", "out", f"step{i + 1}", "input")
    return flow, routines


def timeout_errors(job: JobState) -> list[str | None]:
    return [e.routine_id for e in job.errors if e.error_type == "JobTimeoutError"]


# -- timeout ---------------------------------------------------------------------------


def test_a_job_past_its_timeout_fails_with_a_timeout_error() -> None:
    clock = FakeClock()
    flow, routines = chain(clock, [3.0, 3.0, 3.0], execution_timeout=5.0)
    job = flow.execute("step0")
    assert job.status == "failed"
    assert [r.calls for r in routines] == [1, 1, 0]
    assert len(timeout_errors(job)) == 1
    assert "timeout" in (job.error or "")


def test_timeout_error_record_states_the_limit_and_stops() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [3.0, 3.0, 3.0], execution_timeout=5.0)
    job = flow.execute("step0")
    [error] = job.errors
    assert error.error_type == "JobTimeoutError"
    assert error.action == "stop"
    assert "timeout of 5.0 seconds" in error.message
    assert error.routine_id in (None, "step1", "step2")


def test_timeout_drops_the_remaining_deliveries() -> None:
    clock = FakeClock()
    flow = Flow(clock=clock, execution_timeout=5.0)
    source, sink = Slow(clock, 10.0, fan=3), Slow(clock, 0.0)
    flow.add_routine(source, "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source")
    assert sink.calls == 0
    assert "3 pending deliveries dropped" in (job.error or "")


def test_execute_timeout_overrides_the_flow_default() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [3.0, 3.0, 3.0])
    assert flow.execute("step0").status == "completed"
    job = flow.execute("step0", timeout=4.0)
    assert job.status == "failed"
    assert len(timeout_errors(job)) == 1


def test_execute_timeout_can_extend_the_flow_default() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [3.0, 3.0, 3.0], execution_timeout=1.0)
    assert flow.execute("step0", timeout=100.0).status == "completed"


def test_a_job_within_its_timeout_completes() -> None:
    clock = FakeClock()
    flow, routines = chain(clock, [1.0, 1.0, 1.0], execution_timeout=5.0)
    job = flow.execute("step0")
    assert job.status == "completed"
    assert job.errors == []
    assert [r.calls for r in routines] == [1, 1, 1]


def test_each_job_has_its_own_timeout() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [2.0, 2.0], execution_timeout=5.0)
    assert [flow.execute("step0").status for _ in range(4)] == ["completed"] * 4


class AlwaysFails(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("trigger", handler=self.fail)

    def fail(self) -> None:
        self.calls += 1
        raise ConnectionError("still down")


@pytest.mark.timeout(10)
def test_timeout_while_a_retry_waits_fails_the_job() -> None:
    clock = FakeClock()
    flow = Flow(clock=clock, execution_timeout=5.0)
    routine = AlwaysFails()
    routine.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=10.0)
    )
    flow.add_routine(routine, "flaky")
    job = flow.execute("flaky")
    assert job.status == "failed"
    assert len(timeout_errors(job)) == 1
    assert routine.calls == 1


@pytest.mark.timeout(10)
def test_waiting_for_a_retry_never_sleeps_past_the_timeout() -> None:
    clock = FakeClock()
    flow = Flow(clock=clock, execution_timeout=5.0)
    routine = AlwaysFails()
    routine.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=10.0)
    )
    flow.add_routine(routine, "flaky")
    flow.execute("flaky")
    assert sum(clock.sleeps) <= 5.0 + 1e-9


@pytest.mark.timeout(10)
def test_retries_within_the_timeout_still_run() -> None:
    clock = FakeClock()
    flow = Flow(clock=clock, execution_timeout=5.0)
    routine = AlwaysFails()
    routine.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=1.0)
    )
    flow.add_routine(routine, "flaky")
    job = flow.execute("flaky")
    assert routine.calls == 3
    assert clock.sleeps == [1.0, 2.0]
    assert job.status == "completed"
    assert timeout_errors(job) == []


# -- runaway jobs ----------------------------------------------------------------------


class Echo(Routine):
    """Re-emits every message it receives: a cycle never ends."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("trigger", handler=self.echo)
        self.define_slot("input", handler=self.echo)
        self.define_event("out")

    def echo(self, **kwargs: Any) -> None:
        self.calls += 1
        self.emit("out", n=self.calls)


def test_a_self_loop_is_stopped_at_the_delivery_limit() -> None:
    flow = Flow(max_deliveries=10)
    echo = Echo()
    flow.add_routine(echo, "echo")
    flow.connect("echo", "out", "echo", "input")
    job = flow.execute("echo")
    assert job.status == "failed"
    assert echo.calls == 10
    [error] = job.errors
    assert error.error_type == "RunawayJobError"
    assert error.routine_id is None  # A job-level error; the message names the routine.
    assert "limit of 10 deliveries" in error.message
    assert "routine 'echo'" in error.message
    assert "limit of 10 deliveries" in (job.error or "")


def test_a_two_routine_cycle_is_stopped_at_the_delivery_limit() -> None:
    flow = Flow(max_deliveries=7)
    ping, pong = Echo(), Echo()
    flow.add_routine(ping, "ping")
    flow.add_routine(pong, "pong")
    flow.connect("ping", "out", "pong", "input")
    flow.connect("pong", "out", "ping", "input")
    job = flow.execute("ping")
    assert job.status == "failed"
    assert ping.calls + pong.calls == 7
    assert [e.error_type for e in job.errors] == ["RunawayJobError"]


def test_a_job_needing_exactly_the_limit_completes() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [0.0, 0.0, 0.0], max_deliveries=3)
    job = flow.execute("step0")
    assert job.status == "completed"
    assert job.errors == []


def test_the_delivery_limit_is_per_job() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [0.0, 0.0, 0.0], max_deliveries=3)
    assert [flow.execute("step0").status for _ in range(3)] == ["completed"] * 3


def test_a_runaway_job_is_stopped_even_when_errors_are_continued() -> None:
    flow = Flow(max_deliveries=5)
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    echo = Echo()
    flow.add_routine(echo, "echo")
    flow.connect("echo", "out", "echo", "input")
    assert flow.execute("echo").status == "failed"
