"""A durable job's kept log records reach its store with each checkpoint; resumed, it has them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine, StoreError
from routilux._model.durable import Checkpoint
from routilux.logs import MAX_KEPT_LOGS
from routilux.stores import JobStore, MemoryStore, SqliteStore

LOGGER = "tests.routilux.durable_logs"
STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    """Logs ``chatter`` records, then emits ``n`` messages."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int, chatter: int = 1) -> None:
        for c in range(chatter):
            logging.getLogger(LOGGER).info("source %d", c)
        for i in range(n):
            self.emit("out", i=i)


class Worker(Routine):
    """Logs one record per message; fails (after logging) on ``bad``."""

    def __init__(self, bad: int | None = None) -> None:
        super().__init__()
        self.bad = bad
        self.define_slot("input", handler=self.work)

    def work(self, i: int) -> None:
        logging.getLogger(LOGGER).warning("worker %d", i)
        if i == self.bad:
            raise ValueError(f"bad {i}")


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


@pytest.fixture(autouse=True)
def info_logger() -> Iterator[None]:
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def pipeline(strategy: str, worker: Worker | None = None, **options: Any) -> Flow:
    flow = Flow(flow_id="logs", execution_strategy=strategy, **options)
    flow.add_routine(Source(), "source")
    flow.add_routine(worker or Worker(), "worker")
    flow.connect("source", "out", "worker", "input")
    return flow


def stored_messages(store: JobStore, job_id: str) -> list[str]:
    records = store.read_job_logs(job_id)
    assert [entry.position for entry in records] == list(range(len(records)))
    return [entry.record["message"] for entry in records]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_store_has_the_kept_records_of_a_job(
    strategy: str, every: int, kind: str, tmp_path: Path
) -> None:
    store: JobStore = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "jobs.db")
    flow = pipeline(strategy, store=store, checkpoint_every=every, keep_logs=True)
    with flow:
        job = flow.execute("source", {"n": 5})

    assert job.status == "completed"
    assert [entry.record for entry in store.read_job_logs(job.job_id)] == job.logs
    assert store.load_job(job.job_id).job_log_count == len(job.logs) == 6
    if strategy == "sequential":
        assert stored_messages(store, job.job_id) == [
            "source 0",
            *(f"worker {i}" for i in range(5)),
        ]


def test_a_flow_that_does_not_keep_logs_stores_none() -> None:
    store = MemoryStore()
    with pipeline("sequential", store=store) as flow:
        job = flow.execute("source", {"n": 2})

    assert store.read_job_logs(job.job_id) == []


def test_the_store_keeps_the_records_memory_dropped_before_the_checkpoint() -> None:
    store = MemoryStore()
    with pipeline("sequential", store=store, keep_logs=True) as flow:
        job = flow.execute("source", {"n": 1, "chatter": MAX_KEPT_LOGS + 10})

    assert len(job.logs) == MAX_KEPT_LOGS
    assert job.logs_dropped == 11
    messages = stored_messages(store, job.job_id)
    assert len(messages) == MAX_KEPT_LOGS + 11
    assert messages[:2] == ["source 0", "source 1"]
    assert messages[-1] == "worker 0"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_records_of_a_failed_delivery_are_stored_with_its_failure(strategy: str) -> None:
    store = MemoryStore()
    worker = Worker(bad=1)
    worker.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    with pipeline(strategy, worker, store=store, keep_logs=True) as flow:
        job = flow.execute("source", {"n": 3})

    assert job.status == "completed"
    # The engine's own warning of the failure is logged in the delivery too: kept.
    records = [entry.record for entry in store.read_job_logs(job.job_id)]
    assert records == job.logs
    assert sorted(r["message"] for r in records if r["logger"] == LOGGER) == [
        "source 0",
        "worker 0",
        "worker 1",
        "worker 2",
    ]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_resumed_job_holds_the_last_records_of_its_store_and_goes_on_storing(
    strategy: str,
) -> None:
    store = FailingStore(survive=1)  # The source's delivery is committed, then the store fails.
    first = pipeline(strategy, store=store, keep_logs=True, max_workers=1)
    with first:
        crashed = first.execute("source", {"n": 3, "chatter": MAX_KEPT_LOGS + 200})
    assert crashed.status == "failed"
    assert len(stored_messages(store, crashed.job_id)) == MAX_KEPT_LOGS + 200
    store.survive = 10**6

    with pipeline(strategy, store=store, keep_logs=True) as second:
        job = second.resume(crashed.job_id)
        assert job is not None
        resumed_logs = [entry["message"] for entry in job.logs]
        resumed_dropped = job.logs_dropped
        job.wait()

    # The records of the delivery that was running (not committed) are logged again, once.
    messages = stored_messages(store, crashed.job_id)
    assert messages[: MAX_KEPT_LOGS + 200] == [f"source {c}" for c in range(MAX_KEPT_LOGS + 200)]
    assert sorted(messages[MAX_KEPT_LOGS + 200 :]) == ["worker 0", "worker 1", "worker 2"]
    assert resumed_dropped >= 200
    assert (
        resumed_logs[: MAX_KEPT_LOGS - 200]
        == [f"source {c}" for c in range(resumed_dropped, MAX_KEPT_LOGS + 200)][
            : MAX_KEPT_LOGS - 200
        ]
    )
    assert job.status == "completed"
    assert [entry["message"] for entry in job.logs] == messages[-MAX_KEPT_LOGS:]
    assert job.logs_dropped == len(messages) - MAX_KEPT_LOGS


def test_a_flow_that_does_not_keep_logs_resumes_a_job_with_its_stored_records() -> None:
    store = FailingStore(survive=1)
    with pipeline("sequential", store=store, keep_logs=True) as first:
        crashed = first.execute("source", {"n": 1, "chatter": 3})
    store.survive = 10**6

    with pipeline("sequential", store=store) as second:
        job = second.resume(crashed.job_id, wait=True)

    assert job is not None
    assert job.status == "completed"
    assert [entry["message"] for entry in job.logs] == ["source 0", "source 1", "source 2"]
    assert job.logs_dropped == 0
    assert stored_messages(store, crashed.job_id) == ["source 0", "source 1", "source 2"]


class Odd(Worker):
    """Keeps a record no store can write with its second message."""

    def work(self, i: int) -> None:
        super().work(i)
        if i == 1:
            context = self.get_execution_context()
            assert context is not None
            context.job_state.keep_log({"message": "odd", "value": object()})


def test_a_record_no_store_can_write_fails_its_delivery_and_is_dropped() -> None:
    store = MemoryStore()
    worker = Odd()
    worker.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    with pipeline("sequential", worker, store=store, keep_logs=True) as flow:
        job = flow.execute("source", {"n": 3})

    assert job.status == "completed"
    [error] = job.errors
    assert (error.routine_id, error.error_type) == ("worker", "SerializationError")
    assert "kept log record" in error.message
    records = [entry.record for entry in store.read_job_logs(job.job_id)]
    # The failed delivery's other records are stored with its failure.
    messages = [r["message"] for r in records if r["logger"] == LOGGER]
    assert messages == ["source 0", "worker 0", "worker 1", "worker 2"]
    assert "odd" not in [r["message"] for r in records]
