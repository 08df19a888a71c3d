"""Acting on a stored job that no process of this command runs.

A job is controlled (paused, cancelled) by the process that runs it, through
its :class:`~routilux.Flow`. When that process is gone, the job is only rows
in the store: cancelling it means claiming it (one compare-and-set, refused
while another process's lease is live), then writing, through the store's
public :meth:`~routilux.stores.JobStore.checkpoint` and with that claim, the
last checkpoint it would have written had it been cancelled (status
``cancelled``, every pending delivery dropped), as the engine does.
"""

from __future__ import annotations

from datetime import datetime, timezone

from routilux import JobStatus
from routilux._engine.describe import dropped_count
from routilux.stores import Checkpoint, JobStore, check_claimable, process_owner

__all__ = ["cancel_stored_job", "claim_stored_job"]

#: Seconds this command holds a job it claimed: long enough for the one write it makes.
_LEASE = 30.0


def claim_stored_job(store: JobStore, job_id: str, done: str) -> int | None:
    """Claim an unfinished job of the store for this command, in one compare-and-set.

    Args:
        store: The store.
        job_id: The job.
        done: What will be done to it, for the message (``"cancelled"``).

    Returns:
        The claim this command's writes carry, or ``None`` if the job had
        already ended (nothing is changed then).

    Raises:
        JobNotFound: The store has no such job.
        JobOwnedError: A live process owns the job (its lease has not
            expired), or claimed it at the same moment.
    """
    stored = store.load_job(job_id)
    if JobStatus(stored.document["status"]).is_terminal:
        return None
    check_claimable(stored, job_id, done=done)
    return store.claim_job(job_id, owner=process_owner(), expected_claim=stored.claim, lease=_LEASE)


def cancel_stored_job(store: JobStore, job_id: str) -> int | None:
    """Mark an unfinished job of the store cancelled and drop its pending deliveries.

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
            error=f"Cancelled ({dropped_count(len(stored.pending))})",
            deliveries=stored.deliveries,
            next_seq=stored.next_seq,
            drop_pending=True,
            claim=claim,
        )
    )
    return len(stored.pending)
