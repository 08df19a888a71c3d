"""The records a job keeps: emitted events, errors and pending deliveries."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

__all__ = ["ErrorRecord", "ExecutionRecord", "JobProgress", "PendingDelivery"]


class ExecutionRecord(NamedTuple):
    """One event a routine emitted in a job.

    Attributes:
        routine_id: The emitting routine's id in the flow.
        event_name: The event's name.
        data: The emitted data.
        timestamp: When it was emitted, in seconds since the epoch.
    """

    routine_id: str
    event_name: str
    data: dict[str, Any]
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict."""
        return self._asdict()


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """One failure of a handler, or of the job itself.

    Attributes:
        routine_id: The routine whose handler failed (``None`` for job-level errors).
        slot: The slot whose handler failed (``None`` for job-level errors).
        error_type: The exception's class name.
        message: The exception's message.
        traceback: The formatted traceback.
        attempt: Which attempt of the delivery failed (1 for the first).
        action: What the job did: ``"retry"``, ``"continue"``, ``"skip"`` or ``"stop"``.
        timestamp: When it failed, in seconds since the epoch.
        delivery_id: The failed delivery's id, when there was one.
    """

    routine_id: str | None
    slot: str | None
    error_type: str
    message: str
    traceback: str
    attempt: int
    action: str
    timestamp: float
    delivery_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A delivery that was scheduled but has not run.

    Attributes:
        delivery_id: The delivery's stable id.
        routine_id: The receiving routine's id in the flow.
        slot: The receiving slot's name.
        data: The message.
        attempt: The attempt it will be (1 unless it is a retry).
        delay: Seconds it still had to wait (retries), 0 when ready.
    """

    delivery_id: str
    routine_id: str
    slot: str
    data: dict[str, Any]
    attempt: int = 1
    delay: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The delivery as a plain dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class JobProgress:
    """A snapshot of how far a running job has got.

    Attributes:
        job_id: The job.
        status: Its status value.
        deliveries: Deliveries run so far (each attempt counts).
        pending: Deliveries waiting: queued, parked or on a timer.
        running: Deliveries running now.
        per_routine: For each routine that received something, its
            ``{"deliveries": n, "failures": n, "skips": n}``.
        errors: Failures recorded so far.
    """

    job_id: str
    status: str
    deliveries: int
    pending: int
    running: int
    per_routine: dict[str, dict[str, int]]
    errors: int

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as a plain dict."""
        return asdict(self)
