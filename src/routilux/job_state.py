"""Compatibility path: ``from routilux.job_state import JobState``."""

from routilux._model.job_state import JobState
from routilux._model.records import ErrorRecord, ExecutionRecord, PendingDelivery, RoutineStats
from routilux._model.status import JobStatus

__all__ = [
    "ErrorRecord",
    "ExecutionRecord",
    "JobState",
    "JobStatus",
    "PendingDelivery",
    "RoutineStats",
]
