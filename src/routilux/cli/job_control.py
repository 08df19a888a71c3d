"""Acting on a stored job that no process of this command runs.

A job is controlled (paused, cancelled) by the process that runs it, through
its :class:`~routilux.Flow`. When that process is gone, the job is only rows
in the store: cancelling it means writing, through the store's public
:meth:`~routilux.stores.JobStore.checkpoint`, the last checkpoint it would
have written had it been cancelled (status ``cancelled``, every pending
delivery dropped), as the engine does.
"""

from __future__ import annotations

from datetime import datetime, timezone

from routilux import JobStatus, StoreError
from routilux._engine.job_run import dropped_count
from routilux.stores import Checkpoint, JobStore, StoredJob, owner_is_alive

__all__ = ["cancel_stored_job", "refuse_if_running"]


def refuse_if_running(stored: StoredJob, job_id: str, done: str) -> None:
    """Refuse to act on an unfinished job that a live process runs.

    Args:
        stored: The job, as loaded from its store.
        job_id: Its id.
        done: What would be done to it, for the message (``"cancelled"``).

    Raises:
        StoreError: The job has not ended and its owner is alive.
    """
    if JobStatus(stored.document["status"]).is_terminal or not owner_is_alive(stored.owner):
        return
    raise StoreError(
        f"Job {job_id} is running in process {stored.owner}, so it cannot be {done} from "
        "here; stop it there first (Ctrl-C pauses a 'routilux run')."
    )


def cancel_stored_job(store: JobStore, job_id: str) -> int | None:
    """Mark an unfinished job of the store cancelled and drop its pending deliveries.

    Returns:
        How many pending deliveries were dropped, or ``None`` if the job had
        already ended (nothing is changed then).

    Raises:
        JobNotFound: The store has no such job.
        StoreError: A live process runs the job.
    """
    stored = store.load_job(job_id)
    if JobStatus(stored.document["status"]).is_terminal:
        return None
    refuse_if_running(stored, job_id, "cancelled")
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
        )
    )
    store.set_owner(job_id, None)
    return len(stored.pending)
