"""Resuming a paused job that no flow runs and no store keeps; pause points; waiting on a flow."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    JobState,
    JobStatus,
    PendingDelivery,
    Routine,
    RoutineStats,
)

PATIENCE = 10.0


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("item", ["n"])

    def send(self, count: int) -> None:
        for n in range(count):
            self.emit("item", n=n)


class Sink(Routine):
    """Records each item with its delivery id; item 0 waits for ``release``; ``fail`` fails."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()
        self.seen: list[tuple[Any, str | None]] = []
        self.times: list[float] = []
        self.failed_at = 0.0
        self.define_slot("input", handler=self.take)

    def take(self, n: Any) -> None:
        if n == 0:
            self.started.set()
            self.release.wait(PATIENCE)
        if n == "fail":
            self.failed_at = time.monotonic()
            raise ValueError("failing again")
        context = self.get_execution_context()
        assert context is not None
        self.seen.append((n, context.delivery_id))
        self.times.append(time.monotonic())
        context.job_state.update_shared_data("last", n)


def pipeline(flow_id: str = "pipeline") -> tuple[Flow, Sink]:
    flow = Flow(flow_id=flow_id)
    sink = Sink()
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "item", "sink", "input")
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return flow, sink


def paused_job(count: int = 3) -> tuple[Flow, Sink, JobState]:
    """A job of ``pipeline`` paused while item 0 runs; the pause is taken once item 0 ends."""
    flow, sink = pipeline()
    job = flow.start("source", {"count": count})
    assert sink.started.wait(PATIENCE)
    threading.Timer(0.05, sink.release.set).start()
    assert flow.pause(job, "maintenance", {"step": 1}, timeout=PATIENCE)
    return flow, sink, job


def test_a_deserialized_paused_job_goes_on_in_memory_with_its_delivery_ids() -> None:
    flow, _, job = paused_job()
    pending_ids = [p.delivery_id for p in job.pending_deliveries]
    document = job.serialize()
    flow.cancel(job, "moved elsewhere")
    copy = JobState.deserialize(document)
    other, sink = pipeline()
    sink.release.set()
    resumed = other.resume(copy)
    assert resumed is copy
    assert other.get_execution(copy.job_id) is copy
    assert copy.wait(PATIENCE)
    assert copy.status is JobStatus.COMPLETED
    assert [delivery for _, delivery in sink.seen] == pending_ids
    assert [n for n, _ in sink.seen] == [1, 2]
    assert [r.event_name for r in copy.execution_history] == ["item"] * 3
    assert copy.get_shared_data("last") == 2


def test_a_paused_job_has_its_routine_stats_and_a_resumed_copy_counts_on() -> None:
    flow, _, job = paused_job()
    assert job.all_routine_stats() == {
        "source": RoutineStats(deliveries=1),
        "sink": RoutineStats(deliveries=1),
    }
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    other, sink = pipeline()
    sink.release.set()
    assert other.resume(copy, wait=True) is copy
    assert copy.all_routine_stats() == {
        "source": RoutineStats(deliveries=1),
        "sink": RoutineStats(deliveries=3),
    }
    assert copy.routine_states == {"source": {"status": "completed"}}


def test_a_resumed_pending_delivery_keeps_its_attempt_and_what_was_left_of_its_delay() -> None:
    flow, _, job = paused_job(count=1)
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    delivery = f"{copy.job_id}:41"
    copy.pending_deliveries = [PendingDelivery(delivery, "sink", "input", {"n": "fail"}, 2, 0.3)]
    other, sink = pipeline()
    asked = time.monotonic()
    assert other.resume(copy, wait=True) is copy
    [error] = [e for e in copy.errors if e.message == "failing again"]
    assert (error.delivery_id, error.attempt) == (delivery, 2)
    assert sink.failed_at - asked >= 0.25


def test_new_deliveries_of_a_resumed_job_are_numbered_after_the_ones_it_shows() -> None:
    flow, _, job = paused_job(count=1)
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    copy.pending_deliveries = [
        PendingDelivery(f"{copy.job_id}:90", "source", "trigger", {"count": 1})
    ]
    other, sink = pipeline()
    sink.release.set()
    assert other.resume(copy, wait=True)
    assert [delivery for _, delivery in sink.seen] == [f"{copy.job_id}:91"]


def test_a_pending_delivery_to_an_unknown_slot_is_refused_and_nothing_resumes() -> None:
    flow, _, job = paused_job()
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    copy.pending_deliveries = [PendingDelivery(f"{copy.job_id}:9", "sink", "inbox", {"n": 1})]
    other, _ = pipeline()
    with pytest.raises(DefinitionError, match="no slot 'inbox'"):
        other.resume(copy)
    assert copy.status is JobStatus.PAUSED
    assert other.get_execution(copy.job_id) is None


def test_a_pending_delivery_to_an_unknown_routine_is_refused() -> None:
    flow, _, job = paused_job()
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    copy.pending_deliveries = [PendingDelivery(f"{copy.job_id}:9", "gone", "input", {"n": 1})]
    with pytest.raises(DefinitionError, match="no routine 'gone'"):
        pipeline()[0].resume(copy)


def test_a_paused_job_of_another_flow_is_refused() -> None:
    flow, _, job = paused_job()
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    stranger, _ = pipeline("stranger")
    with pytest.raises(DefinitionError, match="belongs to flow 'pipeline'"):
        stranger.resume(copy)


def test_a_detached_job_that_is_not_paused_is_not_resumed() -> None:
    flow, sink = pipeline()
    sink.release.set()
    job = flow.execute("source", {"count": 1})
    other, _ = pipeline()
    assert other.resume(JobState.deserialize(job.serialize())) is None


# -- pause points ----------------------------------------------------------------------------


def test_each_pause_adds_one_pause_point_that_documents_keep() -> None:
    flow, _, job = paused_job()
    [point] = job.pause_points
    assert point["reason"] == "maintenance"
    assert point["checkpoint"] == {"step": 1}
    assert point["current_routine_id"] == "sink"
    assert point["pending_count"] == len(job.pending_deliveries) == 2
    assert point["timestamp"].endswith("+00:00")
    assert JobState.deserialize(job.serialize()).pause_points == [point]
    flow.resume(job)
    assert job.wait(PATIENCE)
    assert len(job.pause_points) == 1


def test_the_checkpoint_is_copied() -> None:
    flow, sink = pipeline()
    job = flow.start("source", {"count": 2})
    assert sink.started.wait(PATIENCE)
    checkpoint: dict[str, Any] = {"items": [1]}
    threading.Timer(0.05, sink.release.set).start()
    assert flow.pause(job, checkpoint=checkpoint, timeout=PATIENCE)
    checkpoint["items"].append(2)
    assert job.pause_points[0]["checkpoint"] == {"items": [1]}
    assert job.pause_points[0]["reason"] == ""
    flow.cancel(job)


# -- waiting on the flow, cancelling with a reason, shutting down with a timeout -------------


def test_wait_for_completion_waits_for_every_running_job() -> None:
    flow, sink = pipeline()
    jobs = [flow.start("source", {"count": 1}) for _ in range(2)]
    assert sink.started.wait(PATIENCE)
    assert flow.wait_for_completion(timeout=0.1) is False
    sink.release.set()
    assert flow.wait_for_completion(timeout=PATIENCE) is True
    assert all(job.status is JobStatus.COMPLETED for job in jobs)


def test_wait_for_completion_counts_a_paused_job_as_settled() -> None:
    flow, _, job = paused_job()
    assert flow.wait_for_completion(timeout=PATIENCE) is True
    assert flow.wait_for_completion(PATIENCE, job) is True
    flow.cancel(job)


def test_cancel_keeps_its_reason_in_the_error() -> None:
    flow, _, job = paused_job()
    assert flow.cancel(job, "Operator abort")
    assert job.error == "Operator abort (2 pending deliveries dropped)"


def test_shutdown_with_a_timeout_cancels_the_jobs_still_running() -> None:
    flow, sink = pipeline()
    job = flow.start("source", {"count": 1})
    assert sink.started.wait(PATIENCE)
    flow.shutdown(wait=True, timeout=0.1)
    assert job.status is JobStatus.CANCELLED
    sink.release.set()


# -- set_execution_strategy: later jobs get a pool of the new size ---------------------------


def test_jobs_started_after_a_new_max_workers_get_a_pool_of_that_size() -> None:
    barrier = threading.Barrier(3, timeout=2)

    class Meet(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.set_max_concurrency(None)
            self.define_slot("trigger", handler=self.fan)
            self.define_slot("input", handler=self.meet)
            self.define_event("go")

        def fan(self) -> None:
            for _ in range(3):
                self.emit("go")

        def meet(self) -> None:
            barrier.wait()

    flow = Flow(execution_strategy="concurrent", max_workers=2)
    flow.add_routine(Meet(), "meet")
    flow.connect("meet", "go", "meet", "input")
    try:
        small = flow.execute("meet")
        barrier.reset()
        flow.set_execution_strategy("concurrent", 3)
        large = flow.execute("meet")
    finally:
        flow.shutdown()
    assert small.status is JobStatus.FAILED
    assert large.status is JobStatus.COMPLETED


def test_a_resumed_job_never_reuses_the_number_of_a_delivery_that_left_no_trace() -> None:
    flow, sink, job = paused_job(count=3)  # Source :1 and item 0 done; items 1 and 2 pending.
    done = {delivery for _, delivery in sink.seen}
    copy = JobState.deserialize(job.serialize())
    flow.cancel(job)
    # A pending delivery numbered below the finished ones: nothing in the
    # document but its next-delivery number tells which numbers were used.
    copy.pending_deliveries = [
        PendingDelivery(f"{copy.job_id}:1", "source", "trigger", {"count": 1})
    ]
    other, other_sink = pipeline()
    other_sink.release.set()

    assert other.resume(copy, wait=True)

    (new,) = [delivery for _, delivery in other_sink.seen]
    assert done == {f"{copy.job_id}:2"}
    assert new == f"{copy.job_id}:{job._next_delivery}"
    assert new not in done
