"""Batched commits (``Flow(checkpoint_every=n)``): when a batch is written, and what it holds.

A batch is committed once it holds ``n`` deliveries, or with the next
failure or status change, whichever comes first; until then the store
holds nothing of it. Observed through a real SQLite file that records each
checkpoint it commits.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine
from routilux._model.durable import Checkpoint
from routilux.stores import SqliteStore

#: Seconds a handler or the engine may take to reach a point the test waits for.
PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


class RecordingStore(SqliteStore):
    """A SqliteStore that keeps, per commit, how many deliveries it finished and its status."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.commits: list[tuple[int, str]] = []

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        super().checkpoint(checkpoint)
        self.commits.append((len(checkpoint.done), checkpoint.status))


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Sink(Routine):
    """Takes ``i``; fails on ``fail_on``; blocks on ``gate`` when it takes ``hold_on``."""

    def __init__(self, fail_on: int | None = None, hold_on: int | None = None) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.hold_on = hold_on
        self.held = threading.Event()
        self.gate = threading.Event()
        self.set_max_concurrency(1)  # In order: the batches are the same on every run.
        self.define_slot("input", handler=self.take)

    def take(self, i: int) -> None:
        if i == self.hold_on:
            self.held.set()
            assert self.gate.wait(PATIENCE), "the test never opened the gate"
        if i == self.fail_on:
            raise ValueError(f"cannot take {i}")


def source_to_sink(strategy: str, sink: Sink, store: SqliteStore, every: int) -> Flow:
    flow = Flow(execution_strategy=strategy, store=store, checkpoint_every=every, max_workers=2)
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return flow


def run(strategy: str, tmp_path: Path, every: int, n: int, sink: Sink | None = None) -> Any:
    store = RecordingStore(tmp_path / "jobs.db")
    flow = source_to_sink(strategy, sink or Sink(), store, every)
    try:
        job = flow.execute("source", {"n": n})
    finally:
        flow.shutdown()
    stored = store.load_job(job.job_id)
    store.close()
    return job, store.commits, stored


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("every", "n"), [(1, 4), (2, 5), (3, 8), (5, 9), (50, 9)])
def test_a_batch_is_committed_when_it_holds_every_deliveries(
    strategy: str, tmp_path: Path, every: int, n: int
) -> None:
    job, commits, stored = run(strategy, tmp_path, every, n)

    deliveries = n + 1  # The source's, then one per message.
    full, rest = divmod(deliveries, every)
    # The job's end commits what is left, with the final status.
    expected = [(every, "running")] * full + [(rest, "completed")]
    assert job.status == "completed"
    assert commits == expected
    assert stored.deliveries == deliveries
    assert stored.pending == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_failure_commits_the_open_batch_with_it(strategy: str, tmp_path: Path) -> None:
    job, commits, stored = run(strategy, tmp_path, 4, 9, Sink(fail_on=4))

    # source, 0, 1, 2 | 3, then the failure of 4 ends the batch early | 5 .. 8 | the end.
    assert [done for done, _ in commits] == [4, 2, 4, 0]
    assert sum(done for done, _ in commits) == 10
    assert job.status == "completed"
    assert [e.error_type for e in job.errors] == ["ValueError"]
    assert stored.deliveries == 10
    assert len(stored.document["errors"]) == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_store_holds_nothing_of_an_open_batch(strategy: str, tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "jobs.db")
    sink = Sink(hold_on=5)
    flow = source_to_sink(strategy, sink, store, 4)
    try:
        job = flow.start("source", {"n": 8})
        assert sink.held.wait(PATIENCE)
        # Done so far: the source and messages 0 to 4; one batch of 4 is committed.
        with SqliteStore(tmp_path / "jobs.db") as reader:
            mid = reader.load_job(job.job_id)
        sink.gate.set()
        assert job.wait(PATIENCE)
    finally:
        sink.gate.set()
        flow.shutdown()

    assert mid.document["status"] == "running"
    assert mid.deliveries == 4
    assert len(mid.pending) == 5  # Messages 3 to 7: 3 and 4 ran, their batch is still open.
    assert store.load_job(job.job_id).deliveries == 9
    store.close()
