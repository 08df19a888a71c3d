"""The execution context a handler runs in."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from routilux._flow import Flow
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

    flow: Flow
    job_state: JobState
    routine_id: str

    @property
    def delivery_id(self) -> str | None:
        """The stable id of the delivery running now (``"{job_id}:{n}"``).

        The same across retries of the delivery and across a resume of its
        job, so a handler can use it as an idempotency key.
        """
        frame = CURRENT_FRAME.get()
        return None if frame is None else frame.delivery_id()

    @property
    def slot_name(self) -> str | None:
        """The slot whose handler is running now (``None`` outside a job)."""
        frame = CURRENT_FRAME.get()
        return None if frame is None else frame.slot_name()


class Frame(Protocol):
    """What the engine provides to a handler while it runs."""

    def emit(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Schedule ``data`` for every slot connected to the routine's event."""

    def defer(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Add the routine's event to the job's deferred events if the handler succeeds."""

    def context_for(self, routine: Routine) -> ExecutionContext:
        """The execution context of ``routine`` in the running job."""

    def job(self) -> JobState:
        """The state of the job running."""

    def delivery_id(self) -> str:
        """The stable id of the delivery running."""

    def send_to(self, routine: Routine, slot_name: str, data: dict[str, Any]) -> None:
        """Stage ``data`` for ``routine``'s slot ``slot_name``, with no connection in between."""

    def deliver_later(
        self, routine: Routine, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        """Schedule ``data`` for ``routine``'s slot ``slot_name`` after ``delay`` seconds."""

    def set_timer(
        self, routine: Routine, name: str, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        """Set (or replace) the named timer ``name`` of ``routine``."""

    def cancel_timer(self, routine: Routine, name: str) -> None:
        """Cancel the named timer ``name`` of ``routine``."""

    def get_value(self, routine: Routine, key: str, default: Any) -> Any:
        """``routine``'s job value ``key``."""

    def set_value(self, routine: Routine, key: str, value: Any) -> None:
        """Set ``routine``'s job value ``key``."""

    def append_value(self, routine: Routine, key: str, item: Any) -> None:
        """Append ``item`` to ``routine``'s list job value ``key``."""

    def slot_name(self) -> str:
        """The slot whose handler is running."""


#: The frame of the delivery running in this thread or task, if any.
CURRENT_FRAME: ContextVar[Frame | None] = ContextVar("routilux_frame", default=None)
