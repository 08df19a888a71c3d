"""Flow(checkpoint_every=n): durable deliveries committed n at a time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    JobState,
    Routine,
    SerializationError,
)
from routilux._engine.durable import SEQ_RESERVE
from routilux._model.durable import Checkpoint
from routilux.stores import MemoryStore, SqliteStore

STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["i"])

    def emit_all(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Relay(Routine):
    """Passes ``i`` on and logs it in the job's shared log; adds an object to ``bad``."""

    def __init__(self, bad: int | None = None) -> None:
        super().__init__()
        self.bad = bad
        self.define_slot("input", handler=self.take)
        self.define_event("out", ["i"])

    def take(self, i: int) -> None:
        if i == self.bad:
            self.emit("out", i=i, payload=object())  # No store can write this.
            return
        ctx = self.get_execution_context()
        assert ctx is not None
        ctx.job_state.append_to_shared_log({"relayed": i})
        self.emit("out", i=i)


class Sink(Routine):
    def __init__(self, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.gate = gate
        self.started = threading.Event()
        self.seen: list[int] = []
        self.define_slot("input", handler=self.take)

    def take(self, i: int, payload: Any = None) -> None:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.seen.append(i)
        ctx = self.get_execution_context()
        assert ctx is not None
        ctx.job_state.update_shared_data("last", i)


class CountingStore(SqliteStore):
    """A SqliteStore that counts its checkpoints."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits = 0

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        super().checkpoint(checkpoint)
        self.commits += 1


def chain(strategy: str, sink: Sink, relay: Relay | None = None, **options: Any) -> Flow:
    flow = Flow(execution_strategy=strategy, **options)
    flow.add_routine(Source(), "source")
    flow.add_routine(relay or Relay(), "relay")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "relay", "input")
    flow.connect("relay", "out", "sink", "input")
    for routine in flow.routines.values():
        routine.set_max_concurrency(1)  # In order, so that two runs store the same job.
    return flow


def stored_view(store: Any, job_id: str) -> dict[str, Any]:
    """What the store holds of a job, without what differs between any two jobs."""
    stored = store.load_job(job_id)
    document = stored.document
    job = JobState.deserialize(document)
    return {
        "status": document["status"],
        "pending": stored.pending,
        "deliveries": stored.deliveries,
        "events": sorted((r.routine_id, r.event_name, r.data["i"]) for r in job.execution_history),
        "routine_states": document["routine_states"],
        "routine_stats": document["routine_stats"],
        "shared_data": document["shared_data"],
        "log": sorted(entry["relayed"] for entry in document["shared_log"]),
    }


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_batched_job_is_stored_as_an_unbatched_one_with_fewer_commits(
    strategy: str, tmp_path: Path
) -> None:
    views, commits = [], []
    for every in (1, 10):
        store = CountingStore(tmp_path / f"every{every}.db")
        flow = chain(strategy, Sink(), store=store, checkpoint_every=every)
        job = flow.execute("source", {"n": 40})
        flow.shutdown()
        assert job.status == "completed", job.error
        views.append(stored_view(store, job.job_id))
        commits.append(store.commits)
        store.close()
    assert views[0] == views[1]
    assert views[1]["deliveries"] == 81
    assert views[1]["log"] == list(range(40))
    # One commit per delivery and one for the end; or per full batch of 10, and the end.
    assert commits[0] == 82
    assert commits[1] == 81 // 10 + 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_unwritable_message_fails_its_own_delivery_and_no_other(strategy: str) -> None:
    store = MemoryStore()
    sink = Sink()
    relay = Relay(bad=3)
    relay.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = chain(strategy, sink, relay, store=store, checkpoint_every=8, max_workers=1)
    job = flow.execute("source", {"n": 6})
    flow.shutdown()
    assert job.status == "completed"
    assert sorted(sink.seen) == [0, 1, 2, 4, 5]
    [error] = job.errors
    assert (error.routine_id, error.error_type) == ("relay", "SerializationError")
    assert "payload" in error.message
    view = stored_view(store, job.job_id)
    assert view["status"] == "completed"
    assert view["pending"] == []
    assert [e for e in view["events"] if e[0] == "relay"] == [
        ("relay", "out", i) for i in (0, 1, 2, 4, 5)
    ]
    assert view["log"] == [0, 1, 2, 4, 5]
    assert [letter.data["i"] for letter in store.list_dead_letters(job_id=job.job_id)] == [3]


def test_cancelling_drops_the_pending_deliveries_of_an_uncommitted_batch() -> None:
    store = MemoryStore()
    gate = threading.Event()
    sink = Sink(gate)
    flow = chain("sequential", sink, store=store, checkpoint_every=1000)
    job = flow.start("source", {"n": 5})
    assert sink.started.wait(5)
    # The batch holds the source's and the relay's deliveries, and the emits of those.
    assert store.load_job(job.job_id).deliveries == 0
    assert flow.cancel(job)
    gate.set()
    flow.shutdown()
    stored = store.load_job(job.job_id)
    assert stored.document["status"] == "cancelled"
    assert stored.pending == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pausing_commits_the_batch_and_resume_finishes_the_job(strategy: str) -> None:
    store = MemoryStore()
    gate = threading.Event()
    sink = Sink(gate)
    flow = chain(strategy, sink, store=store, checkpoint_every=1000, max_workers=1)
    job = flow.start("source", {"n": 3})
    assert sink.started.wait(5)
    pauser = threading.Thread(target=flow.pause, args=(job, 5))
    pauser.start()
    gate.set()
    pauser.join(5)
    stored = store.load_job(job.job_id)
    assert stored.document["status"] == "paused"
    assert len(stored.pending) == len(job.pending_deliveries) > 0
    assert flow.resume(job)
    assert job.wait(5)
    flow.shutdown()
    assert store.load_job(job.job_id).document["status"] == "completed"
    assert sorted(sink.seen) == [0, 1, 2]


def test_a_batch_lost_to_a_crash_runs_again_on_resume(tmp_path: Path) -> None:
    class Crash(SqliteStore):
        """Fails every checkpoint after the first ``survive``, as a process that died."""

        survive = 2

        def checkpoint(self, checkpoint: Checkpoint) -> None:
            if self.survive <= 0:
                raise OSError("the process is gone")
            self.survive -= 1
            super().checkpoint(checkpoint)

    store = Crash(tmp_path / "jobs.db")
    first_sink = Sink()
    first = chain("sequential", first_sink, store=store, checkpoint_every=4)
    crashed = first.execute("source", {"n": 10})
    first.shutdown()
    assert crashed.status == "failed"
    committed = store.load_job(crashed.job_id)
    assert committed.document["status"] == "running"
    assert committed.deliveries == 8  # Two batches of 4.
    store.survive = 10**6
    second_sink = Sink()
    second = chain("sequential", second_sink, store=store, checkpoint_every=4)
    assert second.resume(crashed.job_id, wait=True)
    second.shutdown()
    final = stored_view(store, crashed.job_id)
    assert final["status"] == "completed"
    assert final["pending"] == []
    assert final["deliveries"] == 21
    # Every message reached the sink; those of the lost batch, again.
    assert set(first_sink.seen) | set(second_sink.seen) == set(range(10))
    assert len(second_sink.seen) == len(set(second_sink.seen))
    assert [e for e in final["events"] if e[0] == "relay"] == [
        ("relay", "out", i) for i in range(10)
    ]
    store.close()


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10"])
def test_checkpoint_every_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(DefinitionError, match="checkpoint_every"):
        Flow(checkpoint_every=value)


def test_checkpoint_every_is_kept_in_the_flow_document() -> None:
    flow = chain("sequential", Sink(), checkpoint_every=25)
    document = flow.serialize()
    assert document["checkpoint_every"] == 25
    assert Flow.deserialize(document).checkpoint_every == 25
    assert "checkpoint_every" not in chain("sequential", Sink()).serialize()


@pytest.mark.parametrize("value", [0, "x", True])
def test_a_flow_document_with_a_bad_checkpoint_every_is_refused(value: Any) -> None:
    document = Flow("f").serialize()
    document["checkpoint_every"] = value
    with pytest.raises(SerializationError, match="checkpoint_every"):
        Flow.deserialize(document)


class NumberWatcher(Routine):
    """Checks, as each delivery starts, that the store already counts its number as taken."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self.store = store
        self.uncovered: list[str] = []
        self.drained = 0
        self.define_slot("trigger", handler=self.take)
        self.define_slot("input", handler=self.take)
        self.define_event("out", ["i"])

    def take(self, i: int, last: int) -> None:
        self.check()
        if i < last:
            self.emit("out", i=i + 1, last=last)

    def on_drain(self) -> None:
        self.drained += 1
        self.check()

    def check(self) -> None:
        ctx = self.get_execution_context()
        assert ctx is not None
        assert ctx.delivery_id is not None
        seq = int(ctx.delivery_id.rsplit(":", 1)[1])
        if seq >= self.store.load_job(ctx.job_state.job_id).next_seq:
            self.uncovered.append(ctx.delivery_id)


@pytest.mark.parametrize("strategy", STRATEGIES)
# 10,000: past the numbers the first commits reserved, twice. SEQ_RESERVE:
# the last message uses the last reserved number, so the drain round that
# follows is the first to go past it.
@pytest.mark.parametrize("last", [10_000, SEQ_RESERVE])
def test_no_delivery_starts_with_a_number_the_store_does_not_count_as_taken(
    strategy: str, last: int
) -> None:
    # After a crash, a resumed job numbers new deliveries from the store's
    # next_seq: a number in use before the crash must never be given again.
    store = MemoryStore()
    watcher = NumberWatcher(store)
    flow = Flow(execution_strategy=strategy, store=store, checkpoint_every=50, record_history=False)
    flow.add_routine(watcher, "watcher")
    flow.connect("watcher", "out", "watcher", "input")
    job = flow.execute("watcher", {"i": 0, "last": last})
    flow.shutdown()
    assert job.status == "completed", job.error
    assert watcher.drained == 1
    assert store.load_job(job.job_id).deliveries == last + 2  # With the drain.
    assert watcher.uncovered == []
