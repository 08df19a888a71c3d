"""The job status machine."""

from __future__ import annotations

from enum import Enum

from routilux.exceptions import InvalidTransitionError

__all__ = ["JobStatus"]


class JobStatus(str, Enum):
    """The status of one job.

    A ``str`` enum: ``str(status)`` and ``f"{status}"`` give the bare value
    (``"completed"``), and a status compares equal to its value.
    """

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    def __format__(self, format_spec: str) -> str:
        return format(self.value, format_spec)

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended and can change no more."""
        return self in _TERMINAL

    def can_become(self, new: JobStatus) -> bool:
        """Whether the status machine allows the change to ``new``."""
        return new in _TRANSITIONS[self]

    def check_transition(self, new: JobStatus) -> None:
        """Raise unless the change to ``new`` is allowed.

        Raises:
            InvalidTransitionError: The change is not in the transition table.
        """
        if new not in _TRANSITIONS[self]:
            allowed = ", ".join(sorted(s.value for s in _TRANSITIONS[self])) or "none"
            raise InvalidTransitionError(
                f"A job cannot go from {self.value!r} to {new.value!r}; "
                f"allowed from {self.value!r}: {allowed}."
            )


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.PAUSED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.PAUSED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}
