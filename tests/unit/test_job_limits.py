"""Job limits: the timeout and the delivery limit that stops runaway flows."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
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
    # Its retries spent, the delivery stops the job: no timeout came first.
    assert job.status == "failed"
    assert [e.action for e in job.errors] == ["retry", "retry", "stop"]
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


# -- hops ------------------------------------------------------------------------------


def loop_of(*ids: str, **flow_kwargs: Any) -> tuple[Flow, list[Echo]]:
    """Echo routines connected in a ring, in order: ids[0] -> ids[1] -> ... -> ids[0]."""
    flow = Flow(**flow_kwargs)
    echoes = [Echo() for _ in ids]
    for rid, echo in zip(ids, echoes, strict=True):
        flow.add_routine(echo, rid)
    for i, rid in enumerate(ids):
        flow.connect(rid, "out", ids[(i + 1) % len(ids)], "input")
    return flow, echoes


def test_the_runaway_limits_are_hops_by_default_not_deliveries() -> None:
    flow = Flow()
    assert (flow.max_hops, flow.max_deliveries) == (10_000, None)


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_self_loop_fails_as_a_runaway_past_max_hops(strategy: str) -> None:
    flow, [echo] = loop_of("echo", max_hops=50, execution_strategy=strategy)
    job = flow.execute("echo")
    assert job.status == "failed"
    # Hops 0 (the entry delivery) to 50 ran; the delivery at hop 51 did not.
    assert echo.calls == 51
    [error] = job.errors
    assert error.error_type == "RunawayJobError"
    assert "limit of 50 hops" in error.message
    assert "'echo' -> 'echo'" in error.message
    [pending] = job.pending_deliveries
    assert (pending.routine_id, pending.slot, pending.hops) == ("echo", "input", 51)


def test_the_runaway_error_names_the_routines_of_the_cycle() -> None:
    flow, _ = loop_of("a", "b", "c", max_hops=30)
    flow.add_routine(Echo(), "outside")
    flow.connect("a", "out", "outside", "input")
    job = flow.execute("a")
    assert job.status == "failed"
    message = job.errors[-1].message
    # 'a' runs at hops 0, 3, ... 30, and sends 'b' a delivery at hop 31.
    assert "routine 'a' sent a delivery to 'b'.'input' at hop 31" in message
    assert "the flow has a cycle: 'a' -> 'b' -> 'c' -> 'a'" in message
    assert "'outside'" not in message
    assert len(job.pending_deliveries) == 2  # To 'b' and to 'outside'.


def test_many_deliveries_over_few_hops_are_no_runaway() -> None:
    clock = FakeClock()
    flow = Flow(clock=clock, max_hops=2)
    source, first, second = Slow(clock, 0.0, fan=3_000), Slow(clock, 0.0), Slow(clock, 0.0)
    for rid, routine in (("source", source), ("first", first), ("second", second)):
        flow.add_routine(routine, rid)
    flow.connect("source", "out", "first", "input")
    flow.connect("first", "out", "second", "input")
    job = flow.execute("source")
    assert job.status == "completed"
    assert (first.calls, second.calls) == (3_000, 3_000)


def test_a_chain_of_exactly_max_hops_completes_and_one_more_fails() -> None:
    clock = FakeClock()
    flow, _ = chain(clock, [0.0] * 4, max_hops=3)
    assert flow.execute("step0").status == "completed"
    flow, routines = chain(clock, [0.0] * 5, max_hops=3)
    job = flow.execute("step0")
    assert job.status == "failed"
    assert [r.calls for r in routines] == [1, 1, 1, 1, 0]
    assert "no connection leads from 'step4' back to 'step3'" in job.errors[-1].message


class Ticker(Routine):
    """Schedules a delivery to itself every second, for ever."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.define_slot("trigger", handler=self.tick)
        self.define_slot("tick", handler=self.tick)

    def tick(self) -> None:
        self.ticks += 1
        self.deliver_later(1.0, "tick")


def test_a_delivery_scheduled_for_later_is_one_hop_further() -> None:
    flow = Flow(clock=FakeClock(), max_hops=20)
    ticker = Ticker()
    flow.add_routine(ticker, "ticker")
    job = flow.execute("ticker")
    assert job.status == "failed"
    assert ticker.ticks == 21
    assert "'ticker' -> 'ticker'" in job.errors[-1].message


class FlakyStep(Slow):
    """A chain step whose first delivery fails once."""

    def work(self, **kwargs: Any) -> None:
        if self.calls == 0:
            self.calls += 1
            raise ConnectionError("once")
        super().work(**kwargs)


def test_a_retry_keeps_the_hops_of_its_delivery() -> None:
    clock = FakeClock()
    flow = Flow(clock=clock, max_hops=2)
    steps = [Slow(clock, 0.0), FlakyStep(clock, 0.0), Slow(clock, 0.0)]
    for i, step in enumerate(steps):
        flow.add_routine(step, f"step{i}")
    flow.connect("step0", "out", "step1", "input")
    flow.connect("step1", "out", "step2", "input")
    steps[1].set_error_handler(ErrorHandler(strategy=ErrorStrategy.RETRY, retry_delay=1.0))
    job = flow.execute("step0")
    # A retry at hop 2 would have sent step2 a delivery at hop 3.
    assert job.status == "completed"
    assert steps[2].calls == 1


class Drainer(Routine):
    """Sends its sink one message every time the job goes idle: drain rounds for ever."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0
        self.define_slot("trigger", handler=self.start)
        self.define_event("out")

    def start(self) -> None:
        pass

    def on_drain(self) -> None:
        self.rounds += 1
        self.emit("out", n=self.rounds)


def test_drain_rounds_that_always_add_work_end_as_a_runaway() -> None:
    flow = Flow(max_hops=5)
    drainer = Drainer()
    flow.add_routine(drainer, "drainer")
    flow.add_routine(Echo(), "sink")
    flow.connect("drainer", "out", "sink", "input")
    job = flow.execute("drainer")
    assert job.status == "failed"
    assert job.errors[-1].error_type == "RunawayJobError"
    assert drainer.rounds == 6  # Rounds at hops 0 to 5; the sink's delivery of round 6 is past.


@pytest.mark.parametrize("value", [0, -1, 1.5, None, True])
def test_a_bad_max_hops_is_refused(value: object) -> None:
    with pytest.raises(DefinitionError, match="max_hops"):
        Flow(max_hops=value)  # type: ignore[arg-type]
