"""Conformance, part 6: the engine stores kept log records in every store, and resumes with them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import Flow, Routine, StoreError, read_job_logs
from routilux._model.durable import Checkpoint
from routilux.stores import JobStore

LOGGER = "tests.routilux.store_logs"


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        logging.getLogger(LOGGER).info("source sends %d", n)
        for i in range(n):
            self.emit("out", i=i)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, i: int) -> None:
        logging.getLogger(LOGGER).warning("sink takes %d", i)


class Failing:
    """A store whose checkpoints fail after ``survive`` of them: a crash, to the store."""

    def __init__(self, store: JobStore, survive: int) -> None:
        self.store = store
        self.survive = survive

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.survive <= 0:
            raise StoreError("the disk is gone")
        self.survive -= 1
        self.store.checkpoint(checkpoint)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture(autouse=True)
def info_logger() -> Iterator[None]:
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(logging.NOTSET)


def pipeline(store: Any, **options: Any) -> Flow:
    flow = Flow(flow_id="store-logs", store=store, keep_logs=True, **options)
    flow.add_routine(Source(), "source")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "sink", "input")
    return flow


def messages(store: JobStore, job_id: str, **options: Any) -> list[str]:
    return [entry.record["message"] for entry in read_job_logs(store, job_id, **options)]


@pytest.mark.parametrize("every", [1, 4])
def test_a_job_stores_its_kept_records_in_order(store: JobStore, every: int) -> None:
    with pipeline(store, checkpoint_every=every) as flow:
        job = flow.execute("source", {"n": 3})

    assert messages(store, job.job_id) == [
        "source sends 3",
        "sink takes 0",
        "sink takes 1",
        "sink takes 2",
    ]
    assert messages(store, job.job_id, min_level="WARNING", after=2) == [
        "sink takes 1",
        "sink takes 2",
    ]
    assert [entry.record for entry in store.read_job_logs(job.job_id)] == job.logs


def test_a_job_resumed_from_its_store_holds_its_stored_records(
    open_store: Callable[[], JobStore],
) -> None:
    store = open_store()
    with pipeline(Failing(store, survive=2)) as first:  # The source and one sink delivery.
        crashed = first.execute("source", {"n": 3})
    assert crashed.status == "failed"
    assert messages(store, crashed.job_id) == ["source sends 3", "sink takes 0"]

    with pipeline(store) as second:
        job = second.resume(crashed.job_id, wait=True)

    assert job is not None
    assert job.status == "completed"
    stored = messages(store, crashed.job_id)
    assert stored == ["source sends 3", "sink takes 0", "sink takes 1", "sink takes 2"]
    assert [entry["message"] for entry in job.logs] == stored
