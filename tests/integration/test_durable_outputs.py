"""A durable job's outputs and recorded history reach its store with each checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine, StoreError
from routilux._model.durable import Checkpoint
from routilux.stores import JobStore, MemoryStore, SqliteStore

STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        self.send_output("started", n=n)
        for i in range(n):
            self.emit("out", i=i)


class Worker(Routine):
    """Records a history entry and sends an output per message; ``bad`` sends one no store takes."""

    def __init__(self, bad: int | None = None) -> None:
        super().__init__()
        self.bad = bad
        self.define_slot("input", handler=self.work)

    def work(self, i: int) -> None:
        context = self.get_execution_context()
        assert context is not None
        context.job_state.record_execution(context.routine_id, "worked", {"i": i})
        self.send_output("progress", i=i, thing=object() if i == self.bad else None)


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


def pipeline(strategy: str, worker: Worker | None = None, **options: Any) -> Flow:
    flow = Flow(flow_id="outputs", execution_strategy=strategy, **options)
    flow.add_routine(Source(), "source")
    flow.add_routine(worker or Worker(), "worker")
    flow.connect("source", "out", "worker", "input")
    return flow


class Relay(Worker):
    """A worker that also emits ``done`` for each message."""

    def __init__(self) -> None:
        super().__init__()
        self.define_event("done", ["i"])

    def work(self, i: int) -> None:
        super().work(i)
        self.emit("done", i=i)


def by_time(job: JobState) -> list[tuple[Any, ...]]:
    return sorted(
        ((r.timestamp, r.routine_id, r.event_name, r.data.get("i")) for r in job.execution_history),
        key=repr,
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_store_has_the_outputs_and_records_of_a_job(
    strategy: str, every: int, kind: str, tmp_path: Path
) -> None:
    store: JobStore = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "jobs.db")
    flow = pipeline(strategy, store=store, checkpoint_every=every)
    job = flow.execute("source", {"n": 5})
    flow.shutdown()
    stored = JobState.deserialize(store.load_job(job.job_id).document)
    assert job.status == "completed"
    assert stored.output_log == job.output_log
    assert len(job.output_log) == 6
    assert sorted(r.data["i"] for r in stored.get_execution_history("worker")) == list(range(5))
    assert by_time(stored) == by_time(job)
    if strategy == "sequential":  # One order: each handler's record, in delivery order.
        assert stored.execution_history == job.execution_history


def test_a_worker_records_before_the_emits_of_its_delivery_in_the_store() -> None:
    store = MemoryStore()
    job = pipeline("sequential", Relay(), store=store).execute("source", {"n": 2})
    events = [
        (entry["event_name"], entry["data"]["i"])
        for entry in store.load_job(job.job_id).document["execution_history"]
    ]
    assert events == [
        ("out", 0),
        ("out", 1),
        ("worked", 0),
        ("done", 0),
        ("worked", 1),
        ("done", 1),
    ]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_resumed_job_keeps_the_outputs_of_its_committed_deliveries(strategy: str) -> None:
    store = FailingStore(survive=3)
    first = pipeline(strategy, store=store, max_workers=1)
    crashed = first.execute("source", {"n": 6})
    first.shutdown()
    committed = store.load_job(crashed.job_id)
    saved = committed.document["output_log"]
    assert saved
    assert crashed.status == "failed"
    store.survive = 10**6

    second = pipeline(strategy, store=store)
    assert second.resume(crashed.job_id, wait=True)
    job = second.get_execution(crashed.job_id)
    second.shutdown()
    assert job is not None
    assert job.status == "completed"
    assert job.serialize()["output_log"][: len(saved)] == saved
    progress = sorted(e["data"]["i"] for e in job.output_log if e["output_type"] == "progress")
    assert progress == list(range(6))  # Each committed delivery's output is there once.
    stored = store.load_job(crashed.job_id).document
    assert stored["output_log"] == job.serialize()["output_log"]
    assert len(stored["execution_history"]) == len(job.execution_history) == 12


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_output_no_store_can_write_fails_its_delivery_and_is_dropped(strategy: str) -> None:
    store = MemoryStore()
    worker = Worker(bad=1)
    worker.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = pipeline(strategy, worker, store=store, max_workers=1)
    job = flow.execute("source", {"n": 3})
    flow.shutdown()
    assert job.status == "completed"
    [error] = job.errors
    assert (error.routine_id, error.error_type) == ("worker", "SerializationError")
    assert "output_log" in error.message
    kept = [e["data"]["i"] for e in job.output_log if e["output_type"] == "progress"]
    assert sorted(kept) == [0, 2]
    stored = store.load_job(job.job_id).document
    assert [e["data"].get("i") for e in stored["output_log"][1:]] == [
        e["data"]["i"] for e in job.output_log[1:]
    ]
