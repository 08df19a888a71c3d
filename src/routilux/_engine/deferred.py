"""A job's deferred events: emitted ahead of its pending deliveries when it resumes."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from routilux._engine.delivery import Delivery
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun
    from routilux._engine.plan import FlowPlan, Target
    from routilux._model.job_state import JobState

__all__ = ["DeferredEmit", "emit_deferred", "route_deferred", "save_resume", "warn_unemitted"]

logger = logging.getLogger("routilux")


class DeferredEmit(NamedTuple):
    """One deferred event of a job, routed through the flow: the emit it becomes.

    Attributes:
        routine_id: The emitting routine.
        event_name: The event.
        data: The event's data, as the history records it.
        deliveries: Each connected slot's target with its message (the
            connection's ``param_mapping`` applied), in connection order.
    """

    routine_id: str
    event_name: str
    data: dict[str, Any]
    deliveries: list[tuple[Target, dict[str, Any]]]


def route_deferred(plan: FlowPlan, job: JobState) -> list[DeferredEmit]:
    """Check and route every deferred event of ``job``, before any of the resume is done.

    Raises:
        DefinitionError: An event's routine is not in the flow, or has no
            such event; nothing may be resumed then.
        ExecutionError: A connection's ``param_mapping`` would lose a key of
            an event's data.
    """
    routed: list[DeferredEmit] = []
    with job.lock:
        entries = list(job.deferred_events)
    for i, entry in enumerate(entries):
        routine_id, event_name = entry["routine_id"], entry["event_name"]
        try:
            targets = plan.event_targets(routine_id, event_name)
        except DefinitionError as exc:
            raise DefinitionError(
                f"Job {job.job_id} cannot be resumed by this flow: its deferred event "
                f"deferred_events[{i}] is the event {event_name!r} of routine {routine_id!r}. "
                f"{exc} Nothing was resumed."
            ) from None
        data = entry["data"]
        deliveries = [(target, target.remap(data)) for target in targets]
        routed.append(DeferredEmit(routine_id, event_name, data, deliveries))
    return routed


def emit_deferred(run: JobRun, routed: list[DeferredEmit]) -> list[Delivery]:
    """Emit the routed deferred events of ``run``'s job; return the deliveries they make.

    Each is recorded in the history as an emit of its routine (a durable
    job saves the records with its next checkpoint); its deliveries are new
    ones, numbered in order, one hop from the start (as the emits of an entry
    delivery are). The emitted events leave the job's ``deferred_events``.
    The caller holds ``run.lock`` and runs the deliveries ahead of the
    job's pending ones.
    """
    job = run.job
    items: list[Delivery] = []
    if not routed:
        return items
    now = time.time()
    with job.lock:
        for emit in routed:
            if run.record_history:
                job.add_engine_record((emit.routine_id, emit.event_name, emit.data, now))
            items += [
                Delivery(target, data, next(run.counter), 1, 1) for target, data in emit.deliveries
            ]
        # The first ones: events added since they were routed stay for a later resume.
        del job.deferred_events[: len(routed)]
        job.checkpoint_marks.deferred_dirty = True
    if len(job.history_items) > run.history.cap:
        run.trim_history()
    return items


def save_resume(run: JobRun, added: list[Delivery]) -> None:
    """Write a durable job's resume, with the deliveries of its deferred events.

    The caller holds ``run.lock``. Without deliveries it is a status change
    like any other. With them, the one checkpoint also removes the emitted
    events from the store, so a store that refuses it stops the run (the
    store failed): no delivery may run that the store does not know, or a
    crash would lose the events' deliveries or emit the events again.
    """
    if not added:
        run.save_status()
        return
    assert run.durable is not None
    try:
        run.durable.status(added=added)
    except Exception as exc:  # Any failure of the store's code (or of ours).
        run.store_failed(exc)


def warn_unemitted(job: JobState) -> None:
    """Log a warning if ``job``, which is completing, still has deferred events."""
    count = len(job.deferred_events)
    if count:
        logger.warning(
            "Job %s of flow %r completed with %d deferred event(s) never emitted: deferred "
            "events are emitted when a paused job is resumed (flow.pause, then flow.resume), "
            "and this job was not resumed after they were added. They stay in "
            "job_state.deferred_events.",
            job.job_id,
            job.flow_id,
            count,
        )
