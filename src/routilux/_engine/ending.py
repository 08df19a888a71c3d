"""Ending a job: completed, failed (stopped), cancelled, and what its store is told."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from routilux._engine.deferred import warn_unemitted
from routilux._engine.describe import describe_exception, dropped_count
from routilux._model.status import JobStatus
from routilux.exceptions import OwnershipLostError

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun

__all__ = ["cancel", "complete", "save_status", "stop", "store_failed"]

logger = logging.getLogger("routilux")


def complete(run: JobRun) -> None:
    """End the job ``completed`` (caller holds ``run.lock``)."""
    if not run.ended:
        warn_unemitted(run.job)
        _finish(run, JobStatus.COMPLETED)


def stop(run: JobRun, reason: str, *, keep_store: bool = False) -> None:
    """End the job ``failed`` (caller holds ``run.lock``).

    What has not run never will; it stays listed in ``pending_deliveries``.
    With ``keep_store``, a durable job's store is not told: it keeps the
    job running at its last checkpoint, to be resumed (``run.abandoned``).
    """
    if run.ended:
        return
    if keep_store and run.durable is not None:
        run.abandoned = True
    leftovers = run.pending_locked()
    run.drop_pending()
    if run.lost:
        pass  # Another process owns the job: it is not this flow's to resume.
    elif run.abandoned:
        reason = (
            f"{reason}; the store keeps the job as it was at its last checkpoint, and "
            f"flow.resume({run.job.job_id!r}) continues it from there"
        )
    elif leftovers:
        reason = f"{reason} ({dropped_count(len(leftovers))})"
    run.job.pending_deliveries = leftovers
    logger.error("Job %s of flow %r failed: %s", run.job.job_id, run.job.flow_id, reason)
    _finish(run, JobStatus.FAILED, reason)


def store_failed(run: JobRun, exc: BaseException) -> None:
    """Stop the job because its store failed (caller holds ``run.lock``).

    Nothing more is written to the store, which keeps the job running at
    its last checkpoint, so that it can be resumed once the store works
    again (in this process too: see ``run.abandoned``). When the store
    refused a write because another process has claimed the job
    (:class:`~routilux.OwnershipLostError`), the job is that process's now:
    nothing more is written either, and no further handler runs.
    """
    if isinstance(exc, OwnershipLostError):
        run.lost = True
        run.stop(describe_exception(exc), keep_store=True)
        return
    run.stop(f"The job store failed: {describe_exception(exc)}", keep_store=True)


def cancel(run: JobRun, reason: str | None = None) -> bool:
    """End the job ``cancelled`` (caller holds ``run.lock``); False if it had ended.

    ``job.error`` is ``reason`` (``"cancelled"`` by default), followed by
    how many pending deliveries were dropped.
    """
    if run.ended:
        return False
    dropped = run.drop_pending()
    run.job.pending_deliveries = []
    _finish(
        run,
        JobStatus.CANCELLED,
        f"{reason or 'cancelled'} ({dropped_count(dropped)})",
        drop_pending=True,
    )
    return True


def _finish(
    run: JobRun, status: JobStatus, error: str | None = None, *, drop_pending: bool = False
) -> None:
    """Mark the run ended, tell its store (first), then its job and whoever waits."""
    run.ended = run.interrupted = True
    if run.deadline_timer is not None:
        run.deadline_timer.cancel()
    run.counters.write_into(run.job)
    durable = run.durable
    if durable is not None and not run.abandoned:
        # Written first: if another process owns the job now, it ends failed
        # with that error instead. Waiters wake only once the store has it.
        refused = _save_final(run, status, error, drop_pending)
        if refused is not None:
            run.lost = run.abandoned = True
            status, error = JobStatus.FAILED, describe_exception(refused)
            logger.error("Job %s of flow %r failed: %s", run.job.job_id, run.job.flow_id, error)
    run.job.end(status, error)
    if durable is not None:
        if run.abandoned and not run.lost:
            durable.release()  # Another process may resume it at once.
        if durable.on_end is not None:
            durable.on_end()
    if run.hooks is not None:
        run.hooks.job_event("job_ended")  # Called once the caller releases run.lock.
    run.job.announce_end()
    run.quiet.notify_all()
    run.wakeup.set()


def _save_final(
    run: JobRun, status: JobStatus, error: str | None, drop_pending: bool
) -> OwnershipLostError | None:
    """Write the status the job ends with; return the refusal if another process owns it."""
    assert run.durable is not None
    try:
        run.durable.status(drop_pending=drop_pending, final=(status.value, error))
    except OwnershipLostError as exc:
        return exc
    except Exception as exc:  # Any failure of the store's code: the job ends anyway.
        logger.error(
            "Job %s: its store did not take the status %r: %s", run.job.job_id, status.value, exc
        )
    return None


def save_status(run: JobRun, *, drop_pending: bool = False) -> None:
    """Write the job's status to its store (caller holds ``run.lock``); log a failure."""
    assert run.durable is not None
    try:
        run.durable.status(drop_pending=drop_pending)
    except OwnershipLostError as exc:
        run.store_failed(exc)  # Another process owns the job: stop, if not ended.
    except Exception as exc:  # Any failure of the store's code: the job has ended anyway.
        logger.error(
            "Job %s: its store did not take the status %r: %s",
            run.job.job_id,
            run.job.status.value,
            exc,
        )
