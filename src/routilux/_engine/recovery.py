"""Resuming a job from its store, and replaying dead letters."""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

from routilux._engine import tracing
from routilux._engine.deferred import emit_deferred, route_deferred, save_resume
from routilux._engine.delivery import Delivery
from routilux._engine.stored_jobs import claimable_job
from routilux._model.job_logs import MAX_KEPT_LOGS
from routilux._model.job_state import JobState
from routilux._model.ownership import process_owner
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._engine.engine import Engine
    from routilux._engine.job_run import JobRun
    from routilux._engine.settings import EngineSettings
    from routilux._model.durable import StoredJob
    from routilux._model.store import JobStore

__all__ = ["resume_from_store"]


def resume_from_store(
    engine: Engine,
    job_id: str,
    store: JobStore,
    job: JobState | None = None,
    *,
    abandoned_claim: int | None = None,
) -> JobState | None:
    """Continue an unfinished job from its last checkpoint, in this process.

    Completed deliveries are not in the store's pending list, so they never
    run again; the delivery that was running when the job's process died
    is, so it runs again. Retries keep what is left of their delay. The
    job's deferred events are emitted first: their deliveries go ahead of
    the pending ones, and the store takes them, with the emptied list of
    deferred events, in the checkpoint that records the resume.

    The job is claimed first, in one compare-and-set on the claim that was
    loaded: of several processes (or threads) resuming it at once, exactly
    one gets it, and the others are refused with
    :class:`~routilux.JobOwnedError`.

    Args:
        engine: The engine of the flow that runs the job.
        job_id: The job.
        store: Where the job is kept.
        job: A JobState object to bring up to date and run, instead of a new one.
        abandoned_claim: This flow ran the job under this claim and stopped
            it without telling the store (it was interrupted, or its store
            failed): if the store still has that claim, its lease is no
            reason to refuse.

    Returns:
        The running job, or ``None`` if it had already ended.

    Raises:
        JobNotFound: The store has no such job.
        JobOwnedError: Another live process owns the job (its lease has not
            expired), or claimed it at the same moment.
        DefinitionError: The flow lacks a routine, slot or event the job needs.
    """
    stored = claimable_job(store, job_id, "resumed", abandoned_claim=abandoned_claim)
    if stored is None:
        return None
    settings = engine.port.settings()
    plan = engine.port.plan()
    plan.check_routines()
    lease = settings.lease_seconds
    sent = time.monotonic()
    claim = store.claim_job(job_id, owner=process_owner(), expected_claim=stored.claim, lease=lease)
    try:
        # Again, now that no one else writes it: the owner whose lease had
        # expired may have committed between the first load and the claim.
        stored = store.load_job(job_id)
        if JobStatus(stored.document["status"]).is_terminal:
            store.release_job(job_id, claim=claim)
            return None
        items = [
            (
                Delivery(plan.target(d.routine_id, d.slot), d.data, d.seq, d.attempt, d.hops),
                d.not_before,
            )
            for d in stored.pending
        ]
        loaded = JobState.deserialize(stored.document)
        routed = route_deferred(plan, loaded)
        run = _prepare(engine, settings, stored, loaded, job, store)
    except BaseException:
        store.release_job(job_id, claim=claim)
        raise
    assert run.durable is not None
    run.durable.adopt(claim, sent)
    tracing.adopt_contexts(run, ((d.seq, d.context) for d in stored.pending))
    engine.register(run)
    with run.lock:
        deferred = emit_deferred(run, routed)
        save_resume(run, deferred)
    engine.services.hold_lease(run)
    now = time.time()
    ready = [(item, 0.0) for item in deferred]
    engine.launch(run, ready + [(item, max(0.0, due - now)) for item, due in items])
    return run.job


def _prepare(
    engine: Engine,
    settings: EngineSettings,
    stored: StoredJob,
    loaded: JobState,
    job: JobState | None,
    store: JobStore,
) -> JobRun:
    """The run of a resumed job, with its state and counters as the store has them."""
    fresh = _job_from(loaded, job)
    fresh.dead_letters = store.list_dead_letters(
        job_id=fresh.job_id, include_replayed=True, limit=stored.next_seq
    )
    run = engine.new_run(settings, engine.port.plan(), settings.timeout, store, job=fresh)
    assert run.durable is not None
    run.deliveries = stored.deliveries
    run.counter = itertools.count(stored.next_seq)
    run.durable.max_seq = stored.next_seq - 1
    run.durable.saved_shared = dict(fresh.shared_data)
    run.counters.seed_from(run.job)
    run.timer_book.load(fresh.engine_timer_names, {d.seq for d in stored.pending})
    _restore_logs(fresh, stored, store)
    return run


def _restore_logs(job: JobState, stored: StoredJob, store: JobStore) -> None:
    """Give the job the last :data:`MAX_KEPT_LOGS` log records its store keeps.

    The older ones are counted in ``logs_dropped``, as if they had been
    dropped from memory while the job ran here.
    """
    first = max(0, stored.job_log_count - MAX_KEPT_LOGS)
    records = [] if not stored.job_log_count else store.read_job_logs(job.job_id, after=first)
    job.restore_logs((entry.record for entry in records), first)


def _job_from(loaded: JobState, job: JobState | None) -> JobState:
    """The job to run: ``job`` brought up to date with ``loaded`` (the store's), or ``loaded``."""
    if job is None:
        loaded.running_as_stored()
        return loaded
    job.resume_as(loaded)
    return job
