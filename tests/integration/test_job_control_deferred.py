"""Deferred events on resume: emitted first, through the connections, on every resume path."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from routilux import DefinitionError, Flow, JobState, JobStatus, Routine
from routilux.stores import MemoryStore

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


class Planner(Routine):
    """Defers ``done`` with the count, emits one ``item`` per number, then pauses its own job."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.plan)
        self.define_event("item", ["n"])
        self.define_event("done", ["total"])

    def plan(self, count: int, pause: bool = True) -> None:
        self.emit_deferred_event("done", total=count)
        for n in range(count):
            self.emit("item", n=n)
        if pause:
            context = self.get_execution_context()
            assert context is not None
            assert context.flow.pause(context.job_state) is True


class Sink(Routine):
    """Records every message it receives, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.set_max_concurrency(1)
        self.define_slot("input", handler=self.take)

    def take(self, **message: Any) -> None:
        with self.lock:
            self.received.append(message)


def pipeline(strategy: str = "sequential", **options: Any) -> tuple[Flow, Sink]:
    """planner.item -> sink; planner.done -> sink, its ``total`` renamed ``finished``."""
    flow = Flow(flow_id="deferred", execution_strategy=strategy, max_workers=1, **options)
    sink = Sink()
    flow.add_routine(Planner(), "planner")
    flow.add_routine(sink, "sink")
    flow.connect("planner", "item", "sink", "input")
    flow.connect("planner", "done", "sink", "input", param_mapping={"total": "finished"})
    return flow, sink


def paused(flow: Flow, count: int = 3) -> JobState:
    job = flow.start("planner", {"count": count})
    assert JobState.wait_for_completion(flow, job, PATIENCE)
    assert job.status is JobStatus.PAUSED
    return job


def emitted(job: JobState) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r.routine_id, r.event_name, r.data) for r in job.execution_history]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resume_emits_the_deferred_events_ahead_of_the_pending_deliveries(strategy: str) -> None:
    flow, sink = pipeline(strategy)
    job = paused(flow)
    assert [e["data"] for e in job.deferred_events] == [{"total": 3}]
    assert len(job.pending_deliveries) == 3

    assert flow.resume(job) is job
    assert job.wait(PATIENCE)
    flow.shutdown()

    assert job.status == "completed"
    assert sink.received == [{"finished": 3}, {"n": 0}, {"n": 1}, {"n": 2}]
    assert emitted(job)[-1] == ("planner", "done", {"total": 3})
    assert [r.event_name for r in job.execution_history] == ["item"] * 3 + ["done"]
    assert job.deferred_events == []


@pytest.mark.parametrize(
    ("routine_id", "event_name", "message"),
    [
        ("ghost", "done", r"no routine 'ghost'; routines: 'planner', 'sink'"),
        ("planner", "dnoe", r"Routine 'planner' has no event 'dnoe'; defined events: 'item'"),
    ],
)
def test_a_deferred_event_the_flow_lacks_refuses_the_resume_and_resumes_nothing(
    routine_id: str, event_name: str, message: str
) -> None:
    flow, sink = pipeline()
    job = paused(flow)
    job.add_deferred_event(routine_id, event_name, {})
    pending = list(job.pending_deliveries)

    with pytest.raises(DefinitionError, match=message) as caught:
        flow.resume(job)

    assert "deferred_events[1]" in str(caught.value)
    assert job.status is JobStatus.PAUSED
    assert job.pending_deliveries == pending
    assert len(job.deferred_events) == 2
    assert sink.received == []
    job.deferred_events.pop()
    assert flow.resume(job, wait=True) is job
    assert sink.received == [{"finished": 3}, {"n": 0}, {"n": 1}, {"n": 2}]


def test_a_deferred_event_of_an_unconnected_event_is_recorded_and_delivered_nowhere() -> None:
    flow, sink = pipeline()
    flow.disconnect("planner", "done", "sink", "input")
    job = paused(flow)

    assert flow.resume(job, wait=True) is job

    assert sink.received == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert emitted(job)[-1] == ("planner", "done", {"total": 3})
    assert job.deferred_events == []


def test_a_deserialized_paused_job_resumes_with_its_deferred_events_first() -> None:
    first, _ = pipeline()
    document = paused(first).serialize()
    first.shutdown()

    second, sink = pipeline()
    job = JobState.deserialize(document)
    assert second.resume(job, wait=True) is job

    assert sink.received == [{"finished": 3}, {"n": 0}, {"n": 1}, {"n": 2}]
    assert emitted(job)[-1] == ("planner", "done", {"total": 3})
    assert job.deferred_events == []


def test_a_deserialized_job_with_an_unknown_deferred_event_is_not_resumed() -> None:
    first, _ = pipeline()
    job = paused(first)
    job.add_deferred_event("ghost", "done", {})
    document = job.serialize()
    first.shutdown()

    second, sink = pipeline()
    copy = JobState.deserialize(document)
    with pytest.raises(DefinitionError, match="no routine 'ghost'"):
        second.resume(copy)

    assert copy.status is JobStatus.PAUSED
    assert len(copy.deferred_events) == 2
    assert second.get_execution(copy.job_id) is None
    assert sink.received == []


def test_deferred_events_added_while_paused_are_emitted_in_order() -> None:
    flow, sink = pipeline()
    job = paused(flow, count=1)
    job.add_deferred_event("planner", "done", {"total": "extra"})

    assert flow.resume(job, wait=True) is job

    assert sink.received == [{"finished": 1}, {"finished": "extra"}, {"n": 0}]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_durable_paused_job_keeps_its_deferred_events_in_the_store_until_resumed(
    strategy: str,
) -> None:
    store = MemoryStore()
    flow, sink = pipeline(strategy, store=store)
    job = paused(flow)
    stored = JobState.deserialize(store.load_job(job.job_id).document)
    assert stored.status is JobStatus.PAUSED
    assert stored.deferred_events == job.deferred_events

    assert flow.resume(job, wait=True) is job
    flow.shutdown()

    stored = JobState.deserialize(store.load_job(job.job_id).document)
    assert stored.status is JobStatus.COMPLETED
    assert stored.deferred_events == []
    assert emitted(stored) == emitted(job)
    assert sink.received[0] == {"finished": 3}


def test_batched_checkpoints_keep_the_deferred_events_too() -> None:
    store = MemoryStore()
    flow, _ = pipeline(store=store, checkpoint_every=100)
    job = paused(flow)

    stored = JobState.deserialize(store.load_job(job.job_id).document)
    assert stored.deferred_events == job.deferred_events
    assert len(stored.deferred_events) == 1
    flow.cancel(job)
    flow.shutdown()
