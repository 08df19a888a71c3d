"""Wiring from events and slots: the flow that holds both ends, and its connections.

An :class:`Event` or a :class:`Slot` knows its routine, and a routine knows
(weakly) the flows it was added to. A connection belongs to a flow, so wiring
an event to a slot goes through the one flow that holds both routines, and
what an event or a slot is connected to is read from that flow's connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# Modules, not classes: event.py and slot.py import this one.
from routilux._model import event as event_module
from routilux._model import slot as slot_module
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._model.connection import Connection
    from routilux._model.event import Event
    from routilux._model.routine import Routine
    from routilux._model.slot import Slot

__all__ = ["common_flow", "connect", "connected_events", "connected_slots", "disconnect"]


def connect(event: Event, slot: Slot, param_mapping: Mapping[str, str] | None) -> Connection:
    """Wire ``event`` to ``slot`` in their common flow; see :meth:`Event.connect`."""
    flow, source_id, target_id = common_flow(event, slot, "connect")
    connection: Connection = flow.connect(
        source_id, event.name, target_id, slot.name, param_mapping
    )
    return connection


def disconnect(event: Event, slot: Slot) -> Connection:
    """Remove the connection of ``event`` to ``slot`` from their common flow."""
    flow, source_id, target_id = common_flow(event, slot, "disconnect")
    connection: Connection = flow.disconnect(source_id, event.name, target_id, slot.name)
    return connection


def common_flow(event: Any, slot: Any, method: str) -> tuple[Any, str, str]:
    """The one flow that holds the routines of ``event`` and ``slot``, and their ids in it.

    Raises:
        DefinitionError: ``event`` is not an Event or ``slot`` not a Slot, or
            no flow, or several, hold both routines.
    """
    if not isinstance(event, event_module.Event) or not isinstance(slot, slot_module.Slot):
        raise DefinitionError(
            f"{method} wires an Event to a Slot (routine.get_event(name), "
            f"routine.get_slot(name)), not {type(event).__name__} {event!r} "
            f"to {type(slot).__name__} {slot!r}."
        )
    sources = event.routine._flows_holding()
    targets = {id(flow): rid for flow, rid in slot.routine._flows_holding()}
    common = [(flow, rid, targets[id(flow)]) for flow, rid in sources if id(flow) in targets]
    if len(common) == 1:
        return common[0]
    ends = f"{_event_label(event)} and {_slot_label(slot)}"
    if common:
        raise DefinitionError(
            f"Cannot {method} {ends}: both routines are in the flows "
            f"{_flow_ids(flow for flow, _, _ in common)}. Call {method} on the flow you mean."
        )
    raise DefinitionError(
        f"Cannot {method} {ends}: no flow holds both routines (the source routine is in "
        f"{_flows_of(event.routine)}, the target routine in {_flows_of(slot.routine)}). "
        "Add both to one flow with flow.add_routine first."
    )


def connected_slots(event: Event) -> tuple[Slot, ...]:
    """The slots ``event`` is connected to in its routine's flow, in connection order."""
    held = _only_flow(event.routine, _event_label(event))
    if held is None:
        return ()
    flow, routine_id = held
    slots = []
    for c in flow.connections:
        if c.source_id == routine_id and c.event == event.name:
            target = flow.routines.get(c.target_id)
            slot = None if target is None else target.get_slot(c.slot)
            if slot is not None:
                slots.append(slot)
    return tuple(slots)


def connected_events(slot: Slot) -> tuple[Event, ...]:
    """The events connected to ``slot`` in its routine's flow, in connection order."""
    held = _only_flow(slot.routine, _slot_label(slot))
    if held is None:
        return ()
    flow, routine_id = held
    events = []
    for c in flow.connections:
        if c.target_id == routine_id and c.slot == slot.name:
            source = flow.routines.get(c.source_id)
            event = None if source is None else source.get_event(c.event)
            if event is not None:
                events.append(event)
    return tuple(events)


def _only_flow(routine: Routine, label: str) -> tuple[Any, str] | None:
    """The one flow holding ``routine``, with its id there; ``None`` for no flow."""
    held = routine._flows_holding()
    if len(held) > 1:
        flows = _flow_ids(f for f, _ in held)
        raise DefinitionError(
            f"Cannot tell which flow's connections to read for {label}: its routine is in "
            f"the flows {flows}. Read flow.connections of the one you mean."
        )
    return held[0] if held else None


def _flows_of(routine: Routine) -> str:
    held = routine._flows_holding()
    if not held:
        return "no flow"
    return ("the flow " if len(held) == 1 else "the flows ") + _flow_ids(f for f, _ in held)


def _flow_ids(flows: Any) -> str:
    return ", ".join(repr(flow.flow_id) for flow in flows)


def _event_label(event: Event) -> str:
    return f"event {event.name!r} of routine {type(event.routine).__name__}"


def _slot_label(slot: Slot) -> str:
    return f"slot {slot.name!r} of routine {type(slot.routine).__name__}"
