"""Job values and named timers: staged with the delivery, kept per job, durable."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    ExecutionError,
    Flow,
    JobState,
    Routine,
    StoreError,
)
from routilux.stores import MemoryStore
from routilux.testing import FakeClock

STRATEGIES = ["sequential", "concurrent"]


class Counter(Routine):
    """Counts messages in a job value; fails once on the value in ``fail_once``."""

    def __init__(self, fail_once: int | None = None) -> None:
        super().__init__()
        self.fail_once = fail_once
        self.set_max_concurrency(1)  # Reads, then writes, its job value.
        self.define_slot("input", handler=self.count)
        self.define_event("total", ["n"])

    def count(self, i: int) -> None:
        self.set_job_value("seen", self.get_job_value("seen", 0) + 1)
        if i == self.fail_once:
            self.fail_once = None
            raise ValueError("once")

    def on_drain(self) -> None:
        if not self.get_job_value("reported", False):
            self.set_job_value("reported", True)
            self.emit("total", n=self.get_job_value("seen", 0))


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["i"])

    def go(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.take)

    def take(self, **message: Any) -> None:
        self.got.append(message)


class Quiet(Routine):
    """Emits ``done`` once no message came for ``wait`` seconds (a named timer)."""

    def __init__(self, wait: float, cancel_on: int | None = None) -> None:
        super().__init__()
        self.wait = wait
        self.cancel_on = cancel_on
        self.set_max_concurrency(1)  # Its timer stands for the last message: one at a time.
        self.define_slot("input", handler=self.take)
        self.define_slot("tick", handler=self.tick)
        self.define_event("done", ["last"])

    def take(self, i: int) -> None:
        self.set_job_value("last", i)
        if i == self.cancel_on:
            self.cancel_timer("quiet")
        else:
            self.set_timer("quiet", self.wait, "tick", last=i)

    def tick(self, last: int) -> None:
        self.emit("done", last=last)


def chain(strategy: str, middle: Routine, **options: Any) -> tuple[Flow, Sink]:
    flow = Flow(execution_strategy=strategy, **options)
    sink = Sink()
    flow.add_routine(Source(), "source")
    flow.add_routine(middle, "middle")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "middle", "input")
    event = "total" if isinstance(middle, Counter) else "done"
    flow.connect("middle", event, "sink", "input")
    return flow, sink


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_job_values_of_a_failed_attempt_are_not_kept(strategy: str) -> None:
    counter = Counter(fail_once=1)
    counter.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=1, retry_delay=0.0)
    )
    flow, sink = chain(strategy, counter, clock=FakeClock())
    job = flow.execute("source", {"n": 3})
    flow.shutdown()
    assert job.status == "completed"
    assert sink.got == [{"n": 3}]  # The failed attempt's increment was discarded.
    assert job.job_values("middle") == {"seen": 3, "reported": True}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_job_values_belong_to_one_job(strategy: str) -> None:
    flow, sink = chain(strategy, Counter())
    first = flow.execute("source", {"n": 2})
    second = flow.execute("source", {"n": 5})
    flow.shutdown()
    assert sink.got == [{"n": 2}, {"n": 5}]
    assert first.job_values("middle")["seen"] == 2
    assert second.job_values("middle")["seen"] == 5


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_job_values_and_timers_stay_out_of_the_routine_state(strategy: str) -> None:
    class Noted(Quiet):
        def take(self, i: int) -> None:
            super().take(i)
            job = self.get_execution_context().job_state
            job.update_routine_state("middle", {"last_processed": i, "processed": True})
            pending.append(job.routine_timers("middle"))

    pending: list[dict[str, str]] = []
    flow, _ = chain(strategy, Noted(wait=5.0), clock=FakeClock())
    job = flow.execute("source", {"n": 2})
    flow.shutdown()
    assert job.status == "completed"
    assert job.get_routine_state("middle") == {"last_processed": 1, "processed": True}
    assert job.job_values("middle") == {"last": 1}
    assert [list(names) for names in pending] == [[], ["quiet"]]  # Set once the handler returns.
    assert pending[1]["quiet"].startswith(f"{job.job_id}:")
    assert job.routine_timers("middle") == {}  # It fired.


def test_job_values_outside_a_job_are_refused() -> None:
    with pytest.raises(ExecutionError, match="outside of a job"):
        Counter().get_job_value("seen")
    with pytest.raises(ExecutionError, match="outside of a job"):
        Counter().set_timer("t", 1.0, "input", i=1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_setting_a_named_timer_again_replaces_the_pending_one(strategy: str) -> None:
    clock = FakeClock()
    flow, sink = chain(strategy, Quiet(wait=10.0), clock=clock)
    job = flow.execute("source", {"n": 4})
    flow.shutdown()
    assert job.status == "completed"
    assert sink.got == [{"last": 3}]  # One timer fired, for the last message.
    assert clock.monotonic() == 10.0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_cancelled_timer_does_not_keep_the_job_running(strategy: str) -> None:
    clock = FakeClock()
    flow, sink = chain(strategy, Quiet(wait=30.0, cancel_on=2), clock=clock)
    job = flow.execute("source", {"n": 3})
    flow.shutdown()
    assert job.status == "completed"
    assert clock.monotonic() == 0.0  # The job ended without waiting for the 30 s.
    assert sink.got == []
    assert job.routine_timers("middle") == {}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_named_timer_is_kept_in_the_store_and_resumes(strategy: str) -> None:
    class CrashAfterTimer(MemoryStore):
        """Fails every checkpoint after the job has set its timer: a crash."""

        def __init__(self) -> None:
            super().__init__()
            self.down = False

        def checkpoint(self, checkpoint: Any) -> None:
            if self.down:
                raise StoreError("down")
            super().checkpoint(checkpoint)
            if any(d.slot == "tick" for d in checkpoint.added):
                self.down = True

    store = CrashAfterTimer()
    first, _ = chain(strategy, Quiet(wait=5.0), clock=FakeClock(), store=store)
    crashed = first.execute("source", {"n": 1})
    first.shutdown()
    assert crashed.status == "failed"
    stored = store.load_job(crashed.job_id)
    assert stored.document["timers"]["middle"] == {"quiet": stored.pending[0].seq}
    loaded = JobState.deserialize(stored.document)
    assert loaded.routine_timers("middle") == {"quiet": f"{crashed.job_id}:{stored.pending[0].seq}"}
    store.down = False

    second, sink = chain(strategy, Quiet(wait=5.0), clock=FakeClock(), store=store)
    assert second.resume(crashed.job_id, wait=True)
    second.shutdown()
    assert sink.got == [{"last": 0}]
    done = store.load_job(crashed.job_id)
    assert done.document["status"] == "completed"
    assert done.document["timers"] == {}


def test_the_context_names_the_slot_being_delivered() -> None:
    seen: list[str | None] = []

    class TwoSlots(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.first)
            self.define_slot("again", handler=self.second)

        def first(self) -> None:
            context = self.get_execution_context()
            assert context is not None
            seen.append(context.slot_name)
            self.deliver_later(0.0, "again")

        def second(self) -> None:
            context = self.get_execution_context()
            assert context is not None
            seen.append(context.slot_name)

    flow = Flow()
    flow.add_routine(TwoSlots(), "two")
    flow.execute("two")
    assert seen == ["trigger", "again"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_timer_set_and_cancelled_in_one_handler_never_runs(strategy: str) -> None:
    ticks: list[int] = []

    class SetThenCancel(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)
            self.define_slot("tick", handler=lambda: ticks.append(1))

        def go(self) -> None:
            self.set_timer("t", 30.0, "tick")
            self.set_timer("t", 30.0, "tick")
            self.cancel_timer("t")

    clock = FakeClock()
    flow = Flow(execution_strategy=strategy, clock=clock)
    flow.add_routine(SetThenCancel(), "r")
    job = flow.execute("r")
    flow.shutdown()
    assert job.status == "completed"
    assert clock.monotonic() == 0.0  # No 30 s timer kept it alive.
    assert ticks == []
    assert job.routine_timers("r") == {}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_timer_re_armed_by_its_own_tick_keeps_one_pending(strategy: str) -> None:
    fired: list[float] = []
    clock = FakeClock()

    class Heartbeat(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.start)
            self.define_slot("tick", handler=self.beat)

        def start(self) -> None:
            self.set_timer("beat", 1.0, "tick")

        def beat(self) -> None:
            fired.append(clock.monotonic())
            if len(fired) < 3:
                self.set_timer("beat", 1.0, "tick")

    flow = Flow(execution_strategy=strategy, clock=clock)
    flow.add_routine(Heartbeat(), "r")
    job = flow.execute("r")
    flow.shutdown()
    assert job.status == "completed"
    assert fired == [1.0, 2.0, 3.0]
    assert job.routine_timers("r") == {}


class FailingFlush(Routine):
    """An on_drain hook that always fails (its flush target is down)."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.define_slot("trigger", handler=self.go)

    def go(self) -> None:
        self.set_job_value("held", [1, 2])

    def on_drain(self) -> None:
        self.flushes += 1
        raise ConnectionError("the flush target is down")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_drain_that_fails_under_retry_ends_the_job_once_retries_are_used_up(
    strategy: str,
) -> None:
    flow = Flow(execution_strategy=strategy, clock=FakeClock(), max_deliveries=1000)
    flusher = FailingFlush()
    flusher.set_error_handler(ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2))
    flow.add_routine(flusher, "flusher")
    try:
        job = flow.execute("flusher", timeout=10)
    finally:
        flow.shutdown()
    # Its retries spent, RETRY acts as STOP.
    assert job.status == "failed"
    assert flusher.flushes == 3  # One round: the first attempt and its 2 retries.
    assert [e.action for e in job.errors] == ["retry", "retry", "stop"]
    assert len(job.dead_letters) == 1


def test_a_dead_letter_of_a_drain_hook_is_refused_for_replay_naming_where_its_data_is() -> None:
    store = MemoryStore()
    flow = Flow(store=store)
    flusher = FailingFlush()
    flusher.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow.add_routine(flusher, "flusher")
    job = flow.execute("flusher")
    (letter,) = job.dead_letters
    assert job.job_values("flusher") == {"held": [1, 2]}
    with pytest.raises(DefinitionError, match="on_drain hook of routine 'flusher'") as caught:
        flow.replay_dead_letter(letter.letter_id)
    assert f"job {job.job_id}'s job_values('flusher')" in str(caught.value)


class Collector(Routine):
    """Appends each message to the job value ``items``, as ``how`` (in config) says."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.define_event("seen", ["items"])
        self.attempts = 0

    def take(self, i: int) -> None:
        how = self.get_config("how", "append")
        if how == "append":
            self.append_job_value("items", i)
            self.append_job_value("items", -i)
        elif how == "set-then-append":
            self.set_job_value("items", ["start"])
            self.append_job_value("items", i)
        elif how == "append-then-set":
            self.append_job_value("items", i)
            self.set_job_value("items", ["reset", i])
        elif how == "fail-once" and i == 1 and self.attempts == 0:
            self.attempts += 1
            self.append_job_value("items", "lost")
            raise ValueError("once")
        elif how == "onto-a-number":
            self.set_job_value("count", 1)
            self.append_job_value("count", i)
        else:
            self.append_job_value("items", i)
        self.emit("seen", items=self.get_job_value("items"))


def collect(strategy: str, how: str, n: int = 3, **options: Any) -> tuple[Any, Sink]:
    flow = Flow(execution_strategy=strategy, **options)
    collector = Collector()
    collector.set_config(how=how)
    collector.set_max_concurrency(1)  # Its deliveries commit in order, in both strategies.
    collector.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=1, retry_delay=0.0)
    )
    sink = Sink()
    flow.add_routine(Source(), "source")
    flow.add_routine(collector, "collector")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "collector", "input")
    flow.connect("collector", "seen", "sink", "input")
    job = flow.execute("source", {"n": n})
    flow.shutdown()
    return job, sink


@pytest.mark.parametrize("store", [None, "memory"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_appended_items_are_seen_by_the_handler_and_kept_in_order(
    strategy: str, store: str | None
) -> None:
    job, sink = collect(strategy, "append", store=MemoryStore() if store else None)

    assert job.status == "completed", job.error
    assert job.job_values("collector") == {"items": [0, 0, 1, -1, 2, -2]}
    assert [m["items"] for m in sink.got] == [[0, 0], [0, 0, 1, -1], [0, 0, 1, -1, 2, -2]]


@pytest.mark.parametrize(
    ("how", "kept"),
    [
        ("set-then-append", ["start", 2]),
        ("append-then-set", ["reset", 2]),
        ("fail-once", [0, 2, 1]),  # Its retry comes last; the failed attempt's item is lost.
    ],
)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_appends_and_sets_of_one_key_take_effect_in_order(
    strategy: str, how: str, kept: list[Any]
) -> None:
    store = MemoryStore()
    job, _ = collect(strategy, how, store=store)

    assert job.status == "completed", job.error
    items = job.job_values("collector")["items"]
    if strategy == "concurrent" and how == "fail-once":
        assert sorted(items) == sorted(kept)  # When the retry runs is a matter of timing.
    else:
        assert items == kept
    stored = store.load_job(job.job_id).document["job_values"]["collector"]
    assert stored["items"] == items


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_appending_to_a_value_that_is_not_a_list_fails_the_delivery(strategy: str) -> None:
    job, _ = collect(strategy, "onto-a-number", n=1)

    assert {e.error_type for e in job.errors} == {"ExecutionError"}
    assert "the job value 'count' is int 1, not a list" in job.errors[-1].message


def test_a_job_value_key_must_be_a_string() -> None:
    class Keyed(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)

        def go(self) -> None:
            self.append_job_value(1, "x")  # type: ignore[arg-type]

    flow = Flow()
    flow.add_routine(Keyed(), "keyed")
    job = flow.execute("keyed")
    assert job.status == "failed"
    assert "a job value's key must be a string, not 1" in job.errors[-1].message
