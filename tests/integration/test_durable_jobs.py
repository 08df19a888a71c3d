"""Durable jobs on a store: checkpoints, resume, dead letters, replay, delivery ids."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

from routilux import (
    DeadLetterReplayedError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    FlowDocumentWarning,
    JobState,
    Routine,
    RoutineStats,
    SerializationError,
    StoreError,
)
from routilux._model.durable import Checkpoint
from routilux.stores import MemoryStore, SqliteStore
from routilux.testing import FakeClock

STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["i"])

    def emit_all(self, n: int, payload: Any = None) -> None:
        if payload == "an object":
            payload = object()  # No store can write this.
        for i in range(n):
            self.emit("out", i=i, payload=payload)


class Sink(Routine):
    """Records (delivery id, i) pairs; fails on the values in ``fail_on``."""

    def __init__(self, fail_on: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.fail_on = set(fail_on)
        self.seen: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.define_slot("input", handler=self.take)

    def take(self, i: int, payload: Any = None) -> None:
        ctx = self.get_execution_context()
        assert ctx is not None
        with self.lock:
            self.seen.append((str(ctx.delivery_id), i))
        if i in self.fail_on:
            raise ValueError(f"cannot take {i}")
        ctx.job_state.update_shared_data("last", i)


class FailingStore(MemoryStore):
    """A MemoryStore whose checkpoints fail after ``survive`` of them: a crash, to the store."""

    def __init__(self, survive: int) -> None:
        super().__init__()
        self.survive = survive

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.survive <= 0:
            raise StoreError("the disk is gone")
        self.survive -= 1
        super().checkpoint(checkpoint)


def pipeline(strategy: str, sink: Sink, **options: Any) -> Flow:
    flow = Flow(execution_strategy=strategy, **options)
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_completed_durable_job_is_recorded_whole(strategy: str) -> None:
    store = MemoryStore()
    flow = pipeline(strategy, Sink(), store=store)
    job = flow.execute("source", {"n": 4})
    flow.shutdown()
    stored = store.load_job(job.job_id)
    assert stored.document["status"] == "completed"
    assert stored.pending == []
    assert stored.deliveries == 5
    assert [h["event_name"] for h in stored.document["execution_history"]] == ["out"] * 4
    assert stored.document["shared_data"] == {"last": 3}
    assert stored.document["routine_stats"]["sink"] == {"deliveries": 4, "failures": 0, "skips": 0}
    assert stored.document["routine_states"] == {"source": {"status": "completed"}}
    assert JobState.deserialize(stored.document).execution_history == job.execution_history


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_execute_accepts_a_store_for_one_job(strategy: str) -> None:
    store = MemoryStore()
    flow = pipeline(strategy, Sink())
    job = flow.execute("source", {"n": 2}, store=store)
    other = flow.execute("source", {"n": 2})
    flow.shutdown()
    assert [s.job_id for s in store.list_jobs()] == [job.job_id]
    assert other.job_id != job.job_id


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_final_failure_becomes_a_dead_letter_in_the_job_and_the_store(strategy: str) -> None:
    store = MemoryStore()
    sink = Sink(fail_on=(2,))
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = pipeline(strategy, sink, store=store)
    job = flow.execute("source", {"n": 4})
    flow.shutdown()
    assert job.status == "completed"
    [letter] = job.dead_letters
    assert (letter.routine_id, letter.slot, letter.data["i"]) == ("sink", "input", 2)
    assert letter.error.error_type == "ValueError"
    assert store.list_dead_letters(job_id=job.job_id) == [letter]


def test_a_retried_delivery_keeps_its_delivery_id() -> None:
    sink = Sink(fail_on=(0,))
    sink.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=1.0)
    )
    flow = pipeline("sequential", sink, clock=FakeClock(), store=MemoryStore())
    job = flow.execute("source", {"n": 1})
    ids = {delivery_id for delivery_id, _ in sink.seen}
    assert len(sink.seen) == 3
    assert len(ids) == 1
    assert ids == {job.errors[0].delivery_id}
    assert next(iter(ids)).startswith(job.job_id + ":")


def test_delivery_ids_differ_between_deliveries_of_a_job() -> None:
    sink = Sink()
    flow = pipeline("sequential", sink)
    job = flow.execute("source", {"n": 3})
    ids = [delivery_id for delivery_id, _ in sink.seen]
    assert len(set(ids)) == 3
    assert all(i.startswith(job.job_id + ":") for i in ids)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_replaying_a_dead_letter_runs_its_message_as_a_new_job(strategy: str) -> None:
    store = MemoryStore()
    sink = Sink(fail_on=(1,))
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = pipeline(strategy, sink, store=store)
    job = flow.execute("source", {"n": 2})
    sink.fail_on.clear()
    replay = flow.replay_dead_letter(job.dead_letters[0].letter_id)
    flow.shutdown()
    assert replay.status == "completed"
    assert replay.job_id != job.job_id
    assert [i for _, i in sink.seen] == [0, 1, 1]
    assert store.get_dead_letter(job.dead_letters[0].letter_id).replayed_by == replay.job_id
    assert job.dead_letters[0].replayed_by == replay.job_id
    assert store.list_dead_letters(job_id=job.job_id) == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_dead_letter_is_replayed_once_unless_again(strategy: str, tmp_path: Any) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    sink = Sink(fail_on=(1,))
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = pipeline(strategy, sink, store=store)
    try:
        job = flow.execute("source", {"n": 2})
        letter_id = job.dead_letters[0].letter_id
        sink.fail_on.clear()
        first = flow.replay_dead_letter(letter_id)
        with pytest.raises(
            DeadLetterReplayedError, match=f"replayed already, by job {first.job_id}"
        ):
            flow.replay_dead_letter(letter_id)
        again = flow.replay_dead_letter(letter_id, again=True)
    finally:
        flow.shutdown()
        store.close()
    assert [i for _, i in sink.seen] == [0, 1, 1, 1]
    assert (first.status, again.status) == ("completed", "completed")


def test_two_replays_of_one_letter_at_once_deliver_it_once(tmp_path: Any) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    sink = Sink(fail_on=(1,))
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = pipeline("sequential", sink, store=store)
    job = flow.execute("source", {"n": 2})
    letter = job.dead_letters[0]
    sink.fail_on.clear()
    replayers = [pipeline("sequential", sink, store=SqliteStore(path)) for _ in range(4)]
    barrier = threading.Barrier(len(replayers))
    outcomes: list[str] = []

    def replay(other: Flow) -> None:
        barrier.wait()
        try:
            other.replay_dead_letter(letter)
        except DeadLetterReplayedError:
            outcomes.append("refused")
        else:
            outcomes.append("replayed")

    threads = [threading.Thread(target=replay, args=(other,)) for other in replayers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for other in [flow, *replayers]:
        other.shutdown()
        assert other.store is not None
        other.store.close()
    assert sorted(outcomes) == ["refused"] * 3 + ["replayed"]
    assert [i for _, i in sink.seen] == [0, 1, 1]


def test_replaying_by_id_without_a_store_is_refused() -> None:
    flow = pipeline("sequential", Sink())
    with pytest.raises(ValueError, match="needs a store"):
        flow.replay_dead_letter("some-job:3")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_unwritable_message_fails_its_delivery_under_the_policy(strategy: str) -> None:
    store = MemoryStore()
    sink = Sink()
    flow = pipeline(strategy, sink, store=store)
    flow.routines["source"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"n": 2, "payload": "an object"})
    flow.shutdown()
    assert job.status == "completed"
    assert [e.error_type for e in job.errors] == ["SerializationError"]
    assert "payload" in job.errors[0].message
    assert sink.seen == []  # Nothing of the failed delivery was scheduled.


def test_unwritable_entry_params_refuse_the_job() -> None:
    flow = pipeline("sequential", Sink(), store=MemoryStore())
    with pytest.raises(SerializationError):
        flow.execute("source", {"n": 1, "payload": object()})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_failing_store_stops_the_job_and_leaves_the_last_checkpoint(strategy: str) -> None:
    store = FailingStore(survive=3)
    flow = pipeline(strategy, Sink(), store=store, max_workers=1)
    job = flow.execute("source", {"n": 5})
    flow.shutdown()
    assert job.status == "failed"
    assert "job store failed" in (job.error or "")
    stored = store.load_job(job.job_id)
    assert stored.document["status"] == "running"  # As after a crash: resumable.
    assert stored.pending


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_job_resumes_from_its_last_checkpoint_with_nothing_lost_or_repeated(
    strategy: str,
) -> None:
    store = FailingStore(survive=3)
    first_sink = Sink()
    first = pipeline(strategy, first_sink, store=store, max_workers=1)
    crashed = first.execute("source", {"n": 6})
    first.shutdown()
    committed = store.load_job(crashed.job_id)
    store.survive = 10**6

    second_sink = Sink()
    second = pipeline(strategy, second_sink, store=store)
    assert second.resume(crashed.job_id, wait=True)
    job = second.get_execution(crashed.job_id)
    second.shutdown()
    assert job is not None
    assert job.status == "completed"
    done_before = {i for _, i in first_sink.seen} - {
        d.data["i"] for d in committed.pending if d.routine_id == "sink"
    }
    resumed = [i for _, i in second_sink.seen]
    assert sorted(done_before | set(resumed)) == list(range(6))
    assert not done_before & set(resumed)  # Committed deliveries never ran again.
    assert len(resumed) == len(set(resumed))
    assert store.load_job(crashed.job_id).document["status"] == "completed"
    assert len(job.execution_history) == 6


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_routine_stats_and_states_of_a_job_survive_its_crash_and_resume(
    strategy: str, tmp_path: Any
) -> None:
    store = FailingSqlite(tmp_path / "jobs.db", survive=3)
    sink = Sink(fail_on=(1,))
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    first = pipeline(strategy, sink, store=store, max_workers=1)
    crashed = first.execute("source", {"n": 6})
    first.shutdown()
    assert "job store failed" in (crashed.error or "")
    stored = store.load_job(crashed.job_id).document
    assert stored["routine_stats"]["sink"] == {"deliveries": 2, "failures": 1, "skips": 0}
    store.survive = 10**6

    again = Sink(fail_on=(1,))
    again.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    second = pipeline(strategy, again, store=store)
    assert second.resume(crashed.job_id, wait=True)
    second.shutdown()
    job = JobState.deserialize(store.load_job(crashed.job_id).document)
    store.close()
    assert job.status == "completed"
    assert job.all_routine_stats() == {
        "source": RoutineStats(deliveries=1),
        "sink": RoutineStats(deliveries=6, failures=1),
    }
    assert job.routine_states == {
        "source": {"status": "completed"},
        "sink": {"status": "error_continued", "error": "cannot take 1"},
    }


class FailingSqlite(SqliteStore):
    """A SqliteStore whose checkpoints fail after ``survive`` of them: a crash, to the store."""

    def __init__(self, path: Any, survive: int) -> None:
        super().__init__(path)
        self.survive = survive

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.survive <= 0:
            raise StoreError("the disk is gone")
        self.survive -= 1
        super().checkpoint(checkpoint)


def test_resume_keeps_delivery_ids_stable() -> None:
    store = FailingStore(survive=2)
    first_sink = Sink()
    first = pipeline("sequential", first_sink, store=store)
    crashed = first.execute("source", {"n": 3})
    pending_ids = {f"{crashed.job_id}:{d.seq}" for d in store.load_job(crashed.job_id).pending}
    store.survive = 10**6
    second_sink = Sink()
    second = pipeline("sequential", second_sink, store=store)
    assert second.resume(crashed.job_id, wait=True)
    assert {delivery_id for delivery_id, _ in second_sink.seen} == pending_ids


def test_resume_of_a_finished_job_does_nothing() -> None:
    store = MemoryStore()
    flow = pipeline("sequential", Sink(), store=store)
    job = flow.execute("source", {"n": 1})
    other = pipeline("sequential", Sink(), store=store)
    assert other.resume(job.job_id) is None


def test_resume_without_a_store_does_nothing() -> None:
    assert pipeline("sequential", Sink()).resume("no-such-job") is None


def test_resume_needs_the_routines_the_job_waits_for() -> None:
    store = FailingStore(survive=1)
    first = pipeline("sequential", Sink(), store=store)
    crashed = first.execute("source", {"n": 2})
    store.survive = 10**6
    lacking = Flow(store=store)
    lacking.add_routine(Source(), "source")
    with pytest.raises(ValueError, match="no routine 'sink'"):
        lacking.resume(crashed.job_id)


def test_a_durable_job_whose_flow_cannot_be_serialized_warns_when_it_starts() -> None:
    class Local(Sink):
        pass

    store = MemoryStore()
    flow = pipeline("sequential", Local(), store=store)
    with pytest.warns(FlowDocumentWarning) as caught:
        job = flow.execute("source", {"n": 2})
    (warning,) = caught
    message = str(warning.message)
    assert message.startswith(
        f"Job {job.job_id} of flow {flow.flow_id!r} is stored without its flow document, "
        "because the flow cannot be serialized: Cannot serialize routines['sink'].class: the "
        "routine class test_a_durable_job_whose_flow_cannot_be_serialized_warns_when_it_starts"
        ".<locals>.Local is defined inside a function;"
    )
    assert message.endswith(
        "So the routilux command cannot resume this job or replay its dead letters; resume it "
        f"from a program that builds the flow, with flow.resume({job.job_id!r}, store=store). "
        "To let the command resume such jobs, define the routine classes in an importable module."
    )
    assert warning.filename == __file__  # The line that started the job.
    assert job.status == "completed"
    assert store.load_job(job.job_id).flow_document is None


def test_a_durable_job_whose_flow_can_be_serialized_starts_without_warning() -> None:
    store = MemoryStore()
    flow = pipeline("sequential", Sink(), store=store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        job = flow.execute("source", {"n": 2})
    assert store.load_job(job.job_id).flow_document == flow.serialize()


def test_a_job_without_a_store_does_not_warn_that_its_flow_cannot_be_serialized() -> None:
    class Local(Sink):
        pass

    flow = pipeline("sequential", Local())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flow.execute("source", {"n": 2}).status == "completed"


def test_cancel_drops_the_pending_deliveries_in_the_store() -> None:
    store = MemoryStore()
    started = threading.Event()
    release = threading.Event()

    class Slow(Sink):
        def take(self, i: int, payload: Any = None) -> None:
            started.set()
            release.wait(5)
            super().take(i, payload)

    flow = pipeline("sequential", Slow(), store=store)
    with pytest.warns(FlowDocumentWarning, match=r"Slow is defined inside a function"):
        job = flow.start("source", {"n": 4})
    assert started.wait(5)
    assert flow.cancel(job)
    release.set()
    flow.shutdown()
    stored = store.load_job(job.job_id)
    assert stored.document["status"] == "cancelled"
    assert stored.pending == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_store_counts_deliveries_as_they_run(strategy: str) -> None:
    store = FailingStore(survive=4)
    flow = pipeline(strategy, Sink(), store=store, max_workers=1)
    crashed = flow.execute("source", {"n": 6})
    flow.shutdown()
    assert store.load_job(crashed.job_id).deliveries == 4  # Four checkpoints, four deliveries.


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_paused_job_is_stored_as_paused_and_running_again_after_resume(strategy: str) -> None:
    store = MemoryStore()
    started = threading.Event()
    release = threading.Event()

    class Slow(Sink):
        def take(self, i: int, payload: Any = None) -> None:
            started.set()
            release.wait(5)
            super().take(i, payload)

    flow = pipeline(strategy, Slow(), store=store)
    with pytest.warns(FlowDocumentWarning, match=r"Slow is defined inside a function"):
        job = flow.start("source", {"n": 3})
    assert started.wait(5)
    pauser = threading.Thread(target=flow.pause, args=(job, 5))
    pauser.start()
    release.set()
    pauser.join(5)
    assert store.load_job(job.job_id).document["status"] == "paused"
    assert flow.resume(job)
    assert job.wait(5)
    flow.shutdown()
    assert store.load_job(job.job_id).document["status"] == "completed"


class FailingSqliteStore(SqliteStore):
    """A real SQLite store whose checkpoints fail while ``failing`` is set."""

    failing = False

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.failing:
            raise StoreError("the disk is gone")
        super().checkpoint(checkpoint)


class StoreBreaker(Sink):
    """A Sink that breaks its store (or raises) when it takes ``at``."""

    def __init__(self, at: int, *, store: FailingSqliteStore | None = None, raise_: Any = None):
        super().__init__()
        self.at, self.store, self.raise_ = at, store, raise_

    def take(self, i: int, payload: Any = None) -> None:
        super().take(i, payload)
        if i == self.at and not self.seen[:-1].count((self.seen[-1][0], i)):
            if self.store is not None:
                self.store.failing = True
            if self.raise_ is not None:
                raise self.raise_


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_flow_whose_store_failed_resumes_the_job_once_the_store_works(
    strategy: str, tmp_path: Any
) -> None:
    store = FailingSqliteStore(tmp_path / "jobs.db")
    sink = StoreBreaker(2, store=store)
    flow = pipeline(strategy, sink, store=store, max_workers=1)
    job = flow.execute("source", {"n": 5})
    assert job.status == "failed"
    assert "job store failed" in (job.error or "")
    assert f"flow.resume({job.job_id!r})" in (job.error or "")
    assert store.load_job(job.job_id).document["status"] == "running"
    store.failing = False
    assert flow.resume(job.job_id, wait=True)
    resumed = flow.get_execution(job.job_id)
    flow.shutdown()
    assert resumed is not None
    assert resumed.status == "completed"
    assert {i for _, i in sink.seen} == set(range(5))
    assert store.load_job(job.job_id).document["status"] == "completed"


def test_a_store_that_fails_once_keeps_the_job_running_not_failed(tmp_path: Any) -> None:
    # The failed checkpoint is the only write that fails: the job's final
    # status must not reach the store, or the job could never be resumed.
    class OnceFailing(FailingSqliteStore):
        def checkpoint(self, checkpoint: Checkpoint) -> None:
            failing, self.failing = self.failing, False
            if failing:
                raise StoreError("a one-off write error")
            super().checkpoint(checkpoint)

    store = OnceFailing(tmp_path / "once.db")
    flow = pipeline("sequential", StoreBreaker(1, store=store), store=store)
    job = flow.execute("source", {"n": 3})
    assert job.status == "failed"
    stored = store.load_job(job.job_id)
    assert stored.document["status"] == "running"
    assert stored.pending
    assert flow.resume(job.job_id, wait=True)
    assert store.load_job(job.job_id).document["status"] == "completed"


def test_an_interrupt_leaves_a_durable_job_resumable_with_nothing_lost(tmp_path: Any) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    sink = StoreBreaker(2, raise_=KeyboardInterrupt("Ctrl-C"))
    flow = pipeline("sequential", sink, store=store)
    with pytest.raises(KeyboardInterrupt):
        flow.execute("source", {"n": 5})
    (job,) = flow.get_all_executions()
    assert job.status == "failed"
    assert "interrupted before it finished (KeyboardInterrupt: Ctrl-C)" in (job.error or "")
    assert [d.data["i"] for d in job.pending_deliveries] == [2, 3, 4]
    assert store.load_job(job.job_id).document["status"] == "running"
    assert flow.resume(job.job_id, wait=True)
    resumed = flow.get_execution(job.job_id)
    assert resumed is not None
    assert resumed.status == "completed"
    assert [i for _, i in sink.seen] == [0, 1, 2, 2, 3, 4]  # The interrupted one runs again.


class RaisingStore(MemoryStore):
    """A store whose checkpoints raise what no store should: a bug in its code."""

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        raise RuntimeError("a bug in the store")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_store_raising_an_unexpected_error_fails_the_job(strategy: str) -> None:
    flow = pipeline(strategy, Sink(), store=RaisingStore())
    job = flow.execute("source", {"n": 3}, timeout=10)
    flow.shutdown()
    assert job.status == "failed"
    assert "job store failed: RuntimeError: a bug in the store" in (job.error or "")


class HugeSource(Source):
    def emit_all(self, n: int, payload: Any = None) -> None:
        self.emit("out", i=0, payload=10**5000)


def test_an_integer_too_long_for_json_fails_its_delivery_naming_why(tmp_path: Any) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    sink = Sink()
    flow = Flow(store=store)
    flow.add_routine(HugeSource(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source", {"n": 1})
    assert job.status == "failed"
    assert [e.error_type for e in job.errors] == ["SerializationError"]
    assert "integer string conversion" in job.errors[0].message
    assert store.load_job(job.job_id).document["status"] == "failed"
    assert sink.seen == []


def test_jobs_abandoned_to_a_failing_store_are_not_kept_past_retain_jobs(tmp_path: Any) -> None:
    store = FailingSqliteStore(tmp_path / "jobs.db")
    flow = pipeline("sequential", StoreBreaker(0, store=store), store=store, retain_jobs=3)
    for _ in range(10):
        store.failing = False
        assert flow.execute("source", {"n": 2}).status == "failed"
    held = flow._jobs.engine._runs  # What the engine keeps of the jobs it ran.
    assert len(held) <= 3 + 1  # The jobs the flow remembers, and the last one run.


class Looper(Routine):
    """Sends itself the next number, for ever: a cycle."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.define_slot("trigger", handler=self.step)
        self.define_slot("input", handler=self.step)
        self.define_event("next", ["n"])

    def step(self, n: int = 0) -> None:
        self.seen.append(n)
        self.emit("next", n=n + 1)


def loop_flow(strategy: str, looper: Looper, **options: Any) -> Flow:
    flow = Flow(execution_strategy=strategy, **options)
    flow.add_routine(looper, "looper")
    flow.connect("looper", "next", "looper", "input")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_hops_of_a_job_survive_its_crash_and_resume(strategy: str) -> None:
    store = FailingStore(survive=8)
    first = loop_flow(strategy, Looper(), store=store, max_hops=20)
    crashed = first.execute("looper")
    first.shutdown()
    assert "job store failed" in (crashed.error or "")
    [waiting] = store.load_job(crashed.job_id).pending
    assert waiting.hops == waiting.data["n"] > 0
    store.survive = 10**6

    looper = Looper()
    second = loop_flow(strategy, looper, store=store, max_hops=20)
    assert second.resume(crashed.job_id, wait=True)
    job = second.get_execution(crashed.job_id)
    second.shutdown()
    assert job is not None
    assert job.status == "failed"
    # Counted from the entry delivery of the first run, not from the resume.
    assert looper.seen == list(range(waiting.data["n"], 21))
    assert "limit of 20 hops" in job.errors[-1].message
    assert "at hop 21" in job.errors[-1].message
    stored = store.load_job(crashed.job_id)
    assert stored.document["status"] == "failed"
    assert [(d.data["n"], d.hops) for d in stored.pending] == [(21, 21)]


@pytest.mark.slow  # 10,001 durable commits: the default limit is the point.
def test_a_cycle_on_sqlite_fails_as_a_runaway_with_the_defaults(tmp_path: Any) -> None:
    # The default max_hops (10,000) stops it after 10,001 durable deliveries.
    store = SqliteStore(tmp_path / "jobs.db")
    looper = Looper()
    flow = loop_flow("sequential", looper, store=store)
    job = flow.execute("looper")
    assert job.status == "failed"
    assert job.errors[-1].error_type == "RunawayJobError"
    assert "'looper' -> 'looper'" in job.errors[-1].message
    assert len(looper.seen) == 10_001
    stored = store.load_job(job.job_id)
    assert (stored.document["status"], stored.deliveries) == ("failed", 10_001)
    assert [d.hops for d in stored.pending] == [10_001]
