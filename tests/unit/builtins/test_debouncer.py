"""Debouncer: trailing and leading edges, max_wait, stale timers, config, documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, Flow, JobState, Routine, RoutineStats
from routilux.builtin_routines import Debouncer
from routilux.testing import FakeClock

MakeFlow = Callable[..., Flow]


class Source(Routine):
    """Emits each message of ``messages`` at once, or at fake time ``at`` when given."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.plan)
        self.define_slot("send", handler=self.send)
        self.define_event("output")

    def plan(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if "at" in message:
                self.deliver_later(message["at"], "send", **message)
            else:
                self.emit("output", **message)

    def send(self, **message: Any) -> None:
        message.pop("at")
        self.emit("output", **message)


class Recorder(Routine):
    """Logs each output it receives, with the fake time, in the job's shared log."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.record)

    def record(self, **message: Any) -> None:
        context = self.get_execution_context()
        assert context is not None
        context.job_state.append_to_shared_log({"at": context.flow.clock.monotonic(), **message})


class StaleTick(Source):
    """A Source that also sends a tick of ``kind`` with ``token`` at fake time ``tick_at``.

    The tick stands for a timer that was already firing when it was replaced
    or cancelled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("stale", handler=self.stale)
        self.define_event("tick", ["kind", "token"])

    def plan(
        self, messages: list[dict[str, Any]], tick_at: float = 0, kind: str = "", token: int = 0
    ) -> None:
        super().plan(messages)
        self.deliver_later(tick_at, "stale", kind=kind, token=token)

    def stale(self, kind: str, token: int) -> None:
        self.emit("tick", kind=kind, token=token)


class TimerCountingDebouncer(Debouncer):
    """A Debouncer that notes how many of its timers are pending at each of its deliveries."""

    def __init__(self) -> None:
        super().__init__()
        self.pending_timers: list[int] = []

    def _note(self) -> None:
        context = self.get_execution_context()
        assert context is not None
        timers = context.job_state.routine_timers(context.routine_id)
        self.pending_timers.append(len(timers))

    def receive(self, **message: Any) -> None:
        self._note()
        super().receive(**message)

    def tick(self, kind: str, token: int) -> None:
        self._note()
        super().tick(kind, token)


@pytest.fixture(params=["sequential", "concurrent"])
def make_flow(request: pytest.FixtureRequest) -> Iterator[MakeFlow]:
    flows: list[Flow] = []

    def make(**options: Any) -> Flow:
        flow = Flow(execution_strategy=request.param, clock=FakeClock(), **options)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown()


def debouncing(
    flow: Flow, debouncer: Debouncer | None = None, source: Source | None = None, **config: Any
) -> Debouncer:
    """Source -> Debouncer -> Recorder, with ``config`` on the debouncer."""
    debouncer = Debouncer() if debouncer is None else debouncer
    debouncer.set_config(**config)
    flow.add_routine(Source() if source is None else source, "source")
    flow.add_routine(debouncer, "debouncer")
    flow.add_routine(Recorder(), "recorder")
    flow.connect("source", "output", "debouncer", "input")
    flow.connect("debouncer", "output", "recorder", "input")
    return debouncer


def at(*times: float) -> list[dict[str, Any]]:
    """One message per time, its data naming the time: ``{"data": "m1.5", "at": 1.5}``."""
    return [{"data": f"m{t:g}", "at": t} for t in times]


def emitted(job: JobState) -> list[tuple[float, Any, int, str]]:
    return [(e["at"], e["data"], e["count"], e["reason"]) for e in job.get_shared_log()]


# -- trailing edge --------------------------------------------------------------------------


def test_a_burst_emits_its_last_message_once_quiet_for_wait(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2)
    job = flow.execute("source", {"messages": at(0, 1, 1.5)})
    assert job.status == "completed"
    assert emitted(job) == [(3.5, "m1.5", 3, "trailing")]


def test_each_burst_is_emitted_on_its_own(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2)
    job = flow.execute("source", {"messages": at(0, 1, 5, 6.5)})
    assert emitted(job) == [(3.0, "m1", 2, "trailing"), (8.5, "m6.5", 2, "trailing")]


def test_a_single_message_is_emitted_after_wait(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=0.5)
    job = flow.execute("source", {"messages": at(3)})
    assert emitted(job) == [(3.5, "m3", 1, "trailing")]


def test_no_message_emits_nothing(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=1)
    job = flow.execute("source", {"messages": []})
    assert job.status == "completed"
    assert emitted(job) == []


def test_none_data_and_a_message_without_data_are_passed_on(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=1)
    messages = [{"data": None, "at": 0}, {"word": "Grüße", "at": 5}]
    job = flow.execute("source", {"messages": messages})
    assert emitted(job) == [(1.0, None, 1, "trailing"), (6.0, {"word": "Grüße"}, 1, "trailing")]


def test_a_huge_burst_is_one_emit_counting_every_message() -> None:
    flow = Flow(clock=FakeClock())
    debouncing(flow, wait=1)
    job = flow.execute("source", {"messages": [{"data": n} for n in range(10_000)]})
    assert emitted(job) == [(1.0, 9999, 10_000, "trailing")]


def test_jobs_that_run_at_once_debounce_apart() -> None:
    with Flow(execution_strategy="concurrent", clock=FakeClock()) as flow:
        debouncing(flow, wait=2)
        first = flow.start("source", {"messages": [{"data": "a", "at": 1}, {"data": "A", "at": 2}]})
        second = flow.start("source", {"messages": [{"data": "b", "at": 1.5}]})
        assert first.wait(10)
        assert second.wait(10)
    # The jobs share the fake clock, so only what each emitted is compared.
    assert [e[1:] for e in emitted(first)] == [("A", 2, "trailing")]
    assert [e[1:] for e in emitted(second)] == [("b", 1, "trailing")]


# -- leading edge ---------------------------------------------------------------------------


def test_leading_only_emits_the_first_message_of_each_burst_at_once(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2, leading=True, trailing=False)
    job = flow.execute("source", {"messages": at(0, 1, 1.5, 5)})
    assert emitted(job) == [(0.0, "m0", 1, "leading"), (5.0, "m5", 1, "leading")]


def test_leading_and_trailing_emit_a_lone_message_once(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2, leading=True)
    job = flow.execute("source", {"messages": at(1)})
    assert emitted(job) == [(1.0, "m1", 1, "leading")]


def test_leading_and_trailing_emit_both_ends_of_a_burst(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2, leading=True)
    job = flow.execute("source", {"messages": at(0, 1, 1.5)})
    assert emitted(job) == [(0.0, "m0", 1, "leading"), (3.5, "m1.5", 2, "trailing")]


# -- max_wait -------------------------------------------------------------------------------


def test_max_wait_lets_a_continuous_burst_through_at_intervals(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2, max_wait=4)
    job = flow.execute("source", {"messages": at(0, 1.5, 3, 4.5, 6, 7.5, 9)})
    assert emitted(job) == [
        (4.0, "m3", 3, "max_wait"),
        (8.5, "m7.5", 3, "max_wait"),
        (11.0, "m9", 1, "trailing"),
    ]


def test_a_burst_shorter_than_max_wait_ends_on_its_trailing_edge(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=1, max_wait=3)
    job = flow.execute("source", {"messages": at(0, 0.5, 2, 2.5)})
    # The first burst's max_wait timer (due at 3) was cancelled when it ended.
    assert emitted(job) == [(1.5, "m0.5", 2, "trailing"), (3.5, "m2.5", 2, "trailing")]


def test_max_wait_with_leading_only_passes_on_the_latest_message(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncing(flow, wait=2, leading=True, trailing=False, max_wait=3)
    job = flow.execute("source", {"messages": at(0, 1, 2, 2.5)})
    assert emitted(job) == [(0.0, "m0", 1, "leading"), (4.0, "m2.5", 3, "max_wait")]


# -- timers ---------------------------------------------------------------------------------


def test_a_burst_keeps_one_pending_timer_and_ends_wait_after_its_last_message(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    debouncer = debouncing(flow, TimerCountingDebouncer(), wait=1)
    job = flow.execute("source", {"messages": at(0, 0.5, 1, 1.25, 2)})
    assert job.status == "completed"
    assert emitted(job) == [(3.0, "m2", 5, "trailing")]
    assert flow.clock.monotonic() == 3.0
    # Each message replaced the quiet timer of the one before: one was pending
    # at every delivery after the first, and only the last one fired.
    assert isinstance(debouncer, TimerCountingDebouncer)
    assert debouncer.pending_timers == [0, 1, 1, 1, 1, 1]
    assert job.routine_stats("debouncer") == RoutineStats(deliveries=6)  # Five messages, one tick.
    assert job.routine_timers("debouncer") == {}


def test_the_end_of_a_burst_cancels_its_max_wait_timer(make_flow: MakeFlow) -> None:
    flow = make_flow()
    debouncer = debouncing(flow, TimerCountingDebouncer(), wait=1, max_wait=100)
    job = flow.execute("source", {"messages": at(0, 0.5)})
    assert job.status == "completed"
    assert emitted(job) == [(1.5, "m0.5", 2, "trailing")]
    assert flow.clock.monotonic() == 1.5  # Not 100: the max_wait timer did not linger.
    assert isinstance(debouncer, TimerCountingDebouncer)
    assert debouncer.pending_timers == [0, 2, 2]  # At most a quiet and a max_wait timer.
    assert job.routine_timers("debouncer") == {}


# A watchdog, not a measurement: a job that waited for its 30 s timer fails here.
@pytest.mark.timeout(20)
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_on_the_real_clock_a_job_ends_once_its_last_burst_has(strategy: str) -> None:
    flow = Flow(execution_strategy=strategy)
    debouncing(flow, wait=0.05, max_wait=30)
    try:
        job = flow.execute("source", {"messages": [{"data": n} for n in range(3)]})
    finally:
        flow.shutdown()
    assert job.status == "completed"
    assert [e[1:] for e in emitted(job)] == [(2, 3, "trailing")]
    assert job.routine_timers("debouncer") == {}
    # Three messages and the quiet tick: the max_wait timer never fired.
    assert job.routine_stats("debouncer") == RoutineStats(deliveries=4)


@pytest.mark.parametrize(
    ("kind", "token"),
    [("quiet", 1), ("max_wait", 0)],
    ids=["replaced-quiet", "cancelled-max_wait"],
)
def test_a_tick_of_a_replaced_or_cancelled_timer_does_nothing(
    make_flow: MakeFlow, kind: str, token: int
) -> None:
    flow = make_flow()
    debouncing(flow, source=StaleTick(), wait=2, max_wait=3)
    flow.connect("source", "tick", "debouncer", "tick")
    # At 5, in the burst's second max_wait window, a tick of the quiet timer of
    # its first message (token 1), or of the first window's max_wait timer
    # (token 0), as if it fired just as it was replaced or cancelled.
    messages = at(0, 1.5, 2.75, 4.5, 6)
    job = flow.execute("source", {"messages": messages, "tick_at": 5, "kind": kind, "token": token})
    assert job.status == "completed"
    assert emitted(job) == [(3.0, "m2.75", 3, "max_wait"), (7.5, "m6", 2, "max_wait")]
    assert job.routine_timers("debouncer") == {}


# -- the timer slot -------------------------------------------------------------------------


@pytest.mark.parametrize("message", [{"kind": "soon", "token": 1}, {"kind": "quiet", "token": "1"}])
def test_a_bad_timer_message_fails_the_delivery(
    make_flow: MakeFlow, message: dict[str, Any]
) -> None:
    flow = make_flow()
    debouncing(flow, wait=1)
    flow.connect("source", "output", "debouncer", "tick")
    job = flow.execute("source", {"messages": [message]})
    assert job.status == "failed"
    assert [e.slot for e in job.errors] == ["tick"]
    assert "its own timer" in job.errors[0].message


# -- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"wait": 0}, r"wait must be a positive number of seconds, not 0\."),
        ({"wait": -2}, "wait must be a positive number"),
        ({"wait": float("inf")}, "wait must be a positive number"),
        ({"wait": "1"}, "wait must be a positive number"),
        ({"leading": "yes"}, "leading must be True or False, not 'yes'"),
        ({"trailing": None}, "trailing must be True or False, not None"),
        ({"leading": False, "trailing": False}, "trailing must be True when leading is False"),
        ({"max_wait": 0}, "max_wait must be a positive number"),
        ({"max_wait": True}, "max_wait must be a positive number"),
        ({"wait": 2, "max_wait": 1}, r"max_wait must be at least wait \(2\), or None, not 1\."),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=rf"^Debouncer {message}"):
        Debouncer().set_config(**config)


def test_a_debouncer_without_wait_is_refused_before_the_job_starts() -> None:
    flow = Flow()
    debouncing(flow)
    with pytest.raises(DefinitionError, match=r"'debouncer' is not ready.*needs wait"):
        flow.execute("source", {"messages": []})


def test_more_than_one_delivery_at_a_time_is_refused_before_the_job_starts() -> None:
    flow = Flow()
    debouncing(flow, wait=1).set_max_concurrency(2)
    with pytest.raises(DefinitionError, match=r"one delivery at a time.*not 2"):
        flow.execute("source", {"messages": []})


# -- documents ------------------------------------------------------------------------------

REGISTRY = {"DebouncerTestSource": Source, "DebouncerTestRecorder": Recorder}


def test_a_flow_document_round_trips_and_the_rebuilt_flow_debounces_alike(
    make_flow: MakeFlow,
) -> None:
    flow = make_flow()
    debouncing(flow, wait=1.5, leading=True, max_wait=5)
    document = flow.serialize(registry=REGISTRY)
    rebuilt = Flow(clock=FakeClock()).deserialize(document, registry=REGISTRY)
    try:
        assert rebuilt.serialize(registry=REGISTRY) == document
        messages = at(0, 1, 2, 3, 4, 5, 5.5, 6.25, 10)
        original = flow.execute("source", {"messages": messages})
        again = rebuilt.execute("source", {"messages": messages})
    finally:
        rebuilt.shutdown()
    expected = [
        (0.0, "m0", 1, "leading"),
        (6.0, "m5.5", 6, "max_wait"),
        (7.75, "m6.25", 1, "trailing"),
        (10.0, "m10", 1, "leading"),
    ]
    assert emitted(again) == emitted(original) == expected
