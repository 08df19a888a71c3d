"""Events: the named outputs of a routine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux._model.routine import Routine

__all__ = ["Event"]


class Event:
    """A named output of a routine.

    Attributes:
        name: The event's name, unique within its routine.
        routine: The routine that owns the event.
        params: The keys the event is documented to carry.
    """

    __slots__ = ("name", "params", "routine")

    def __init__(self, routine: Routine, name: str, params: tuple[str, ...] = ()) -> None:
        self.name = name
        self.routine = routine
        self.params = params

    def emit(self, flow: Any = None, **data: Any) -> None:
        """Emit this event from its routine: ``routine.emit(event.name, flow, **data)``.

        ``flow`` and a ``job_state`` keyword follow the rules of
        :meth:`Routine.emit`.
        """
        self.routine.emit(self.name, flow, **data)

    def __repr__(self) -> str:
        return f"<Event {self.name!r} of {type(self.routine).__name__}>"
