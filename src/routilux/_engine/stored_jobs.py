"""Acting on a stored job that no flow of this process runs: claiming, cancelling, deleting.

A job is controlled (paused, cancelled) by the process that runs it,
through its :class:`~routilux.Flow`. When that process is gone, the job is
only rows in the store. Acting on it means claiming it first (one
compare-and-set, refused while another process's lease is live), so that
no other process writes it any more; a cancel then writes, with that
claim, the last checkpoint the engine would have written had the job been
cancelled while it ran (status ``cancelled``, every pending delivery
dropped). :func:`claimable_job` is the owner check that resuming a job
makes too.
"""

from __future__ import annotations

from datetime import datetime, timezone

from routilux._engine.describe import dropped_count
from routilux._model.durable import Checkpoint, StoredJob
from routilux._model.ownership import check_claimable, process_owner
from routilux._model.status import JobStatus
from routilux._model.store import JobStore
from routilux.exceptions import JobNotFound

__all__ = [
    "cancel_stored_job",
    "claim_stored_job",
    "claimable_job",
    "delete_stored_job",
    "fail_stored_job",
]

#: Seconds a job claimed to be cancelled or deleted is held: long enough for one write.
_LEASE = 30.0


def claimable_job(
    store: JobStore, job_id: str, done: str, *, abandoned_claim: int | None = None
) -> StoredJob | None:
    """Load an unfinished job that this process may claim.

    Args:
        store: The job's store.
        job_id: The job.
        done: What would be done to it, for the message (``"resumed"``).
        abandoned_claim: This process ran the job under this claim and
            stopped it without telling the store: if the store still has
            that claim, the job's live lease is no reason to refuse.

    Returns:
        The job as stored, or ``None`` if it has already ended.

    Raises:
        JobNotFound: The store has no such job.
        JobOwnedError: Another live process owns the job.
    """
    stored = store.load_job(job_id)
    if JobStatus(stored.document["status"]).is_terminal:
        return None
    mine = abandoned_claim == stored.claim and stored.owner == process_owner()
    check_claimable(stored, job_id, done=done, mine=mine)
    return stored


def claim_stored_job(store: JobStore, job_id: str, done: str) -> int | None:
    """Claim an unfinished job of the store for this process, in one compare-and-set.

    Args:
        store: The store.
        job_id: The job.
        done: What will be done to it, for the message (``"cancelled"``).

    Returns:
        The claim this process's writes carry, or ``None`` if the job had
        already ended (nothing is changed then).

    Raises:
        JobNotFound: The store has no such job.
        JobOwnedError: A live process owns the job (its lease has not
            expired), or claimed it at the same moment.
    """
    stored = claimable_job(store, job_id, done)
    if stored is None:
        return None
    return store.claim_job(job_id, owner=process_owner(), expected_claim=stored.claim, lease=_LEASE)


def cancel_stored_job(store: JobStore, job_id: str) -> int | None:
    """Mark an unfinished job of ``store`` cancelled and drop its pending deliveries.

    For a job that no process runs any more (its process ended, or its
    lease expired); a job that a flow of this process runs is cancelled
    with :meth:`Flow.cancel`.

    Args:
        store: The job's store.
        job_id: The job.

    Returns:
        How many pending deliveries were dropped, or ``None`` if the job had
        already ended (nothing is changed then).

    Raises:
        JobNotFound: The store has no such job.
        JobOwnedError: A live process owns the job.
    """
    claim = claim_stored_job(store, job_id, "cancelled")
    if claim is None:
        return None
    stored = store.load_job(job_id)  # As of the claim: nobody else writes it now.
    store.checkpoint(
        Checkpoint(
            job_id=job_id,
            status=JobStatus.CANCELLED.value,
            updated_at=datetime.now(timezone.utc).isoformat(),
            current_routine_id=stored.document.get("current_routine_id"),
            error=f"cancelled ({dropped_count(len(stored.pending))})",
            deliveries=stored.deliveries,
            next_seq=stored.next_seq,
            drop_pending=True,
            claim=claim,
        )
    )
    return len(stored.pending)


def delete_stored_job(store: JobStore, job_id: str) -> None:
    """Delete a job of ``store`` with its dead letters; an unfinished one is claimed first.

    Args:
        store: The job's store.
        job_id: The job.

    Raises:
        JobNotFound: The store has no such job (or another process deleted it meanwhile).
        JobOwnedError: The job is unfinished and a live process owns it.
    """
    claim_stored_job(store, job_id, "deleted")
    if not store.delete_job(job_id):
        raise JobNotFound(f"The store has no job {job_id!r}.")


def fail_stored_job(store: JobStore, job_id: str, error: str) -> bool:
    """End an unfinished job of ``store`` ``failed`` with ``error``, dropping what it had pending.

    For a job no process can run (a worker that does not know its flow,
    say). It is claimed first, as a cancel claims it.

    Returns:
        Whether it was failed (``False``: it had already ended).

    Raises:
        JobNotFound: The store has no such job.
        JobOwnedError: A live process owns the job.
    """
    claim = claim_stored_job(store, job_id, "failed")
    if claim is None:
        return False
    stored = store.load_job(job_id)
    store.checkpoint(
        Checkpoint(
            job_id=job_id,
            status=JobStatus.FAILED.value,
            updated_at=datetime.now(timezone.utc).isoformat(),
            current_routine_id=stored.document.get("current_routine_id"),
            error=error,
            deliveries=stored.deliveries,
            next_seq=stored.next_seq,
            drop_pending=True,
            claim=claim,
        )
    )
    return True
