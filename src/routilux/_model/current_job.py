"""``_current_job_state``: the job of the delivery running in this context, read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from routilux._model.context import CURRENT_FRAME
from routilux.exceptions import ExecutionError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState

__all__ = ["CurrentJobState", "current_job_state"]


class CurrentJobState:
    """Reads the job of the delivery running in this thread or task.

    Programs written for the published routilux read it as a context
    variable, ``_current_job_state.get(None)``; here the engine sets it, so
    it can be read but not set.
    """

    name = "_current_job_state"

    def get(self, default: Any = None) -> JobState | Any:
        """The running delivery's :class:`~routilux.JobState`, or ``default`` outside one."""
        frame = CURRENT_FRAME.get()
        return default if frame is None else frame.job()

    def set(self, value: object) -> None:
        """Refused: the engine sets the running job.

        Raises:
            ExecutionError: Always.
        """
        raise ExecutionError(
            "_current_job_state is set by the engine for each delivery; a program cannot "
            "set it. Run the job with flow.execute(...) or slot.receive(...)."
        )

    def reset(self, token: object) -> None:
        """Refused, as :meth:`set` is.

        Raises:
            ExecutionError: Always.
        """
        self.set(token)

    def __repr__(self) -> str:
        return "<_current_job_state (read-only)>"


#: The one reader, as ``routilux.routine._current_job_state``.
current_job_state = CurrentJobState()
