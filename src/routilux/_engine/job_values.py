"""Job values: what a delivery staged, written into its job when it commits, or undone.

Applied when the delivery commits, with its emits, or not at all: a
handler that raises leaves no job value changed, so a retry starts from
the same state (named timers work the same way: see ``timers.TimerBook``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.job_run import JobRun

__all__ = ["ValueChanges", "apply_values", "restore_values"]

_MISSING: Any = object()


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
    with job.lock:
        for routine_id, values in frame.values.items():
            kept = job.engine_values.setdefault(routine_id, {})
            for key, value in values.items():
                changes.undo.append((routine_id, key, kept.get(key, _MISSING), -1))
                changes.sets.append((routine_id, key, value))
                kept[key] = value
        for routine_id, keyed in frame.appends.items():
            kept = job.engine_values.setdefault(routine_id, {})
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
    with job.lock:
        for routine_id, key, old, length in reversed(changes.undo):
            kept = job.engine_values[routine_id]
            if length >= 0:
                del kept[key][length:]
            elif old is _MISSING:
                kept.pop(key, None)
            else:
                kept[key] = old
