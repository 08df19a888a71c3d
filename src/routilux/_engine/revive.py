"""Continuing a paused job that no flow runs and no store keeps, from its own state."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from routilux._engine.deferred import emit_deferred, route_deferred
from routilux._engine.delivery import Delivery
from routilux._model.status import JobStatus
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._engine.engine import Engine
    from routilux._engine.plan import FlowPlan
    from routilux._model.job_state import JobState
    from routilux._model.records import PendingDelivery

__all__ = ["resume_in_memory"]


def resume_in_memory(engine: Engine, job: JobState) -> JobState:
    """Run the paused ``job`` again in this process, from its ``pending_deliveries``.

    For a job this process does not run (deserialized, say, or paused by
    another flow object) and that no store keeps. Each pending delivery
    keeps its id, its attempt and what was left of its delay; the job keeps
    its history, routine states, shared data and errors. Its deferred
    events are emitted first, their deliveries ahead of the pending ones.
    The flow remembers the job (``get_execution``).

    Nothing records which delivery ids were taken by deliveries that
    finished before the pause, so new deliveries are numbered after the
    highest id the job shows (its pending deliveries, errors and dead
    letters).

    Raises:
        DefinitionError: A pending delivery names a routine or slot the
            flow lacks, or has an id that is not of this job; a deferred
            event names a routine or event the flow lacks; or a routine is
            not ready to run. Nothing is resumed then.
    """
    plan = engine.port.plan()
    plan.check_routines()
    items = [(_item(plan, job, pending), pending.delay) for pending in job.pending_deliveries]
    routed = route_deferred(plan, job)
    settings = engine.port.settings()
    run = engine.new_run(settings, plan, settings.timeout, None, job)
    run.counter = itertools.count(_next_seq(job, [item for item, _ in items]))
    run.counters.seed_from(job)
    run.deliveries = sum(run.counters.invocations)
    run.timer_book.load(job.engine_timer_names, {item.seq for item, _ in items})
    job.pending_deliveries = []
    job.error = None
    engine.register(run)
    job.set_status(JobStatus.RUNNING)
    with run.lock:
        deferred = emit_deferred(run, routed)
    engine.launch(run, [*((item, 0.0) for item in deferred), *items])
    return job


def _item(plan: FlowPlan, job: JobState, pending: PendingDelivery) -> Delivery:
    seq = _seq_of(job, pending.delivery_id)
    if seq is None:
        raise DefinitionError(
            f"Job {job.job_id} cannot be resumed: its pending delivery "
            f"{pending.delivery_id!r} is not a delivery of this job (ids are "
            f"'{job.job_id}:<number>')."
        )
    try:
        target = plan.target(pending.routine_id, pending.slot)
    except DefinitionError as exc:
        raise DefinitionError(
            f"Job {job.job_id} cannot be resumed by this flow: its pending delivery "
            f"{pending.delivery_id} is for slot {pending.slot!r} of routine "
            f"{pending.routine_id!r}: {exc}"
        ) from None
    return Delivery(target, pending.data, seq, pending.attempt, pending.hops)


def _seq_of(job: JobState, delivery_id: str | None) -> int | None:
    """The number of the delivery ``delivery_id`` of ``job``, if it is one of its ids."""
    prefix = f"{job.job_id}:"
    if delivery_id is None or not delivery_id.startswith(prefix):
        return None
    number = delivery_id[len(prefix) :]
    return int(number) if number.isdigit() else None


def _next_seq(job: JobState, items: list[Delivery]) -> int:
    shown = [item.seq for item in items]
    shown += [_seq_of(job, error.delivery_id) or 0 for error in job.errors]
    shown += [_seq_of(job, letter.letter_id) or 0 for letter in job.dead_letters]
    return max(max(shown, default=0) + 1, job.next_delivery_hint or 0)
