"""Deferred events of durable jobs survive a crash, and a resume emits them exactly once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from routilux import Flow, JobState, Routine, StoreError
from routilux._model.durable import Checkpoint
from routilux.stores import SqliteStore

STRATEGIES = ["sequential", "concurrent"]


class Planner(Routine):
    """Defers ``done``, then emits one ``item`` per number."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.plan)
        self.define_event("item", ["n"])
        self.define_event("done", ["total"])

    def plan(self, count: int) -> None:
        self.emit_deferred_event("done", total=count)
        for n in range(count):
            self.emit("item", n=n)


class Sink(Routine):
    """Records (delivery id, message) of every delivery, across the flows that share it."""

    def __init__(self, seen: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__()
        self.seen = seen
        self.lock = threading.Lock()
        self.define_slot("input", handler=self.take)

    def take(self, **message: Any) -> None:
        context = self.get_execution_context()
        assert context is not None
        with self.lock:
            self.seen.append((str(context.delivery_id), message))


class CrashingStore(SqliteStore):
    """A real SQLite store that takes ``survive`` more checkpoints, then fails: a crash."""

    survive = 10**6

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        if self.survive <= 0:
            raise StoreError("the disk is gone")
        self.survive -= 1
        super().checkpoint(checkpoint)


def pipeline(store: CrashingStore, strategy: str, seen: list[Any]) -> Flow:
    flow = Flow(flow_id="deferred", store=store, execution_strategy=strategy, max_workers=1)
    flow.add_routine(Planner(), "planner")
    flow.add_routine(Sink(seen), "sink")
    flow.connect("planner", "item", "sink", "input")
    flow.connect("planner", "done", "sink", "input", param_mapping={"total": "finished"})
    return flow


def crash_after(store: CrashingStore, checkpoints: int, run: Any) -> Any:
    """Run ``run()`` with the store taking ``checkpoints`` checkpoints, then working again."""
    store.survive = checkpoints
    try:
        return run()
    finally:
        store.survive = 10**6


def started_and_crashed(store: CrashingStore, strategy: str, seen: list[Any]) -> str:
    """A job whose process crashed after the planner's checkpoint and the first item's."""
    flow = pipeline(store, strategy, seen)
    job = crash_after(store, 2, lambda: flow.execute("planner", {"count": 3}))
    flow.shutdown()
    assert job.status == "failed"
    stored = JobState.deserialize(store.load_job(job.job_id).document)
    assert [e["data"] for e in stored.deferred_events] == [{"total": 3}]
    return job.job_id


def resumed(store: CrashingStore, strategy: str, seen: list[Any], job_id: str) -> JobState:
    flow = pipeline(store, strategy, seen)
    job = flow.resume(job_id, wait=True)
    flow.shutdown()
    assert job is not None
    return job


def finished(seen: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(delivery_id, message) for delivery_id, message in seen if "finished" in message]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_deferred_events_of_a_crashed_job_are_emitted_first_when_it_resumes(
    strategy: str, tmp_path: Path
) -> None:
    store = CrashingStore(tmp_path / "jobs.db")
    seen: list[tuple[str, dict[str, Any]]] = []
    job_id = started_and_crashed(store, strategy, seen)
    before = len(seen)

    job = resumed(store, strategy, seen, job_id)

    assert job.status == "completed"
    assert seen[before][1] == {"finished": 3}  # Ahead of the pending items.
    assert len(finished(seen)) == 1
    stored = JobState.deserialize(store.load_job(job_id).document)
    assert stored.deferred_events == []
    assert [r.event_name for r in stored.execution_history] == ["item"] * 3 + ["done"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_crash_after_the_resume_delivers_the_deferred_events_once(
    strategy: str, tmp_path: Path
) -> None:
    store = CrashingStore(tmp_path / "jobs.db")
    seen: list[tuple[str, dict[str, Any]]] = []
    job_id = started_and_crashed(store, strategy, seen)
    # The resume's checkpoint and the deferred delivery's are committed; the next is not.
    crashed = crash_after(store, 2, lambda: resumed(store, strategy, seen, job_id))
    assert crashed.status == "failed"
    assert len(finished(seen)) == 1

    job = resumed(store, strategy, seen, job_id)

    assert job.status == "completed"
    assert len(finished(seen)) == 1  # Never emitted again.
    # 1 was running at each crash; the deferred delivery ran once.
    assert sorted(m["n"] for _, m in seen if "n" in m) == [0, 1, 1, 1, 2]
    stored = JobState.deserialize(store.load_job(job_id).document)
    assert [r.event_name for r in stored.execution_history].count("done") == 1
    assert stored.deferred_events == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_crash_before_the_deferred_delivery_ran_runs_that_delivery_not_a_new_emit(
    strategy: str, tmp_path: Path
) -> None:
    store = CrashingStore(tmp_path / "jobs.db")
    seen: list[tuple[str, dict[str, Any]]] = []
    job_id = started_and_crashed(store, strategy, seen)
    # Only the resume's checkpoint is committed: the deferred delivery runs, is not saved.
    crash_after(store, 1, lambda: resumed(store, strategy, seen, job_id))
    [(delivery_id, _)] = finished(seen)

    job = resumed(store, strategy, seen, job_id)

    assert job.status == "completed"
    assert finished(seen) == [(delivery_id, {"finished": 3})] * 2  # The same delivery, again.
    stored = JobState.deserialize(store.load_job(job_id).document)
    assert [r.event_name for r in stored.execution_history].count("done") == 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_crash_at_the_resume_loses_no_deferred_event(strategy: str, tmp_path: Path) -> None:
    store = CrashingStore(tmp_path / "jobs.db")
    seen: list[tuple[str, dict[str, Any]]] = []
    job_id = started_and_crashed(store, strategy, seen)
    # The resume's own checkpoint fails: the store still has the deferred events.
    crash_after(store, 0, lambda: resumed(store, strategy, seen, job_id))
    assert finished(seen) == []
    stored = JobState.deserialize(store.load_job(job_id).document)
    assert len(stored.deferred_events) == 1

    job = resumed(store, strategy, seen, job_id)

    assert job.status == "completed"
    assert [m for _, m in finished(seen)] == [{"finished": 3}]
    assert JobState.deserialize(store.load_job(job_id).document).deferred_events == []


class Unstorable(Planner):
    """Defers ``done`` with a value no store can write."""

    def plan(self, count: int) -> None:
        self.emit_deferred_event("done", total=object())


def test_a_deferred_event_that_cannot_be_stored_fails_its_delivery(tmp_path: Path) -> None:
    store = CrashingStore(tmp_path / "jobs.db")
    flow = Flow(flow_id="unstorable", store=store)
    flow.add_routine(Unstorable(), "planner")
    job = flow.execute("planner", {"count": 1})
    flow.shutdown()

    assert job.status == "failed"
    assert "deferred_events" in job.errors[0].message
    assert job.deferred_events == []
    assert JobState.deserialize(store.load_job(job.job_id).document).deferred_events == []
