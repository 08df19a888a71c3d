"""A flow compiled for running: who receives each event, precomputed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from routilux._model.connection import Connection
from routilux._model.routine import Routine
from routilux._model.slot import Slot
from routilux.exceptions import DefinitionError, ExecutionError

if TYPE_CHECKING:
    from routilux._engine.hooks import HookDispatch
    from routilux._model.job_state import JobState
    from routilux.execution_tracker import ExecutionTracker

__all__ = ["DRAIN_SLOT", "FlowPlan", "Target"]

#: The name under which a routine's ``on_drain`` hook is delivered (and stored).
DRAIN_SLOT = "<drain>"


class Target:
    """One slot of one routine, as the engine delivers to it.

    Attributes:
        routine_id: The routine's id in the flow.
        routine: The routine.
        slot: The slot.
        deliver: Merges a message into the slot and calls the handler.
        mapping: Key renames of the connection, or ``None``.
        out: The routine's outgoing targets by event name (shared per routine).
        index: Position of the routine in the plan (for per-job counters).
    """

    __slots__ = ("deliver", "index", "mapping", "out", "routine", "routine_id", "slot")

    def __init__(
        self,
        routine_id: str,
        routine: Routine,
        slot: Slot,
        *,
        out: dict[str, tuple[Target, ...]],
        index: int,
        mapping: Mapping[str, str] | None = None,
    ) -> None:
        self.routine_id = routine_id
        self.routine = routine
        self.slot = slot
        # The slot's merge-and-call function itself: one call fewer than slot.deliver.
        self.deliver: Callable[[Mapping[str, Any]], Any] = slot._deliver
        self.mapping = dict(mapping) if mapping else None
        self.out = out
        self.index = index

    def deliver_reporting(
        self, data: Mapping[str, Any], merged: Callable[[Callable[[], None]], None]
    ) -> Any:
        """As :attr:`deliver`, handing the merge's undo to ``merged`` first.

        See ``Slot.deliver_reporting``: for a caller that may give up on the handler.
        """
        return self.slot.deliver_reporting(data, merged)

    def deliver_through(
        self, data: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Any]
    ) -> Any:
        """As :attr:`deliver`, with ``call(passed)`` for the handler: ``Slot.deliver_through``.

        For a strategy that runs the handler elsewhere (Ray); tracked and
        hooked targets record and tell it as any delivery.
        """
        return self.slot.deliver_through(data, call)

    def remap(self, data: dict[str, Any]) -> dict[str, Any]:
        """Apply the connection's key renames to ``data``.

        Raises:
            ExecutionError: A key is renamed onto a key the message also
                has, whose value would be lost.
        """
        mapping = self.mapping
        if mapping is None:
            return data
        renamed = {mapping.get(key, key): value for key, value in data.items()}
        if len(renamed) < len(data):
            raise ExecutionError(self._collision(data))
        return renamed

    def _collision(self, data: Mapping[str, Any]) -> str:
        mapping = self.mapping or {}
        clashes = [
            f"{old!r} to {new!r}"
            for old, new in mapping.items()
            if old in data and new in data and new not in mapping
        ]
        return (
            f"The param_mapping of the connection to {self.routine_id!r}.{self.slot.name!r} "
            f"renames {', '.join(clashes)}, but the message also has "
            f"{'that key' if len(clashes) == 1 else 'those keys'}: one of the two values "
            "would be lost. Rename the other key too, or map onto a free name."
        )


class FlowPlan:
    """The routing table of a flow: for each routine and event, the targets.

    Built once per change of the flow's routines or connections, and shared
    by every job the flow runs.
    """

    #: What the plan's targets are (a tracked plan's record each delivery).
    target_class: ClassVar[type[Target]] = Target

    def __init__(self, routines: Mapping[str, Routine], connections: Iterable[Connection]) -> None:
        self.routine_ids: dict[int, str] = {id(r): rid for rid, r in routines.items()}
        self.index: dict[str, int] = {rid: i for i, rid in enumerate(routines)}
        self.outgoing: dict[str, dict[str, tuple[Target, ...]]] = {rid: {} for rid in routines}
        self._routines = dict(routines)
        lists: dict[tuple[str, str], list[Target]] = {}
        for conn in connections:
            target_routine = routines[conn.target_id]
            lists.setdefault((conn.source_id, conn.event), []).append(
                self.target_class(
                    conn.target_id,
                    target_routine,
                    target_routine._slots[conn.slot],
                    out=self.outgoing[conn.target_id],
                    index=self.index[conn.target_id],
                    mapping=conn.param_mapping,
                )
            )
        for (source_id, event), targets in lists.items():
            self.outgoing[source_id][event] = tuple(targets)
        self.drainers = [
            (rid, r) for rid, r in routines.items() if type(r).on_drain is not Routine.on_drain
        ]
        self._drain_slots = {
            rid: Slot(r, DRAIN_SLOT, handler=r.on_drain) for rid, r in self.drainers
        }
        self.checked = [
            (rid, r)
            for rid, r in routines.items()
            if type(r).check_definition is not Routine.check_definition
        ]

    def entry_target(self, routine_id: str, slot_name: str = "trigger") -> Target:
        """The target that receives a job's entry parameters.

        Raises:
            DefinitionError: The routine is not in the flow or has no such slot.
        """
        routine = self._routines.get(routine_id)
        if routine is not None and slot_name not in routine._slots:
            raise DefinitionError(
                routine.describe_missing("slot", slot_name, label=f"Entry routine {routine_id!r}")
                + " A job starts by delivering its entry params to the entry routine's "
                f"{slot_name!r} slot."
            )
        return self.target(routine_id, slot_name)

    def target(self, routine_id: str, slot_name: str) -> Target:
        """The target for the slot ``slot_name`` of the routine ``routine_id``.

        Raises:
            DefinitionError: The routine is not in the flow or has no such slot.
        """
        routine = self._routines.get(routine_id)
        if routine is None:
            known = ", ".join(repr(r) for r in self._routines) or "none"
            raise DefinitionError(f"The flow has no routine {routine_id!r}; routines: {known}.")
        slot = routine._slots.get(slot_name)
        if slot is None and slot_name == DRAIN_SLOT:
            slot = self._drain_slots.get(routine_id)
        if slot is None:
            raise DefinitionError(
                routine.describe_missing("slot", slot_name, label=f"Routine {routine_id!r}")
            )
        return self.target_class(
            routine_id, routine, slot, out=self.outgoing[routine_id], index=self.index[routine_id]
        )

    def event_targets(self, routine_id: str, event_name: str) -> tuple[Target, ...]:
        """The targets of the event ``event_name`` of the routine ``routine_id``.

        Raises:
            DefinitionError: The routine is not in the flow or has no such event.
        """
        routine = self._routines.get(routine_id)
        if routine is None:
            known = ", ".join(repr(r) for r in self._routines) or "none"
            raise DefinitionError(f"The flow has no routine {routine_id!r}; routines: {known}.")
        if event_name not in routine._events:
            raise DefinitionError(
                routine.describe_missing("event", event_name, label=f"Routine {routine_id!r}")
            )
        return self.outgoing[routine_id].get(event_name, ())

    def tracker_for(self, job: JobState) -> ExecutionTracker | None:
        """The tracker of ``job``'s deliveries: none, unless the plan tracks them."""
        return None

    def hooks_for(self, job: JobState) -> HookDispatch | None:
        """The event hooks of ``job``'s run: none, unless the plan calls hooks."""
        return None

    def drain_targets(self) -> list[Target]:
        """One target per routine with an ``on_drain`` hook, in flow order."""
        return [self.target(rid, DRAIN_SLOT) for rid, _ in self.drainers]

    def lookup(self, routine: Routine) -> tuple[str, dict[str, tuple[Target, ...]]]:
        """The id and outgoing table of ``routine``.

        Raises:
            DefinitionError: The routine is not part of this flow.
        """
        rid = self.routine_ids.get(id(routine))
        if rid is None:
            raise DefinitionError(
                f"Routine {type(routine).__name__} emitted in a job of a flow it is not part of; "
                "add it with flow.add_routine first."
            )
        return rid, self.outgoing[rid]

    @staticmethod
    def unconnected(rid: str, routine: Routine, event_name: str) -> tuple[Target, ...]:
        """The (empty) targets of an event that has no connections.

        Raises:
            DefinitionError: The routine has no event ``event_name``.
        """
        if event_name not in routine._events:
            raise DefinitionError(
                routine.describe_missing("event", event_name, label=f"Routine {rid!r}")
            )
        return ()

    def check_routines(self) -> None:
        """Run every routine's own :meth:`Routine.check_definition`.

        Raises:
            DefinitionError: A routine is not ready; the message names its id.
        """
        for rid, routine in self.checked:
            _check_one(rid, routine)


def _check_one(rid: str, routine: Routine) -> None:
    try:
        routine.check_definition()
    except DefinitionError as exc:
        raise DefinitionError(f"Routine {rid!r} is not ready to run: {exc}") from exc
