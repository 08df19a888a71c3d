"""Event hooks see each job and delivery event, in order, under both strategies."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, JobStatus, Routine
from routilux.hooks import DeliveryEvent, EmitEvent, Hooks, JobEvent
from routilux.testing import FakeClock

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]

Event = JobEvent | DeliveryEvent | EmitEvent


class Recorder(Hooks):
    """Records every event as ``(method, event)``; ``ended`` is set by ``job_ended``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []
        self.ended = threading.Event()
        self._lock = threading.Lock()

    def _note(self, method: str, event: Event) -> None:
        with self._lock:
            self.events.append((method, event))

    def job_started(self, event: JobEvent) -> None:
        self._note("job_started", event)

    def job_paused(self, event: JobEvent) -> None:
        self._note("job_paused", event)

    def job_resumed(self, event: JobEvent) -> None:
        self._note("job_resumed", event)

    def job_ended(self, event: JobEvent) -> None:
        self._note("job_ended", event)
        self.ended.set()

    def delivery_started(self, event: DeliveryEvent) -> None:
        self._note("delivery_started", event)

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        self._note("delivery_succeeded", event)

    def delivery_failed(self, event: DeliveryEvent) -> None:
        self._note("delivery_failed", event)

    def delivery_retried(self, event: DeliveryEvent) -> None:
        self._note("delivery_retried", event)

    def delivery_skipped(self, event: DeliveryEvent) -> None:
        self._note("delivery_skipped", event)

    def delivery_dead_lettered(self, event: DeliveryEvent) -> None:
        self._note("delivery_dead_lettered", event)

    def emitted(self, event: EmitEvent) -> None:
        self._note("emitted", event)

    def wait_ended(self) -> list[tuple[str, Event]]:
        assert self.ended.wait(PATIENCE), "job_ended never came"
        with self._lock:
            return list(self.events)


def brief(events: list[tuple[str, Event]]) -> list[tuple[str, ...]]:
    """Each event as ``(method, routine or status, ...)``, for comparing orders."""
    out: list[tuple[str, ...]] = []
    for method, event in events:
        if isinstance(event, JobEvent):
            out.append((method, event.status))
        elif isinstance(event, EmitEvent):
            out.append((method, event.routine_id, event.event_name, *event.target_routine_ids))
        else:
            out.append((method, event.routine_id, str(event.attempt)))
    return out


class Split(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 1) -> None:
        self.emit("out", n=n)


class Step(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int) -> None:
        self.emit("out", n=n + 1)


class Join(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.define_slot("input", handler=self.go)

    def go(self, n: int) -> None:
        self.seen.append(n)


class Flaky(Routine):
    """Raises on its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"call {self.calls}")
        self.emit("out", n=n)


def fan_flow(make_flow: Callable[..., Flow], strategy: str) -> Flow:
    flow = make_flow(flow_id="fan", execution_strategy=strategy)
    flow.add_routine(Split(), "split")
    flow.add_routine(Step(), "a")
    flow.add_routine(Step(), "b")
    flow.add_routine(Join(), "join")
    flow.connect("split", "out", "a", "input")
    flow.connect("split", "out", "b", "input")
    flow.connect("a", "out", "join", "input")
    flow.connect("b", "out", "join", "input")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fan_out_fan_in_events(make_flow: Callable[..., Flow], strategy: str) -> None:
    flow = fan_flow(make_flow, strategy)
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("split", {"n": 1})
    assert job.status is JobStatus.COMPLETED
    events = recorder.wait_ended()
    short = brief(events)
    assert short[0] == ("job_started", "running")
    assert short[-1] == ("job_ended", "completed")
    assert short[1:4] == [
        ("delivery_started", "split", "1"),
        ("emitted", "split", "out", "a", "b"),
        ("delivery_succeeded", "split", "1"),
    ]
    per_routine = {
        rid: [m for m, e in events if isinstance(e, DeliveryEvent) and e.routine_id == rid]
        for rid in ("a", "b")
    }
    assert per_routine == {rid: ["delivery_started", "delivery_succeeded"] for rid in ("a", "b")}
    joins = [s for s in short if s[1:2] == ("join",)]
    assert joins.count(("delivery_succeeded", "join", "1")) == 2
    # A delivery starts only after the delivery that emitted it succeeded.
    for rid in ("a", "b"):
        succeeded = short.index(("delivery_succeeded", rid, "1"))
        emitted = short.index(("emitted", rid, "out", "join"))
        assert emitted < succeeded
    assert short.index(("delivery_started", "join", "1")) > short.index(
        ("emitted", "a", "out", "join")
    ) or short.index(("delivery_started", "join", "1")) > short.index(
        ("emitted", "b", "out", "join")
    )
    every = [e for _, e in events]
    assert {e.job_id for e in every} == {job.job_id}
    assert {e.flow_id for e in every} == {"fan"}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_delivery_event_fields(make_flow: Callable[..., Flow], strategy: str) -> None:
    flow = fan_flow(make_flow, strategy)
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("split")
    events = recorder.wait_ended()
    first = next(e for m, e in events if m == "delivery_succeeded")
    assert isinstance(first, DeliveryEvent)
    assert (first.routine_id, first.slot, first.delivery_id) == (
        "split",
        "trigger",
        f"{job.job_id}:1",
    )
    assert first.duration is not None
    assert first.duration >= 0
    emit = next(e for m, e in events if m == "emitted")
    assert isinstance(emit, EmitEvent)
    assert emit.delivery_id == first.delivery_id
    with pytest.raises(AttributeError):
        first.attempt = 2  # type: ignore[misc]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_failing_then_retried_delivery(make_flow: Callable[..., Flow], strategy: str) -> None:
    flow = make_flow(execution_strategy=strategy, clock=FakeClock())
    flaky = Flaky(failures=2)
    flaky.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=100)
    )
    flow.add_routine(flaky, "flaky")
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("flaky")
    assert job.status is JobStatus.COMPLETED
    events = recorder.wait_ended()
    assert brief(events) == [
        ("job_started", "running"),
        ("delivery_started", "flaky", "1"),
        ("delivery_failed", "flaky", "1"),
        ("delivery_retried", "flaky", "1"),
        ("delivery_started", "flaky", "2"),
        ("delivery_failed", "flaky", "2"),
        ("delivery_retried", "flaky", "2"),
        ("delivery_started", "flaky", "3"),
        ("emitted", "flaky", "out"),
        ("delivery_succeeded", "flaky", "3"),
        ("job_ended", "completed"),
    ]
    failed = [e for m, e in events if m == "delivery_failed"]
    assert [(e.error_type, e.error) for e in failed if isinstance(e, DeliveryEvent)] == [
        ("ConnectionError", "call 1"),
        ("ConnectionError", "call 2"),
    ]
    retried = [e for m, e in events if m == "delivery_retried"]
    delays = [e.retry_delay for e in retried if isinstance(e, DeliveryEvent)]
    assert delays == [100.0, 100.0 * ErrorHandler().retry_backoff]
    ids = {e.delivery_id for _, e in events if isinstance(e, DeliveryEvent)}
    assert ids == {f"{job.job_id}:1"}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_skip_and_dead_letter(make_flow: Callable[..., Flow], strategy: str) -> None:
    flow = make_flow(execution_strategy=strategy)
    flaky = Flaky(failures=1)
    flaky.set_error_handler(ErrorHandler(strategy=ErrorStrategy.SKIP))
    flow.add_routine(flaky, "flaky")
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("flaky")
    assert job.status is JobStatus.COMPLETED
    assert brief(recorder.wait_ended()) == [
        ("job_started", "running"),
        ("delivery_started", "flaky", "1"),
        ("delivery_failed", "flaky", "1"),
        ("delivery_skipped", "flaky", "1"),
        ("delivery_dead_lettered", "flaky", "1"),
        ("job_ended", "completed"),
    ]
    assert len(job.dead_letters) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_stopping_failure_is_dead_lettered_and_ends_the_job(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = make_flow(execution_strategy=strategy)
    flow.add_routine(Flaky(failures=1), "flaky")
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("flaky")
    assert job.status is JobStatus.FAILED
    events = recorder.wait_ended()
    assert brief(events)[2:] == [
        ("delivery_failed", "flaky", "1"),
        ("delivery_dead_lettered", "flaky", "1"),
        ("job_ended", "failed"),
    ]
    ended = events[-1][1]
    assert isinstance(ended, JobEvent)
    assert ended.error
    assert "call 1" in ended.error


class Held(Routine):
    """Blocks on ``gate`` until the test opens it."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate
        self.started = threading.Event()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, **_: Any) -> None:
        self.started.set()
        self.gate.wait(PATIENCE)
        self.emit("out", n=1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pause_resume_and_cancel(make_flow: Callable[..., Flow], strategy: str) -> None:
    gate = threading.Event()
    flow = make_flow(execution_strategy=strategy)
    held = Held(gate)
    flow.add_routine(held, "held")
    flow.add_routine(Join(), "join")
    flow.connect("held", "out", "join", "input")
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.start("held")
    assert held.started.wait(PATIENCE)
    pausing = threading.Thread(target=flow.pause, args=(job,))
    pausing.start()
    gate.set()
    pausing.join(PATIENCE)
    assert job.status is JobStatus.PAUSED
    assert flow.resume(job)
    assert job.wait(PATIENCE)
    events = recorder.wait_ended()
    methods = [m for m, _ in events]
    assert methods.index("job_paused") < methods.index("job_resumed") < methods.index("job_ended")
    assert [e.status for m, e in events if m == "job_paused"] == ["paused"]  # type: ignore[union-attr]

    gate2 = threading.Event()
    flow2 = make_flow(execution_strategy=strategy)
    held2 = Held(gate2)
    flow2.add_routine(held2, "held")
    recorder2 = Recorder()
    flow2.add_hooks(recorder2)
    job2 = flow2.start("held")
    assert held2.started.wait(PATIENCE)
    assert flow2.cancel(job2)
    gate2.set()
    ended = recorder2.wait_ended()[-1][1]
    assert isinstance(ended, JobEvent)
    assert ended.status == "cancelled"


class AsyncStep(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)
        self.define_event("out", ["n"])

    async def go(self, n: int) -> None:
        self.emit("out", n=n)
        await asyncio.sleep(0)
        self.emit("out", n=n + 1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_async_handler_reports_its_emits_and_success(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = make_flow(execution_strategy=strategy)
    flow.add_routine(Split(), "split")
    flow.add_routine(AsyncStep(), "step")
    flow.add_routine(Join(), "join")
    flow.connect("split", "out", "step", "input")
    flow.connect("step", "out", "join", "input")
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("split")
    assert job.status is JobStatus.COMPLETED
    short = [s for s in brief(recorder.wait_ended()) if s[1:2] == ("step",)]
    assert short == [
        ("delivery_started", "step", "1"),
        ("emitted", "step", "out", "join"),
        ("emitted", "step", "out", "join"),
        ("delivery_succeeded", "step", "1"),
    ]


class Slow(Routine):
    """Runs past its timeout on its first call."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate
        self.calls = 0
        self.returned = threading.Event()
        self.define_slot("trigger", handler=self.go)

    def go(self, **_: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            self.gate.wait(PATIENCE)
            self.returned.set()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_handler_past_its_timeout_is_told_as_failed_only(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    gate = threading.Event()
    flow = make_flow(execution_strategy=strategy)
    slow = Slow(gate)
    slow.set_timeout(0.05)
    slow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.RETRY, retry_delay=0.0))
    flow.add_routine(slow, "slow")
    recorder = Recorder()
    flow.add_hooks(recorder)
    job = flow.execute("slow")
    assert job.status is JobStatus.COMPLETED
    gate.set()
    assert slow.returned.wait(PATIENCE)
    time.sleep(0.1)  # The late return of attempt 1 has been through the hooks' wrapper.
    first = [
        (m, e.attempt)
        for m, e in recorder.events
        if isinstance(e, DeliveryEvent) and e.job_id == job.job_id
    ]
    assert first == [
        ("delivery_started", 1),
        ("delivery_failed", 1),
        ("delivery_retried", 1),
        ("delivery_started", 2),
        ("delivery_succeeded", 2),
    ]


def test_a_job_taken_up_from_its_document_is_told_as_resumed(
    make_flow: Callable[..., Flow],
) -> None:
    def build() -> tuple[Flow, Held]:
        flow = make_flow(flow_id="held")
        held = Held(gate)
        flow.add_routine(held, "held")
        flow.add_routine(Join(), "join")
        flow.connect("held", "out", "join", "input")
        return flow, held

    gate = threading.Event()
    flow, held = build()
    job = flow.start("held")
    assert held.started.wait(PATIENCE)
    threading.Timer(0.05, gate.set).start()
    assert flow.pause(job, timeout=PATIENCE)
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job, "moved elsewhere")
    other, _ = build()
    recorder = Recorder()
    other.add_hooks(recorder)
    assert other.resume(copy, wait=True) is copy
    assert brief(recorder.wait_ended()) == [
        ("job_resumed", "running"),
        ("delivery_started", "join", "1"),
        ("delivery_succeeded", "join", "1"),
        ("job_ended", "completed"),
    ]


def test_a_pending_retry_taken_up_elsewhere_keeps_its_attempt_number(
    make_flow: Callable[..., Flow],
) -> None:
    def build(failures: int) -> Flow:
        flow = make_flow(flow_id="retrying")
        flaky = Flaky(failures=failures)
        # Long enough for the test to pause the job before the retry runs.
        flaky.set_error_handler(
            ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=1.5)
        )
        flow.add_routine(flaky, "flaky")
        return flow

    flow = build(failures=1)
    job = flow.start("flaky")
    deadline = time.monotonic() + PATIENCE
    while not job.errors:  # The first attempt failed: its retry waits 1.5 s.
        assert time.monotonic() < deadline, "the first attempt never failed"
        time.sleep(0.005)  # Polling: no event for the error record itself.
    assert flow.pause(job, timeout=PATIENCE)
    copy = JobState.deserialize(job.serialize())
    assert [p.attempt for p in copy.pending_deliveries] == [2]
    flow.cancel(job, "moved elsewhere")
    other = build(failures=0)
    recorder = Recorder()
    other.add_hooks(recorder)
    assert other.resume(copy) is copy  # The retry runs once what was left of its delay passed.
    assert copy.wait(PATIENCE)
    events = recorder.wait_ended()
    started = [e for m, e in events if m == "delivery_started"]
    assert [(e.attempt, e.delivery_id) for e in started if isinstance(e, DeliveryEvent)] == [
        (2, f"{copy.job_id}:1")
    ]
