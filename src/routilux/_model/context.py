"""The execution context a handler runs in."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine

__all__ = ["CURRENT_FRAME", "ExecutionContext", "Frame"]


class ExecutionContext(NamedTuple):
    """The job a handler is running for.

    Attributes:
        flow: The flow that runs the job.
        job_state: The job's state.
        routine_id: The id, in the flow, of the routine asking.
    """

    flow: Any
    job_state: JobState
    routine_id: str


class Frame(Protocol):
    """What the engine provides to a handler while it runs."""

    def emit(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Schedule ``data`` for every slot connected to the routine's event."""

    def context_for(self, routine: Routine) -> ExecutionContext:
        """The execution context of ``routine`` in the running job."""


#: The frame of the delivery running in this thread or task, if any.
CURRENT_FRAME: ContextVar[Frame | None] = ContextVar("routilux_frame", default=None)
