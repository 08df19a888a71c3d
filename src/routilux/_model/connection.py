"""Connections: an event of one routine wired to a slot of another."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

from routilux._model import flow_links
from routilux._model.event import Event
from routilux.exceptions import DefinitionError, ExecutionError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine
    from routilux._model.slot import Slot

__all__ = ["Connection"]

#: The published 0.10 form's ends: ``Connection(source_event, target_slot, param_mapping)``.
_Objects = tuple[Event, Any, "Mapping[str, str] | None"]


@dataclass(frozen=True, slots=True, init=False)
class Connection:
    """An event of the source routine wired to a slot of the target routine.

    Two forms build one:

    * ``Connection(source_id, event, target_id, slot, param_mapping=None)``
      makes the value alone, by ids and names. It belongs to no flow:
      ``flow.connect`` makes one this way, then registers it.
    * ``Connection(source_event, target_slot, param_mapping=None)``, given an
      :class:`Event` and a :class:`Slot`, connects them in the one flow that
      holds both routines and returns the connection that flow registered:
      the same as ``source_event.connect(target_slot, param_mapping)``.

    Two connections are equal when their ends and mappings are, and hash
    by their ends; the flow that registered them takes no part in either.
    A copy is the connection itself; an unpickled one belongs to no flow.

    Attributes:
        source_id: The id of the emitting routine in the flow.
        event: The name of the source's event.
        target_id: The id of the receiving routine in the flow.
        slot: The name of the target's slot.
        param_mapping: Renames message keys on this connection,
            ``{"source_key": "target_key"}``; the source key is not passed on.
    """

    source_id: str
    event: str
    target_id: str
    slot: str
    param_mapping: Mapping[str, str] | None
    # The flow that registered the connection, weakly: a connection does not
    # keep its flow alive (see source_event, target_slot and disconnect).
    _flow: weakref.ref[Any] | None = field(init=False, compare=False, repr=False)

    def __new__(
        cls,
        source_id: Any = None,
        event: Any = None,
        target_id: Any = None,
        slot: Any = None,
        param_mapping: Mapping[str, str] | None = None,
        *,
        source_event: Any = None,
        target_slot: Any = None,
    ) -> Connection:
        """Dispatch on the form: given an Event and a Slot, connect them in their flow."""
        if source_event is None and target_slot is None and not isinstance(source_id, Event):
            return object.__new__(cls)
        objects = _objects(
            source_id, event, target_id, slot, param_mapping, source_event, target_slot
        )
        return flow_links.connect(*objects)

    @overload
    def __init__(
        self,
        source_id: str,
        event: str,
        target_id: str,
        slot: str,
        param_mapping: Mapping[str, str] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        source_event: Event,
        target_slot: Slot,
        param_mapping: Mapping[str, str] | None = None,
        /,
    ) -> None: ...

    @overload
    def __init__(
        self,
        source_event: Event,
        target_slot: Slot,
        /,
        *,
        param_mapping: Mapping[str, str] | None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        source_event: Event,
        target_slot: Slot,
        param_mapping: Mapping[str, str] | None = None,
    ) -> None: ...

    def __init__(
        self,
        source_id: Any = None,
        event: Any = None,
        target_id: Any = None,
        slot: Any = None,
        param_mapping: Mapping[str, str] | None = None,
        *,
        source_event: Any = None,
        target_slot: Any = None,
    ) -> None:
        if source_event is not None or target_slot is not None or isinstance(source_id, Event):
            return  # __new__ returned the connection the flow registered, set up already.
        if source_id is None or event is None or target_id is None or slot is None:
            raise TypeError(_missing(source_id, event, target_id, slot))
        set_field = object.__setattr__
        set_field(self, "source_id", source_id)
        set_field(self, "event", event)
        set_field(self, "target_id", target_id)
        set_field(self, "slot", slot)
        set_field(self, "_flow", None)
        set_field(self, "param_mapping", self._checked(param_mapping))

    def _checked(self, mapping: Mapping[str, str] | None) -> Mapping[str, str] | None:
        if mapping is None:
            return None
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise DefinitionError(
                f"The param_mapping of {self.describe()} must map key names to key names "
                f"(str -> str), not {mapping!r}."
            )
        targets = list(mapping.values())
        if len(set(targets)) != len(targets):
            raise DefinitionError(
                f"The param_mapping of {self.describe()} maps two keys to one name: {mapping!r}."
            )
        return MappingProxyType(dict(mapping)) or None

    def describe(self) -> str:
        """The connection as ``'source.event -> target.slot'``."""
        return f"'{self.source_id}.{self.event} -> {self.target_id}.{self.slot}'"

    # -- the live ends, through the flow ----------------------------------------------

    @property
    def source_event(self) -> Event:
        """The source routine's :class:`Event`, in the flow that registered the connection.

        Raises:
            DefinitionError: The connection belongs to no live flow (it was
                made by hand, or its flow is gone), or that flow no longer
                has the routine or its event.
        """
        routine = self._routine(self.source_id, "source")
        found = routine.get_event(self.event)
        if found is None:
            raise DefinitionError(self._gone(f"routine {self.source_id!r} has no event"))
        return found

    @property
    def target_slot(self) -> Slot:
        """The target routine's :class:`Slot`, in the flow that registered the connection.

        Raises:
            DefinitionError: As for :attr:`source_event`.
        """
        routine = self._routine(self.target_id, "target")
        found = routine.get_slot(self.slot)
        if found is None:
            raise DefinitionError(self._gone(f"routine {self.target_id!r} has no slot"))
        return found

    def apply_mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` with this connection's renames applied, as the engine delivers it.

        A key the mapping names is passed on under its new name only; the
        other keys pass unchanged. ``data`` itself is not changed.

        Raises:
            ExecutionError: A key is renamed onto another key ``data`` has,
                whose value would be lost.
        """
        mapping = self.param_mapping
        if not mapping:
            return dict(data)
        renamed = {mapping.get(key, key): value for key, value in data.items()}
        if len(renamed) < len(data):
            clashes = [
                f"{old!r} to {new!r}"
                for old, new in mapping.items()
                if old in data and new in data and new not in mapping
            ]
            raise ExecutionError(
                f"The param_mapping of {self.describe()} renames {', '.join(clashes)}, but "
                "the data also has that key: one of the two values would be lost."
            )
        return renamed

    def activate(self, data: Mapping[str, Any]) -> JobState | None:
        """Deliver ``data`` along this connection: ``target_slot.receive(apply_mapping(data))``.

        See :meth:`Slot.receive` for what that does inside and outside of a
        job, and what it returns.

        Raises:
            DefinitionError: As for :attr:`target_slot`.
            ExecutionError: As for :meth:`apply_mapping`.
        """
        return self.target_slot.receive(self.apply_mapping(data))

    def disconnect(self) -> Connection:
        """Remove this connection from its flow: ``flow.disconnect(self)``.

        Returns:
            The connection removed.

        Raises:
            DefinitionError: The connection belongs to no live flow, or the
                flow no longer has it.
        """
        removed: Connection = self._live_flow().disconnect(self)
        return removed

    def _bind(self, flow: Any) -> None:
        """Remember, weakly, the flow that registered the connection (``flow.connect``)."""
        object.__setattr__(self, "_flow", weakref.ref(flow))

    def _live_flow(self) -> Any:
        flow = None if self._flow is None else self._flow()
        if flow is None:
            state = (
                "belongs to no flow" if self._flow is None else "belonged to a flow that is gone"
            )
            raise DefinitionError(
                f"The connection {self.describe()} {state}: only a connection a flow "
                "registered (flow.connect, event.connect, Connection(event, slot)) reaches "
                "its routines."
            )
        return flow

    def _routine(self, routine_id: str, role: str) -> Routine:
        routine: Routine | None = self._live_flow().routines.get(routine_id)
        if routine is None:
            raise DefinitionError(self._gone(f"{role} routine {routine_id!r} is not in the flow"))
        return routine

    def _gone(self, what: str) -> str:
        return (
            f"The connection {self.describe()} names what its flow no longer has: the {what} "
            "of that name."
        )

    # -- value semantics --------------------------------------------------------------

    def __hash__(self) -> int:
        return hash((self.source_id, self.event, self.target_id, self.slot))

    def __copy__(self) -> Connection:
        return self  # Immutable: a copy would be this same value.

    def __deepcopy__(self, memo: dict[int, Any]) -> Connection:
        return self

    def __getstate__(self) -> tuple[Any, ...]:
        # The flow is left out: a weak reference cannot be pickled, and a
        # loaded connection may be in another process.
        mapping = self.param_mapping
        return (self.source_id, self.event, self.target_id, self.slot, mapping and dict(mapping))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        source_id, event, target_id, slot, mapping = state
        Connection.__init__(self, source_id, event, target_id, slot, mapping)


def _missing(*ends: Any) -> str:
    names = ("source_id", "event", "target_id", "slot")
    missing = ", ".join(repr(name) for name, end in zip(names, ends, strict=True) if end is None)
    return (
        f"Connection() missing {missing}: give source_id, event, target_id and slot, "
        "or an Event and a Slot."
    )


def _objects(
    source_id: Any,
    event: Any,
    target_id: Any,
    slot: Any,
    param_mapping: Mapping[str, str] | None,
    source_event: Any,
    target_slot: Any,
) -> _Objects:
    """The Event, the Slot and the mapping, given in the object form.

    Raises:
        DefinitionError: The arguments mix the two forms, or give an end twice.
    """
    given = [("source_event", source_event, source_id), ("target_slot", target_slot, event)]
    given.append(("param_mapping", param_mapping, target_id))
    ends: list[Any] = []
    for name, by_keyword, by_position in given:
        if by_keyword is not None and by_position is not None:
            raise DefinitionError(
                f"Connection() was given {name} both by name and by position "
                f"({by_position!r}); give it once."
            )
        ends.append(by_keyword if by_keyword is not None else by_position)
    if slot is not None:
        raise DefinitionError(
            "Connection(source_event, target_slot, param_mapping) takes three arguments at "
            f"most; the fourth, {slot!r}, belongs to the form Connection(source_id, event, "
            "target_id, slot)."
        )
    return ends[0], ends[1], ends[2]
