"""Compatibility path: ``from routilux.job_state import JobState``."""

from routilux._model.job_state import JobState
from routilux._model.records import ErrorRecord, ExecutionRecord, PendingDelivery
from routilux._model.status import JobStatus

__all__ = ["ErrorRecord", "ExecutionRecord", "JobState", "JobStatus", "PendingDelivery"]
