"""Committing a successful delivery: its job values, named timers and checkpoint."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from routilux._engine.extras import (
    TimerBook,
    TimerOp,
    ValueChanges,
    apply_values,
    restore_values,
)
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.job_run import Item, JobRun

__all__ = ["prepare_commit"]

logger = logging.getLogger("routilux")

_NO_CHANGES = ValueChanges()


def prepare_commit(run: JobRun, item: Item, frame: DeliveryFrame) -> str:
    """Apply a successful delivery's job values and timers, and checkpoint it.

    Called with ``lock`` held, before the strategy applies the delivery's
    emits; the staged named timers become delayed deliveries in
    ``frame.later``.

    Returns:
        ``"ok"`` to apply the rest in memory; ``"retrying"`` or
        ``"failed"`` when its output could not be written, so the
        delivery failed under its policy (nothing of it is kept);
        ``"failed"`` too when the store itself failed (the job stops;
        the store still has it running, to resume later).
    """
    run.job.current_routine_id = item[0].routine_id
    ops = frame.timer_ops
    book = run.timer_book
    dropped, added = book.resolve(ops, item[2]) if ops or book.by_seq else ([], [])
    frame.later.extend(added)
    changes = apply_values(run, frame) if frame.values or frame.appends else _NO_CHANGES
    touched = _write_timer_names(run, ops, item[2]) if ops or item[2] in book.by_seq else {}
    if run.durable is not None:
        outcome = _checkpoint(run, item, frame, dropped, changes)
        if outcome != "ok":
            restore_values(run, changes)
            _restore_timer_names(run, touched)
            return outcome
    for seq in dropped:
        run.cancel_delayed(seq)
    if ops or item[2] in book.by_seq:
        book.apply(ops, item[2])
    frame.values.clear()
    frame.appends.clear()
    frame.timer_ops.clear()
    frame.extra = False
    return "ok"


def _checkpoint(
    run: JobRun, item: Item, frame: DeliveryFrame, dropped: list[int], changes: ValueChanges
) -> str:
    assert run.durable is not None
    try:
        run.durable.delivered(
            item,
            frame.staged_items(),
            frame.history,
            frame.later,
            cancelled=dropped,
            values=changes,
        )
    except SerializationError as exc:
        frame.clear()
        unstorable = run.durable.drop_unstorable()
        if unstorable:
            logger.warning(
                "Job %s: %s could not be stored and were put back as the store has them.",
                run.job.job_id,
                ", ".join(unstorable),
            )
        finished = run.on_failure(item, exc, run.retry_later)
        return "failed" if finished else "retrying"
    except Exception as exc:  # Any failure of the store's code (or of ours).
        run.store_failed(exc)
        return "failed"
    return "ok"


def _write_timer_names(run: JobRun, ops: list[TimerOp], fired: int) -> dict[str, Any]:
    """Put the timer names as they will be into the routine states; return the old ones."""
    future = TimerBook(dict(run.timer_book.by_name), dict(run.timer_book.by_seq))
    future.apply(ops, fired)
    routines = {op.routine_id for op in ops}
    if fired in run.timer_book.by_seq:
        routines.add(run.timer_book.by_seq[fired][0])
    old: dict[str, Any] = {}
    with run.job._lock:
        for rid in routines:
            state = run.job.routine_states.setdefault(rid, {})
            old[rid] = state.get("timers")
            state["timers"] = future.names_of(rid)
        run.job._states_dirty = True
    return old


def _restore_timer_names(run: JobRun, old: dict[str, Any]) -> None:
    with run.job._lock:
        for rid, names in old.items():
            run.job.routine_states[rid]["timers"] = names
