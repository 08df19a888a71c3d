"""Pause, resume and cancel act on one job, and lose or repeat no message."""

from __future__ import annotations

import asyncio
import collections
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    JobState,
    JobStatus,
    PendingDelivery,
    Routine,
)

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    """Emits ``out`` once per number in ``range(first, first + n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int, first: int = 0) -> None:
        for i in range(first, first + n):
            self.emit("out", i=i)


class Relay(Routine):
    """Records each number and passes it on.

    The delivery of a number in ``holds`` sets ``started[number]`` and
    blocks on its event; the first delivery of each number in ``pause_at``
    pauses its own job.
    """

    def __init__(
        self,
        *,
        holds: dict[int, threading.Event] | None = None,
        pause_at: frozenset[int] = frozenset(),
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.holds = dict(holds or {})
        self.started = {i: threading.Event() for i in self.holds}
        self.pause_at = set(pause_at)
        self.delay = delay
        self.received: list[int] = []
        self.set_max_concurrency(1)  # The held deliveries come one at a time, in order.
        self.define_slot("input", handler=self.relay)
        self.define_event("out", ["i"])

    def relay(self, i: int) -> None:
        self.received.append(i)
        if i in self.holds:
            self.started[i].set()
            self.holds[i].wait(PATIENCE)
        if self.delay:
            time.sleep(self.delay)  # The work: a delivery still running when control comes.
        if i in self.pause_at:
            self.pause_at.discard(i)
            context = self.get_execution_context()
            assert context is not None
            assert context.flow.pause(context.job_state) is True
        self.emit("out", i=i)


class Sink(Routine):
    """Records every number it receives, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[int] = []
        self._lock = threading.Lock()
        self.define_slot("input", handler=self.take)

    def take(self, i: int) -> None:
        with self._lock:
            self.received.append(i)


def pipeline(flow: Flow, relay: Routine, sink: Sink) -> Flow:
    """source -> relay -> sink."""
    flow.add_routine(Source(), "source")
    flow.add_routine(relay, "relay")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "relay", "input")
    flow.connect("relay", "out", "sink", "input")
    return flow


def waiting_inside(thread: threading.Thread) -> bool:
    """Whether ``thread`` is blocked in a ``threading`` wait (an Event or a Condition)."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        code = frame.f_code
        if code.co_name in {"wait", "wait_for"} and code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


def pause_in_background(flow: Flow, job: JobState) -> tuple[threading.Thread, list[bool]]:
    """Call ``flow.pause(job)`` on another thread; return once it waits or has returned.

    ``pause`` blocks while a delivery of the job runs; the caller releases
    that delivery only after this returns, so the pause is known to have
    landed while the delivery ran.
    """
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(flow.pause(job, PATIENCE)))
    thread.start()
    deadline = time.monotonic() + PATIENCE
    while thread.is_alive() and not waiting_inside(thread) and time.monotonic() < deadline:
        time.sleep(0.001)  # No event says that a thread has reached its wait.
    return thread, result


def held_and_paused(
    make_flow: Callable[..., Flow], gates: Any, strategy: str, n: int = 5
) -> tuple[Flow, JobState, Sink]:
    """A job paused while the relay's first delivery ran; that delivery has finished."""
    hold = gates.new()
    relay, sink = Relay(holds={0: hold}), Sink()
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, sink)
    job = flow.start("source", {"n": n})
    assert relay.started[0].wait(PATIENCE)
    thread, result = pause_in_background(flow, job)
    hold.set()
    thread.join(PATIENCE)
    assert result == [True]
    return flow, job, sink


def assert_each_delivered_once(sink: Sink, n: int) -> None:
    duplicates = [i for i, k in collections.Counter(sink.received).items() if k > 1]
    assert duplicates == []
    assert sorted(sink.received) == list(range(n))


# -- pause ---------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pause_returns_only_once_no_delivery_of_the_job_runs(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    relay = Relay(holds={0: hold})
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, Sink())
    job = flow.start("source", {"n": 3})
    assert relay.started[0].wait(PATIENCE)
    thread, result = pause_in_background(flow, job)
    thread.join(0.2)
    assert thread.is_alive(), "pause returned while a delivery of the job was running"
    hold.set()
    thread.join(PATIENCE)
    assert result == [True]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_paused_job_reports_paused(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    _, job, _ = held_and_paused(make_flow, gates, strategy)
    assert job.status is JobStatus.PAUSED
    assert not job.wait(0.05)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_paused_job_lists_its_pending_deliveries(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    _, job, _ = held_and_paused(make_flow, gates, strategy)
    pending = {(p.routine_id, p.data["i"]) for p in job.pending_deliveries}
    # The relay's other four messages, and the sink's copy of what relay 0 emitted.
    assert pending == {("relay", 1), ("relay", 2), ("relay", 3), ("relay", 4), ("sink", 0)}
    assert len(job.pending_deliveries) == 5


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pending_deliveries_have_distinct_ids_of_their_job(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    _, job, _ = held_and_paused(make_flow, gates, strategy)
    assert all(isinstance(p, PendingDelivery) for p in job.pending_deliveries)
    ids = [p.delivery_id for p in job.pending_deliveries]
    assert len(set(ids)) == len(ids) == 5
    assert all(i.startswith(f"{job.job_id}:") for i in ids)
    assert {(p.slot, p.attempt, p.delay) for p in job.pending_deliveries} == {("input", 1, 0.0)}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_nothing_runs_while_a_job_is_paused(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    _, _, sink = held_and_paused(make_flow, gates, strategy)
    time.sleep(0.1)  # Not a wait: a window in which a delivery must not run.
    assert sink.received == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resume_continues_a_paused_job_to_completion(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    flow, job, sink = held_and_paused(make_flow, gates, strategy)
    assert flow.resume(job) is job
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED
    assert_each_delivered_once(sink, 5)
    assert job.pending_deliveries == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pausing_one_job_leaves_other_jobs_running(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    flow, paused, _ = held_and_paused(make_flow, gates, strategy)
    other = flow.start("source", {"n": 20})
    assert other.wait(PATIENCE)
    assert other.status is JobStatus.COMPLETED
    assert paused.status is JobStatus.PAUSED
    assert flow.resume(paused)
    assert paused.wait(PATIENCE)
    assert paused.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_execute_stays_blocked_while_its_job_is_paused(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    relay, sink = Relay(holds={0: hold}), Sink()
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, sink)
    returned: list[JobState] = []
    caller = threading.Thread(target=lambda: returned.append(flow.execute("source", {"n": 5})))
    caller.start()
    assert relay.started[0].wait(PATIENCE)
    (job,) = flow.get_all_executions()
    pauser, result = pause_in_background(flow, job)
    hold.set()
    pauser.join(PATIENCE)
    assert result == [True]
    caller.join(0.1)
    assert caller.is_alive(), "execute returned while its job was paused"
    assert flow.resume(job)
    caller.join(PATIENCE)
    assert returned == [job]
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pause_during_the_last_delivery_then_resume_completes_the_job(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    # One message: the relay's delivery is the job's last. Paused while it
    # runs, the job has nothing left; resuming it must still end it.
    hold = gates.new()
    relay = Relay(holds={0: hold})
    flow = make_flow(execution_strategy=strategy, max_workers=2)
    flow.add_routine(Source(), "source")
    flow.add_routine(relay, "relay")
    flow.connect("source", "out", "relay", "input")
    job = flow.start("source", {"n": 1})
    assert relay.started[0].wait(PATIENCE)
    thread, result = pause_in_background(flow, job)
    hold.set()
    thread.join(PATIENCE)
    assert result == [True]
    assert flow.resume(job)
    assert job.wait(PATIENCE), f"the resumed job never ended: {job.status}"
    assert job.status is JobStatus.COMPLETED


class Fork(Routine):
    """Emits ``item`` 0 and 1 for the sink, then ``relay`` once."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("item", ["i"])
        self.define_event("relay")

    def send(self) -> None:
        self.emit("item", i=0)
        self.emit("item", i=1)
        self.emit("relay")


class LateItems(Routine):
    """Emits ``block`` (to a routine that blocks), then items 2 and 3 for the sink."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.send)
        self.define_event("block")
        self.define_event("item", ["i"])

    def send(self) -> None:
        self.emit("block")
        self.emit("item", i=2)
        self.emit("item", i=3)


class Blocker(Routine):
    """Signals ``started`` and blocks on ``hold``."""

    def __init__(self, hold: threading.Event) -> None:
        super().__init__()
        self.hold = hold
        self.started = threading.Event()
        self.define_slot("input", handler=self.block)

    def block(self) -> None:
        self.started.set()
        self.hold.wait(PATIENCE)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pause_and_resume_keep_a_routines_arrival_order(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    # "first" (one delivery at a time) gets 0 and 1, then 2 and 3 later.
    # With both workers held (first's delivery of 0, and the blocker),
    # message 1 waits for first's place and messages 2 and 3 wait for a
    # worker when the job is paused. After resume, first must still see
    # them in the order they came: 0, 1, 2, 3.
    hold = gates.new()
    sink_relay = Relay(holds={0: hold})
    blocker = Blocker(hold)
    flow = make_flow(execution_strategy=strategy, max_workers=2)
    flow.add_routine(Fork(), "fork")
    flow.add_routine(LateItems(), "late")
    flow.add_routine(blocker, "blocker")
    flow.add_routine(sink_relay, "first")
    flow.connect("fork", "item", "first", "input")
    flow.connect("fork", "relay", "late", "input")
    flow.connect("late", "block", "blocker", "input")
    flow.connect("late", "item", "first", "input")
    job = flow.start("fork")
    assert sink_relay.started[0].wait(PATIENCE)
    if strategy == "concurrent":
        assert blocker.started.wait(PATIENCE)
    thread, result = pause_in_background(flow, job)
    hold.set()
    thread.join(PATIENCE)
    assert result == [True]
    assert flow.resume(job)
    assert job.wait(PATIENCE)
    assert sink_relay.received == [0, 1, 2, 3]


# -- random pause points ---------------------------------------------------------------


def _pause_and_resume_until_done(flow: Flow, job: JobState, rng: random.Random) -> int:
    """Pause and resume ``job`` at random moments until it ends; return the pauses."""
    pauses = 0
    deadline = time.monotonic() + PATIENCE
    wait = 0.0  # The first pause comes at once, before a fast job can end.
    while not job.wait(wait) and time.monotonic() < deadline:
        wait = rng.uniform(0, 0.004)
        if not flow.pause(job, PATIENCE):
            assert job.is_finished, f"pause failed on a job that is {job.status}"
            break
        assert job.status is JobStatus.PAUSED
        pauses += 1
        time.sleep(rng.uniform(0, 0.002))  # A random time paused: the behaviour under test.
        assert flow.resume(job)
    return pauses


class AsyncRelay(Routine):
    """Passes each number on after a short ``await``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.relay)
        self.define_event("out", ["i"])

    async def relay(self, i: int) -> None:
        await asyncio.sleep(0.0005)
        self.emit("out", i=i)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_pauses_deliver_every_message_exactly_once(
    make_flow: Callable[..., Flow], strategy: str, kind: str, seed: int
) -> None:
    relay = Relay(delay=0.0002) if kind == "sync" else AsyncRelay()
    sink = Sink()
    relay.set_max_concurrency(None)
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, sink)
    job = flow.start("source", {"n": 400})
    pauses = _pause_and_resume_until_done(flow, job, random.Random(seed))
    assert job.wait(PATIENCE), f"job did not end after {pauses} pauses: {job.status}"
    assert job.status is JobStatus.COMPLETED, job.error
    assert_each_delivered_once(sink, 400)
    assert pauses > 0
    assert len(job.execution_history) == 800


def _resume_whenever_paused(flow: Flow, job: JobState) -> int:
    resumes = 0
    deadline = time.monotonic() + PATIENCE
    while not job.wait(0.001) and time.monotonic() < deadline:
        if job.status is JobStatus.PAUSED:
            assert flow.resume(job)
            resumes += 1
    return resumes


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=15, deadline=None)
@given(pause_at=st.frozensets(st.integers(0, 29), max_size=6))
def test_a_handler_pausing_its_own_job_loses_no_message(
    strategy: str, pause_at: frozenset[int]
) -> None:
    relay, sink = Relay(pause_at=pause_at), Sink()
    with Flow(execution_strategy=strategy, max_workers=3) as flow:
        pipeline(flow, relay, sink)
        job = flow.start("source", {"n": 30})
        try:
            resumes = _resume_whenever_paused(flow, job)
            assert job.wait(PATIENCE), f"job did not end: {job.status}"
        finally:
            flow.cancel(job)
    assert job.status is JobStatus.COMPLETED, job.error
    assert_each_delivered_once(sink, 30)
    # Pauses that land while the job is already paused merge into one.
    assert resumes <= len(pause_at)
    assert resumes >= (1 if pause_at else 0)


# -- cancel --------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cancel_ends_the_job_cancelled_and_says_what_it_dropped(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    relay = Relay(holds={0: hold})
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, Sink())
    job = flow.start("source", {"n": 5})
    assert relay.started[0].wait(PATIENCE)
    assert flow.cancel(job) is True
    assert job.status is JobStatus.CANCELLED
    assert job.wait(0)
    # The relay's other four messages were waiting; the running one was not.
    assert job.error == "cancelled (4 pending deliveries dropped)", job.error


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_cancelled_jobs_running_delivery_output_is_discarded(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    relay, sink = Relay(holds={0: hold}), Sink()
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, sink)
    job = flow.start("source", {"n": 5})
    assert relay.started[0].wait(PATIENCE)
    assert flow.cancel(job)
    hold.set()
    flow.shutdown(wait=True)  # Joins the threads: the relay's delivery has returned.
    assert sink.received == []
    assert job.get_execution_history("relay") == []
    assert job.status is JobStatus.CANCELLED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cancel_returns_false_for_a_job_that_has_ended(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = pipeline(make_flow(execution_strategy=strategy), Relay(), Sink())
    job = flow.execute("source", {"n": 3})
    assert job.status is JobStatus.COMPLETED
    assert flow.cancel(job) is False
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cancel_of_a_paused_job_drops_its_pending_deliveries(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    flow, job, sink = held_and_paused(make_flow, gates, strategy)
    assert flow.cancel(job) is True
    assert job.status is JobStatus.CANCELLED
    assert re.search(r"\b5 pending deliveries dropped", job.error or ""), job.error
    assert flow.resume(job) is None
    time.sleep(0.05)  # Not a wait: a window in which a delivery must not run.
    assert sink.received == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cancelling_one_job_leaves_other_jobs_running(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    # Both jobs are held inside the relay when one of them is cancelled.
    doomed_hold, survivor_hold = gates.new(), gates.new()
    relay, sink = Relay(holds={0: doomed_hold, 100: survivor_hold}), Sink()
    relay.set_max_concurrency(None)
    flow = pipeline(make_flow(execution_strategy=strategy, max_workers=4), relay, sink)
    doomed = flow.start("source", {"n": 1})
    survivor = flow.start("source", {"n": 50, "first": 100})
    assert relay.started[0].wait(PATIENCE)
    assert relay.started[100].wait(PATIENCE)
    assert flow.cancel(doomed)
    survivor_hold.set()
    assert survivor.wait(PATIENCE)
    assert survivor.status is JobStatus.COMPLETED
    assert sorted(sink.received) == list(range(100, 150))
    assert doomed.status is JobStatus.CANCELLED


class Failing(Routine):
    """Fails its first attempt of each message, then records it."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.failed = threading.Event()
        self.define_slot("trigger", handler=self.work)

    def work(self) -> None:
        self.attempts += 1
        if self.attempts == 1:
            self.failed.set()
            raise ConnectionError("first attempt")


def waiting_retry(make_flow: Callable[..., Flow], strategy: str) -> tuple[Flow, JobState, Failing]:
    """A job whose only delivery failed and waits 1 s for its retry."""
    failing = Failing()
    failing.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=1.0)
    )
    flow = make_flow(execution_strategy=strategy, max_workers=2)
    flow.add_routine(failing, "failing")
    job = flow.start("failing")
    assert failing.failed.wait(PATIENCE)
    return flow, job, failing


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_retry_waiting_in_a_paused_job_is_listed_with_its_delay(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow, job, _ = waiting_retry(make_flow, strategy)
    assert flow.pause(job, PATIENCE)
    (pending,) = job.pending_deliveries
    assert (pending.routine_id, pending.slot, pending.attempt) == ("failing", "trigger", 2)
    assert 0 < pending.delay <= 1.0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_retry_waiting_in_a_paused_job_runs_after_resume(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow, job, failing = waiting_retry(make_flow, strategy)
    assert flow.pause(job, PATIENCE)
    assert flow.resume(job)
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED
    assert failing.attempts == 2


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_cancel_drops_a_retry_that_is_waiting(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow, job, failing = waiting_retry(make_flow, strategy)
    assert flow.cancel(job)
    assert job.status is JobStatus.CANCELLED
    assert re.search(r"\b1 pending delivery dropped", job.error or ""), job.error
    time.sleep(1.2)  # Not a wait: past the retry's real delay, in which it must not run.
    assert failing.attempts == 1


# -- control of jobs that cannot take it ---------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pause_returns_false_for_a_job_that_has_ended(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = pipeline(make_flow(execution_strategy=strategy), Relay(), Sink())
    job = flow.execute("source", {"n": 3})
    assert flow.pause(job, PATIENCE) is False
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resume_returns_none_for_a_job_that_is_not_paused(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    relay = Relay(holds={0: hold})
    flow = pipeline(make_flow(execution_strategy=strategy), relay, Sink())
    job = flow.start("source", {"n": 2})
    assert relay.started[0].wait(PATIENCE)
    assert flow.resume(job) is None
    hold.set()
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pause_resume_and_cancel_refuse_jobs_of_another_flow(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    _, job, _ = held_and_paused(make_flow, gates, strategy)
    stranger = pipeline(make_flow(execution_strategy=strategy), Relay(), Sink())
    for method in (stranger.pause, stranger.resume, stranger.cancel):
        with pytest.raises(DefinitionError, match=f"belongs to flow {job.flow_id!r}"):
            method(job)
    assert job.status is JobStatus.PAUSED


class TwoTimers(Routine):
    """Sets a timer due in 0.6 s, then one due in 0.3 s; records them as they fire."""

    def __init__(self) -> None:
        super().__init__()
        self.fired: list[str] = []
        self.started = threading.Event()
        self.define_slot("trigger", handler=self.go)
        self.define_slot("fire", handler=self.fire)

    def go(self) -> None:
        self.deliver_later(0.6, "fire", name="later")
        self.deliver_later(0.3, "fire", name="sooner")
        self.started.set()
        time.sleep(0.05)  # The work: the pause comes while this runs.

    def fire(self, name: str) -> None:
        self.fired.append(name)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_timers_due_during_a_pause_run_in_the_order_they_fell_due(strategy: str) -> None:
    flow = Flow(execution_strategy=strategy, max_workers=4)
    routine = TwoTimers()
    flow.add_routine(routine, "t")
    try:
        job = flow.start("t")
        assert routine.started.wait(PATIENCE)
        assert flow.pause(job, timeout=PATIENCE)
        time.sleep(0.9)  # The behaviour: both fall due, on the real clock, while paused.
        assert routine.fired == []
        assert flow.resume(job)
        assert job.wait(PATIENCE)
    finally:
        flow.shutdown()
    assert routine.fired == ["sooner", "later"]
