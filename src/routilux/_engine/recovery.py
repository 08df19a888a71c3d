"""Resuming a job from its store, and replaying dead letters."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

from routilux._engine.ownership import owner_is_alive, process_owner
from routilux._model.job_state import JobState
from routilux._model.status import JobStatus
from routilux.exceptions import StoreError

if TYPE_CHECKING:
    from routilux._engine.engine import Engine
    from routilux._model.durable import StoredJob
    from routilux.stores.protocol import JobStore

__all__ = ["resume_from_store"]


def resume_from_store(
    engine: Engine,
    job_id: str,
    store: JobStore,
    job: JobState | None = None,
    *,
    abandoned: bool = False,
) -> JobState | None:
    """Continue an unfinished job from its last checkpoint, in this process.

    Completed deliveries are not in the store's pending list, so they never
    run again; the delivery that was running when the job's process died
    is, so it runs again. Retries keep what is left of their delay.

    Args:
        engine: The engine of the flow that runs the job.
        job_id: The job.
        store: Where the job is kept.
        job: A JobState object to bring up to date and run, instead of a new one.
        abandoned: This process ran the job and stopped it without telling
            the store (it was interrupted, or its store failed): the store
            names this process as the job's owner, and that is no reason to
            refuse.

    Returns:
        The running job, or ``None`` if it had already ended.

    Raises:
        JobNotFound: The store has no such job.
        StoreError: Another live process on this host runs the job.
        DefinitionError: The flow lacks a routine or slot the job needs.
    """
    stored = store.load_job(job_id)
    if JobStatus(stored.document["status"]).is_terminal:
        return None
    if not (abandoned and stored.owner == process_owner()):
        _check_owner(job_id, stored.owner)
    plan = engine.flow._compiled()
    plan.check_routines()
    items = [
        ((plan.target(d.routine_id, d.slot), d.data, d.seq, d.attempt), d.not_before)
        for d in stored.pending
    ]
    fresh = _job_from(stored, job)
    fresh.dead_letters = store.list_dead_letters(
        job_id=job_id, include_replayed=True, limit=stored.next_seq
    )
    run = engine._new_run(plan, engine.flow.execution_timeout, store, job=fresh)
    assert run.durable is not None
    run.deliveries = stored.deliveries
    run.counter = itertools.count(stored.next_seq)
    run.durable.max_seq = stored.next_seq - 1
    run.seed_counters()
    run.timer_book.load(fresh.routine_states, {d.seq for d in stored.pending})
    engine._register(run)
    store.set_owner(job_id, process_owner())
    with run.lock:
        run.save_status()
    now = time.time()
    engine.launch(run, [(item, max(0.0, not_before - now)) for item, not_before in items])
    return fresh


def _job_from(stored: StoredJob, job: JobState | None) -> JobState:
    loaded = JobState.deserialize(stored.document)
    if job is None:
        job = loaded
    else:
        for name in (
            "flow_id",
            "created_at",
            "routine_states",
            "_history",
            "shared_data",
            "shared_log",
            "errors",
            "dead_letters",
        ):
            setattr(job, name, getattr(loaded, name))
    job.status = JobStatus.RUNNING
    job.error = None
    job.pending_deliveries = []
    job._finished.clear()
    job._log_saved = len(job.shared_log)
    return job


def _check_owner(job_id: str, owner: str | None) -> None:
    """Refuse to resume a job that a live process of this host still runs."""
    if owner_is_alive(owner):
        raise StoreError(
            f"Job {job_id} is still running in process {owner}; it can only be resumed "
            "once that process has ended."
        )
