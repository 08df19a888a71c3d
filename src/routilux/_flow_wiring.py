"""The wiring half of a Flow: connecting and disconnecting routines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from routilux._model.connection import Connection
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._engine.plan import FlowPlan
    from routilux._model.routine import Routine

__all__ = ["Connections", "FlowWiring"]

#: The names of a connection's four ends: ours, then the published 0.10 API's.
_ENDS = (
    ("source_id", "source_routine_id"),
    ("event", "source_event"),
    ("target_id", "target_routine_id"),
    ("slot", "target_slot"),
)


class FlowWiring:
    """Connecting and disconnecting the routines of a flow (the wiring half of :class:`Flow`)."""

    routines: dict[str, Routine]
    connections: list[Connection]
    _ends: set[tuple[str, str, str, str]]
    _ends_of: tuple[int, int]
    _plan: FlowPlan | None

    def connect(
        self,
        source_id: str | None = None,
        event: str | None = None,
        target_id: str | None = None,
        slot: str | None = None,
        param_mapping: Mapping[str, str] | None = None,
        *,
        source_routine_id: str | None = None,
        source_event: str | None = None,
        target_routine_id: str | None = None,
        target_slot: str | None = None,
    ) -> Connection:
        """Wire the event ``event`` of ``source_id`` to the slot ``slot`` of ``target_id``.

        The four ends may also be given by the names of the published 0.10
        API: ``source_routine_id``, ``source_event``, ``target_routine_id``
        and ``target_slot``.

        Args:
            source_id: The emitting routine's id.
            event: The source's event.
            target_id: The receiving routine's id.
            slot: The target's slot.
            param_mapping: Key renames on this connection,
                ``{"source_key": "target_key"}``.
            source_routine_id: Another name for ``source_id``.
            source_event: Another name for ``event``.
            target_routine_id: Another name for ``target_id``.
            target_slot: Another name for ``slot``.

        Returns:
            The new connection.

        Raises:
            DefinitionError: An end is missing or given under both of its
                names, a routine, event or slot does not exist (the message
                names every one that does not, and lists what does), or the
                connection exists already.
        """
        source_id, event, target_id, slot = _ends(
            "connect",
            (source_id, event, target_id, slot),
            (source_routine_id, source_event, target_routine_id, target_slot),
        )
        problems: list[str] = []
        source = self._routine(source_id, "source", problems)
        if source is not None and event not in source._events:
            problems.append(source.describe_missing("event", event, label=_label(source_id)))
        target = self._routine(target_id, "target", problems)
        if target is not None and slot not in target._slots:
            problems.append(target.describe_missing("slot", slot, label=_label(target_id)))
        if problems:
            raise DefinitionError(" ".join(problems))
        connection = Connection(source_id, event, target_id, slot, param_mapping)
        assert source is not None
        _check_renames(connection, source._events[event].params)
        ends = (source_id, event, target_id, slot)
        if ends in self._connection_ends() and self._find(ends) is not None:
            # With or without the same param_mapping: each emit would reach the slot twice.
            raise DefinitionError(f"The flow already has the connection {connection.describe()}.")
        connection._bind(self)
        self.connections.append(connection)
        self._ends.add(ends)
        self._ends_of = _version(self.connections)
        self._plan = None
        return connection

    def disconnect(
        self,
        source_id: str | Connection | None = None,
        event: str | None = None,
        target_id: str | None = None,
        slot: str | None = None,
        *,
        source_routine_id: str | None = None,
        source_event: str | None = None,
        target_routine_id: str | None = None,
        target_slot: str | None = None,
    ) -> Connection:
        """Remove a connection, given by its four ends or as a :class:`Connection`.

        Jobs started afterwards no longer deliver along it; jobs already
        running keep the wiring they started with. The ends may be given by
        the names :meth:`connect` accepts.

        Returns:
            The connection removed.

        Raises:
            DefinitionError: The flow has no such connection, or an end is
                missing or given under both of its names.
        """
        if isinstance(source_id, Connection):
            if any(end is not None for end in (event, target_id, slot)):
                raise DefinitionError(
                    "disconnect takes a Connection alone, or the four ends of one, not both."
                )
            given = source_id
            ends = (given.source_id, given.event, given.target_id, given.slot)
        else:
            ends = _ends(
                "disconnect",
                (source_id, event, target_id, slot),
                (source_routine_id, source_event, target_routine_id, target_slot),
            )
        found = self._find(ends) if ends in self._connection_ends() else None
        if found is None:
            source, event_name, target, slot_name = ends
            raise DefinitionError(
                f"The flow has no connection {source}.{event_name} -> {target}.{slot_name} "
                "to disconnect; flow.connections lists the ones it has."
            )
        self.connections.remove(found)
        self._ends.discard(ends)
        self._ends_of = _version(self.connections)
        self._plan = None
        return found

    def _find(self, ends: tuple[str, str, str, str]) -> Connection | None:
        for c in self.connections:
            if (c.source_id, c.event, c.target_id, c.slot) == ends:
                return c
        return None

    def _connection_ends(self) -> set[tuple[str, str, str, str]]:
        current = _version(self.connections)
        if self._ends_of != current or not isinstance(self.connections, Connections):
            self._ends = {(c.source_id, c.event, c.target_id, c.slot) for c in self.connections}
            self._ends_of = current
        return self._ends

    def _routine(self, routine_id: str, role: str, problems: list[str]) -> Routine | None:
        routine = self.routines.get(routine_id)
        if routine is None:
            known = ", ".join(repr(r) for r in self.routines) or "none"
            problems.append(f"The flow has no {role} routine {routine_id!r}; routines: {known}.")
        return routine


def _ends(
    method: str, ours: tuple[str | None, ...], theirs: tuple[str | None, ...]
) -> tuple[str, str, str, str]:
    """The four ends of a connection, each given under one of its two names.

    Raises:
        DefinitionError: An end is given under both names, or under neither.
    """
    ends: list[str] = []
    for (name, other), mine, published in zip(_ENDS, ours, theirs, strict=True):
        if mine is not None and published is not None:
            raise DefinitionError(
                f"{method} was given both {name}={mine!r} and {other}={published!r}; "
                "they name the same end: give one."
            )
        value = mine if mine is not None else published
        if value is None:
            raise DefinitionError(f"{method} needs {name} (or {other}).")
        ends.append(value)
    return ends[0], ends[1], ends[2], ends[3]


class Connections(list):  # type: ignore[type-arg]
    """The flow's list of connections, counting its changes (made by hand or not)."""

    changes = 0

    def _changed(self) -> None:
        self.changes += 1


def _counting(name: str) -> Any:
    method = getattr(list, name)

    def changed(self: Connections, *args: Any, **kwargs: Any) -> Any:
        self._changed()
        return method(self, *args, **kwargs)

    changed.__name__ = name
    return changed


for _name in (
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "sort",
    "reverse",
):
    setattr(Connections, _name, _counting(_name))


def _version(connections: list[Connection]) -> tuple[int, int]:
    """What tells whether ``connections`` changed since: its identity and its change count."""
    return (id(connections), getattr(connections, "changes", -1))


def _label(routine_id: str) -> str:
    return f"Routine {routine_id!r}"


def _check_renames(connection: Connection, params: tuple[str, ...]) -> None:
    """Refuse a ``param_mapping`` that renames a key onto another key the event carries."""
    mapping = connection.param_mapping or {}
    clashes = [
        f"{old!r} to {new!r}"
        for old, new in mapping.items()
        if old in params and new in params and new not in mapping
    ]
    if clashes:
        raise DefinitionError(
            f"The param_mapping of {connection.describe()} renames {', '.join(clashes)}, "
            "but the event also carries the key it is renamed to: one of the two values "
            "would be lost. Rename the other key too, or map onto a free name."
        )
