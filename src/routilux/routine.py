"""Compatibility path: ``from routilux.routine import Routine, ExecutionContext``.

Also ``_current_job_state``, the job of the delivery running in this
context: ``_current_job_state.get(None)`` reads it; it cannot be set.
"""

from routilux._model.context import ExecutionContext
from routilux._model.current_job import current_job_state as _current_job_state
from routilux._model.routine import Routine

__all__ = ["ExecutionContext", "Routine", "_current_job_state"]
