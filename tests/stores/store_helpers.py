"""Builders for the store tests: jobs, checkpoints, deliveries, errors and dead letters."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from routilux import ErrorRecord, JobState, JobStatus
from routilux._model.durable import Checkpoint, DeadLetter, StoredDelivery
from routilux.stores import JobStore

UPDATED = "2024-05-01T12:00:00+00:00"


def new_job(
    store: JobStore,
    *,
    flow_id: str = "flow",
    status: JobStatus = JobStatus.RUNNING,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    pending: list[StoredDelivery] | None = None,
    next_seq: int | None = None,
    shared_data: dict[str, Any] | None = None,
    **options: Any,
) -> JobState:
    """Create a job in ``store`` and return the JobState it was made from."""
    job = JobState(flow_id)
    job.status = status
    if created_at is not None:
        job.created_at = created_at
    if updated_at is not None:
        job.updated_at = updated_at
    job.shared_data = dict(shared_data or {})
    pending = pending or []
    store.create_job(
        job.serialize(),
        pending=pending,
        next_seq=next_seq if next_seq is not None else len(pending),
        **options,
    )
    return job


def delivery(seq: int, **changes: Any) -> StoredDelivery:
    """A pending delivery to ``worker.input`` carrying ``{"n": seq}``."""
    values: dict[str, Any] = {"routine_id": "worker", "slot": "input", "data": {"n": seq}}
    values.update(changes)
    return StoredDelivery(seq=seq, **values)


def error_record(message: str = "boom", **changes: Any) -> ErrorRecord:
    """A handler failure of ``worker.input``."""
    values: dict[str, Any] = {
        "routine_id": "worker",
        "slot": "input",
        "error_type": "ValueError",
        "message": message,
        "traceback": "Traceback (most recent call last): ...",
        "attempt": 1,
        "action": "continue",
        "timestamp": 1_714_564_800.5,
        "delivery_id": None,
    }
    values.update(changes)
    return ErrorRecord(**values)


def dead_letter(job: JobState, seq: int, *, created_at: float = 1.0, **changes: Any) -> DeadLetter:
    """A dead letter of ``job``'s delivery ``seq``."""
    values: dict[str, Any] = {
        "letter_id": f"{job.job_id}:{seq}",
        "job_id": job.job_id,
        "flow_id": job.flow_id,
        "routine_id": "worker",
        "slot": "input",
        "data": {"n": seq, "raw": b"\x00\xff", "pair": (1, 2)},
        "attempt": 3,
        "error": error_record(action="stop", attempt=3),
        "created_at": created_at,
    }
    values.update(changes)
    return DeadLetter(**values)


def checkpoint(job: JobState, **changes: Any) -> Checkpoint:
    """A checkpoint of ``job`` that changes only what ``changes`` says (and the status)."""
    values: dict[str, Any] = {
        "job_id": job.job_id,
        "status": "running",
        "updated_at": UPDATED,
        "current_routine_id": "worker",
        "error": None,
        "deliveries": 1,
        "next_seq": 1,
    }
    values.update(changes)
    return Checkpoint(**values)


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A UTC datetime."""
    return datetime(year, month, day, hour, tzinfo=timezone.utc)
