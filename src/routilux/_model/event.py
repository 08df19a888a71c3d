"""Events: the named outputs of a routine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from routilux._model import flow_links

if TYPE_CHECKING:
    from routilux._model.connection import Connection
    from routilux._model.routine import Routine
    from routilux._model.slot import Slot

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

    @property
    def output_params(self) -> tuple[str, ...]:
        """The keys the event is documented to carry: another name for :attr:`params`."""
        return self.params

    # -- wiring through the routine's flow ----------------------------------------

    def connect(self, slot: Slot, param_mapping: Mapping[str, str] | None = None) -> Connection:
        """Connect this event to ``slot`` in the one flow that holds both routines.

        The same as ``flow.connect(source_id, event.name, target_id,
        slot.name, param_mapping)`` on that flow: the connection is one of
        ``flow.connections``, and ``param_mapping`` renames keys on it.

        Args:
            slot: The receiving slot, of a routine in the same flow.
            param_mapping: Key renames on this connection,
                ``{"source_key": "target_key"}``.

        Returns:
            The new connection.

        Raises:
            DefinitionError: ``slot`` is not a Slot, no flow or several
                flows hold both routines (the message names them), or the
                flow refuses the connection (a duplicate, a bad mapping).
        """
        return flow_links.connect(self, slot, param_mapping)

    def disconnect(self, slot: Slot) -> Connection:
        """Remove the connection of this event to ``slot`` from their common flow.

        Returns:
            The connection removed.

        Raises:
            DefinitionError: ``slot`` is not a Slot, no flow or several
                flows hold both routines, or the flow has no such connection.
        """
        return flow_links.disconnect(self, slot)

    @property
    def connected_slots(self) -> tuple[Slot, ...]:
        """The slots this event is connected to, read from its routine's flow.

        A tuple, in the order the connections were made, read afresh at each
        access: wire with :meth:`connect` or ``flow.connect``. Empty when
        the routine is in no flow.

        Raises:
            DefinitionError: The routine is in several flows; read
                ``flow.connections`` of the one you mean.
        """
        return flow_links.connected_slots(self)

    def __repr__(self) -> str:
        return f"<Event {self.name!r} of {type(self.routine).__name__}>"
