"""Committing a successful delivery: its job values, named timers, deferred events, checkpoint."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from routilux._engine.job_values import ValueChanges, apply_values, restore_values
from routilux._engine.timers import TimerBook, TimerOp
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.job_run import JobRun

__all__ = ["ENTRY_SEQ", "prepare_commit"]

logger = logging.getLogger("routilux")

_NO_CHANGES = ValueChanges()

#: The number of a job's entry delivery: the first one a new job takes
#: (``JobRun.entry_item``), kept by its retries and by a resumed job. The
#: strategies commit it through :func:`prepare_commit`, which marks the entry
#: routine ``completed`` in its state, as routilux 0.10 did.
ENTRY_SEQ = 1


def prepare_commit(run: JobRun, item: Delivery, frame: DeliveryFrame) -> str:
    """Apply a successful delivery's job values, timers and deferred events; checkpoint it.

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
    run.job.current_routine_id = item.target.routine_id
    ops = frame.timer_ops
    book = run.timer_book
    dropped, added = book.resolve(ops, item.seq) if ops or book.by_seq else ([], [])
    frame.later.extend(added)
    changes = apply_values(run, frame) if frame.values or frame.appends else _NO_CHANGES
    touched = _write_timer_names(run, ops, item.seq) if ops or item.seq in book.by_seq else {}
    deferred = _add_deferred(run, frame.deferred) if frame.deferred else []
    entry = item.seq == ENTRY_SEQ
    before = run.job.record_outcome(item.target.routine_id, "completed") if entry else None
    if run.durable is not None:
        outcome = _checkpoint(run, item, frame, dropped, changes, deferred)
        if outcome != "ok":
            restore_values(run, changes)
            _restore_timer_names(run, touched)
            _remove_deferred(run, deferred)
            if entry:
                run.job.restore_outcome(item.target.routine_id, before)
            return outcome
    for seq in dropped:
        run.cancel_delayed(seq)
    if ops or item.seq in book.by_seq:
        book.apply(ops, item.seq)
    frame.values.clear()
    frame.appends.clear()
    frame.timer_ops.clear()
    frame.deferred.clear()
    frame.extra = False
    return "ok"


def _checkpoint(
    run: JobRun,
    item: Delivery,
    frame: DeliveryFrame,
    dropped: list[int],
    changes: ValueChanges,
    deferred: list[Any],
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
        _remove_deferred(run, deferred)  # Before the failure's own checkpoint.
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
    """Put the timer names as they will be into the job; return the old ones."""
    future = TimerBook(dict(run.timer_book.by_name), dict(run.timer_book.by_seq))
    future.apply(ops, fired)
    routines = {op.routine_id for op in ops}
    if fired in run.timer_book.by_seq:
        routines.add(run.timer_book.by_seq[fired][0])
    old: dict[str, Any] = {}
    timers = run.job.engine_timer_names
    with run.job.lock:
        for rid in routines:
            old[rid] = timers.get(rid)
            _set_names(timers, rid, future.names_of(rid))
    return old


def _restore_timer_names(run: JobRun, old: dict[str, Any]) -> None:
    with run.job.lock:
        for rid, names in old.items():
            _set_names(run.job.engine_timer_names, rid, names)


def _set_names(timers: dict[str, dict[str, int]], rid: str, names: dict[str, int] | None) -> None:
    if names:
        timers[rid] = names
    else:
        timers.pop(rid, None)


def _add_deferred(run: JobRun, staged: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    """Add the delivery's deferred events to the job (for its checkpoint); return the entries."""
    job = run.job
    with job.lock:  # Together: a handler of another delivery may add some at the same time.
        for routine_id, event_name, data in staged:
            job.add_deferred_event(routine_id, event_name, data)
        return job.deferred_events[-len(staged) :]


def _remove_deferred(run: JobRun, added: list[Any]) -> None:
    """Take the entries :func:`_add_deferred` added back out (the delivery failed)."""
    if added:
        taken = {id(entry) for entry in added}
        with run.job.lock:
            run.job.deferred_events[:] = [e for e in run.job.deferred_events if id(e) not in taken]
