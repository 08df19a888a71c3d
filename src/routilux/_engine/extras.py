"""What a delivery stages besides emits: job values and named timers.

Both are applied when the delivery commits, with its emits, or not at all:
a handler that raises leaves no job value changed and no timer set or
cancelled, so a retry starts from the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.job_run import JobRun

__all__ = ["TimerBook", "TimerOp", "ValueChanges", "apply_values", "restore_values"]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class TimerOp:
    """A staged change to a named timer: set (with its delivery) or cancel."""

    routine_id: str
    name: str
    delay: float = 0.0
    item: Delivery | None = None


@dataclass(slots=True)
class TimerBook:
    """The named timers of one job: which pending delivery each name stands for."""

    by_name: dict[tuple[str, str], int] = field(default_factory=dict)
    by_seq: dict[int, tuple[str, str]] = field(default_factory=dict)

    def resolve(
        self, ops: list[TimerOp], fired: int
    ) -> tuple[list[int], list[tuple[float, Delivery]]]:
        """Work out what ``ops`` (and the delivery ``fired``) change, without changing it.

        Returns:
            The deliveries of timers to drop, and the new timer deliveries.
        """
        names = dict(self.by_name)
        if fired in self.by_seq:
            names.pop(self.by_seq[fired], None)  # A timer that fires is done.
        dropped: list[int] = []
        added: list[tuple[float, Delivery]] = []
        for op in ops:
            old = names.pop((op.routine_id, op.name), None)
            if old is not None:
                # Set earlier in this same delivery: it never gets scheduled at all.
                fresh = [entry for entry in added if entry[1].seq != old]
                if len(fresh) == len(added):
                    dropped.append(old)
                added = fresh
            if op.item is not None:
                names[(op.routine_id, op.name)] = op.item.seq
                added.append((op.delay, op.item))
        return dropped, added

    def apply(self, ops: list[TimerOp], fired: int) -> None:
        """Record what ``ops`` and the delivery ``fired`` changed (after a commit)."""
        key = self.by_seq.pop(fired, None)
        if key is not None and self.by_name.get(key) == fired:
            del self.by_name[key]
        for op in ops:
            old = self.by_name.pop((op.routine_id, op.name), None)
            if old is not None:
                self.by_seq.pop(old, None)
            if op.item is not None:
                self.by_name[(op.routine_id, op.name)] = op.item.seq
                self.by_seq[op.item.seq] = (op.routine_id, op.name)

    def names_of(self, routine_id: str) -> dict[str, int]:
        """The named timers of one routine, for the job's records of it."""
        return {name: seq for (rid, name), seq in self.by_name.items() if rid == routine_id}

    def load(self, timers: dict[str, dict[str, int]], pending: set[int]) -> None:
        """Rebuild the book from the timers saved with a job (a resume)."""
        for routine_id, names in timers.items():
            for name, seq in names.items():
                if seq in pending:
                    self.by_name[(routine_id, name)] = seq
                    self.by_seq[seq] = (routine_id, name)


@dataclass(slots=True)
class ValueChanges:
    """What :func:`apply_values` changed: to write to a store, or to undo.

    Attributes:
        sets: Values set: ``(routine_id, key, value)``.
        items: Items appended: ``(routine_id, key, position, item)``.
        undo: How to put each key back, last change first:
            ``(routine_id, key, old value or _MISSING, list length or -1)``;
            a length truncates the key's list to it instead.
    """

    sets: list[tuple[str, str, Any]] = field(default_factory=list)
    items: list[tuple[str, str, int, Any]] = field(default_factory=list)
    undo: list[tuple[str, str, Any, int]] = field(default_factory=list)


def apply_values(run: JobRun, frame: DeliveryFrame) -> ValueChanges:
    """Write the frame's staged job values and appended items into the job."""
    job = run.job
    changes = ValueChanges()
    with job._lock:
        for routine_id, values in frame.values.items():
            kept = job._job_values.setdefault(routine_id, {})
            for key, value in values.items():
                changes.undo.append((routine_id, key, kept.get(key, _MISSING), -1))
                changes.sets.append((routine_id, key, value))
                kept[key] = value
        for routine_id, keyed in frame.appends.items():
            kept = job._job_values.setdefault(routine_id, {})
            for key, items in keyed.items():
                current = kept.get(key, _MISSING)
                if isinstance(current, list):
                    changes.undo.append((routine_id, key, _MISSING, len(current)))
                else:  # Unset (or set to another type by a rival delivery): a new list.
                    changes.undo.append((routine_id, key, current, -1))
                    current = kept[key] = []
                start = len(current)
                current.extend(items)
                changes.items += [(routine_id, key, start + i, x) for i, x in enumerate(items)]
    return changes


def restore_values(run: JobRun, changes: ValueChanges) -> None:
    """Put back the job values that :func:`apply_values` changed."""
    job = run.job
    with job._lock:
        for routine_id, key, old, length in reversed(changes.undo):
            kept = job._job_values[routine_id]
            if length >= 0:
                del kept[key][length:]
            elif old is _MISSING:
                kept.pop(key, None)
            else:
                kept[key] = old
