"""What tools say about a stored job and its dead letters, as JSON-ready dicts.

Everything is read from the job store, so a job is described the same way
whichever process ran it: the ``routilux`` command (``run``, ``jobs resume``,
``jobs show --json``, ``dead-letters replay``) and the HTTP service
(``GET /jobs/{job_id}``) all show :func:`job_report`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from routilux import DeadLetter, ErrorRecord, JobOwnedError, JobState, RoutineStats
from routilux.stores import JobStore, StoredJob, check_claimable

__all__ = ["error_dict", "iso_time", "job_report", "letter_dict"]


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601, UTC, to the millisecond."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


def error_dict(error: ErrorRecord, *, traceback: bool = False) -> dict[str, Any]:
    """One error record (its traceback only if asked)."""
    data = error.to_dict()
    data["timestamp"] = iso_time(error.timestamp)
    if not traceback:
        del data["traceback"]
    return data


def letter_dict(letter: DeadLetter, *, details: bool = False) -> dict[str, Any]:
    """One dead letter: its message and traceback only with ``details``."""
    data: dict[str, Any] = {
        "letter_id": letter.letter_id,
        "job_id": letter.job_id,
        "flow_id": letter.flow_id,
        "routine_id": letter.routine_id,
        "slot": letter.slot,
        "attempt": letter.attempt,
        "error_type": letter.error.error_type,
        "message": letter.error.message,
        "created_at": iso_time(letter.created_at),
        "replayed_by": letter.replayed_by,
    }
    if details:
        data["data"] = letter.data
        data["traceback"] = letter.error.traceback
    return data


def _duration(job: JobState, measured: float | None) -> float | None:
    """Seconds the job ran: as measured, else from its creation to its end (if it ended)."""
    if measured is not None:
        return round(measured, 3)
    if not job.status.is_terminal:
        return None  # ``updated_at`` changes with the status only: it says nothing yet.
    return round(max(0.0, (job.updated_at - job.created_at).total_seconds()), 3)


def _routines(job: JobState, routine_ids: list[str]) -> list[dict[str, Any]]:
    """Each routine's counts (``job.routine_stats``): the flow's routines, then any other."""
    stats = job.all_routine_stats()
    ids = list(dict.fromkeys([*routine_ids, *stats]))
    rows = []
    for rid in ids:
        counts = stats.get(rid)
        row = {"routine_id": rid, **(counts or RoutineStats()).to_dict()}
        if counts is None:
            row["status"] = "not run"
        rows.append(row)
    return rows


def job_report(
    store: JobStore, job_id: str, *, duration: float | None = None, tracebacks: bool = False
) -> dict[str, Any]:
    """Everything the commands show about a stored job.

    Args:
        store: The job's store.
        job_id: The job.
        duration: Seconds the command watched the job run; by default, for
            a job that has ended, the time from its creation to its end.
        tracebacks: Give each error its ``traceback`` too.

    Raises:
        JobNotFound: The store has no such job.
    """
    stored = store.load_job(job_id)
    job = JobState.deserialize(stored.document)
    flow_doc = stored.flow_document or {}
    routines = _routines(job, list(flow_doc.get("routines") or {}))
    letters = store.list_dead_letters(
        job_id=job_id, include_replayed=True, limit=max(stored.next_seq, 1)
    )
    return {
        "job_id": job.job_id,
        "flow_id": job.flow_id,
        "status": job.status.value,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "duration": _duration(job, duration),
        # The sequential strategy writes its delivery count to the store only
        # when it stops; the per-routine counts of every checkpoint are current.
        "deliveries": max(stored.deliveries, sum(r["deliveries"] for r in routines)),
        "pending": len(stored.pending),
        "owner": stored.owner,
        # A submitted job's queue (flow.submit, routilux submit), and the worker
        # (host:pid) that runs or ran it: its owner.
        "queue": stored.document.get("queue"),
        "worker": stored.owner if stored.document.get("queue") is not None else None,
        "owner_alive": not job.status.is_terminal and _owned_elsewhere(stored),
        "claim": stored.claim,
        "lease_expires_at": (
            None if stored.lease_expires_at is None else iso_time(stored.lease_expires_at)
        ),
        "lease_remaining": stored.lease_remaining,
        "routines": routines,
        "errors": [error_dict(error, traceback=tracebacks) for error in job.errors],
        "dead_letters": [letter_dict(letter) for letter in letters],
    }


def _owned_elsewhere(stored: StoredJob) -> bool:
    """Whether another live process owns the job (it could not be claimed from here)."""
    try:
        check_claimable(stored, "", done="")
    except JobOwnedError:
        return True
    return False
