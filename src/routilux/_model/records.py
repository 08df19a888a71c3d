"""The records a job keeps: emitted events, errors, pending deliveries and routine counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple

__all__ = ["ErrorRecord", "ExecutionRecord", "JobProgress", "PendingDelivery", "RoutineStats"]


class _ExecutionRecordFields(NamedTuple):
    routine_id: str
    event_name: str
    data: dict[str, Any]
    timestamp: datetime


class ExecutionRecord(_ExecutionRecordFields):
    """One event a routine emitted in a job (or one ``JobState.record_execution`` added).

    A named tuple. Every field has a default, as in the published routilux
    0.10: ``ExecutionRecord()`` is an empty record made now.

    Attributes:
        routine_id: The emitting routine's id in the flow (default ``""``).
        event_name: The event's name (default ``""``).
        data: The emitted data (default: a new empty dict).
        timestamp: When it was emitted, a timezone-aware UTC ``datetime``
            (default: now). Subtracting a naive ``datetime`` from it, such as
            ``datetime.now()``, raises ``TypeError``: use
            ``datetime.now(timezone.utc)``.
    """

    __slots__ = ()

    def __new__(
        cls,
        routine_id: str = "",
        event_name: str = "",
        data: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> ExecutionRecord:
        return super().__new__(
            cls,
            routine_id,
            event_name,
            {} if data is None else data,
            datetime.now(timezone.utc) if timestamp is None else timestamp,
        )

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
        hops: How many deliveries led to it: 0 for the job's entry
            delivery, one more than its emitter's for the others.
    """

    delivery_id: str
    routine_id: str
    slot: str
    data: dict[str, Any]
    attempt: int = 1
    delay: float = 0.0
    hops: int = 0

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


@dataclass(frozen=True, slots=True)
class RoutineStats:
    """What the engine counted of one routine in a job (``JobState.routine_stats``).

    Kept apart from the routine's state (``JobState.routine_states``), which
    holds what its handlers stored there.

    Attributes:
        deliveries: Deliveries run to the routine; each attempt counts.
        failures: Deliveries that failed for good under STOP, CONTINUE or
            an exhausted RETRY.
        skips: Deliveries that failed and were skipped (SKIP).
    """

    deliveries: int = 0
    failures: int = 0
    skips: int = 0

    @property
    def status(self) -> str:
        """The routine's status, from the counts.

        ``"failed"`` if a delivery failed, else ``"skipped"`` if one was
        skipped, else ``"completed"``.
        """
        return "failed" if self.failures else "skipped" if self.skips else "completed"

    def to_dict(self) -> dict[str, Any]:
        """The counts and the status as a plain dict."""
        return {"status": self.status, **asdict(self)}

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.to_dict().items())
        return f"RoutineStats({fields})"
