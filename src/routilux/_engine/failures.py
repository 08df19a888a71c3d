"""Applying a routine's error policy to a failed delivery, and recording the failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from routilux._engine.delivery import Delivery
from routilux._engine.describe import (
    Interrupted,
    describe_exception,
    exception_text,
    format_traceback,
)
from routilux._engine.plan import DRAIN_SLOT
from routilux._engine.tracking import TRACKED_STATUS
from routilux._model.durable import DeadLetter
from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.records import ErrorRecord
from routilux.exceptions import ExecutionError

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun

__all__ = ["on_failure", "record_error"]

logger = logging.getLogger("routilux")

_STOP_BY_DEFAULT = ErrorHandler(strategy=ErrorStrategy.STOP)
_ACTIONS = {
    ErrorStrategy.STOP: "stop",
    ErrorStrategy.CONTINUE: "continue",
    ErrorStrategy.SKIP: "skip",
    ErrorStrategy.RETRY: "stop",
}
#: The status each final action writes into the routine's state (as routilux 0.10 did).
_OUTCOMES = {"stop": "failed", "continue": "error_continued", "skip": "skipped"}


def on_failure(
    run: JobRun, item: Delivery, exc: BaseException, retry: Callable[[float, Delivery], None]
) -> bool:
    """Apply the error policy to a delivery whose handler raised (caller holds ``lock``).

    Args:
        item: The failed delivery.
        exc: What the handler raised.
        retry: Schedules ``item`` again after a delay, if the policy retries.

    Returns:
        Whether the delivery is finished (not retried).
    """
    target, data, seq, attempt, hops = item
    if isinstance(exc, Interrupted):
        exc = exc.original
    if isinstance(exc, ExecutionError):
        exc.routine_id = exc.routine_id or target.routine_id
        exc.slot_name = exc.slot_name or target.slot.name
        exc.job_id = exc.job_id or run.job.job_id
    policy = target.routine._error_handler or run.port.error_handler() or _STOP_BY_DEFAULT
    action = _action(policy, exc, attempt)
    record = record_error(run, exc, item, action=action, trace=format_traceback(exc))
    if run.tracker is not None:
        run.tracker._failed(seq, target.routine_id, data, TRACKED_STATUS[action], record.message)
    _tell_hooks(run, item, exc, action, policy)
    if action == "retry":
        delay = policy.retry_delay_for(attempt)
        again = Delivery(target, data, seq, attempt + 1, hops)
        if target.slot.name == DRAIN_SLOT:
            # The retry belongs to its drain round: when it adds no work
            # either, the job is done (see drain_items).
            run.drain_mark += 1
        if _save_failure(run, item, record, retry=again, delay=delay, letter=None):
            retry(delay, again)
        return False
    if action == "skip":
        run.counters.skips[target.index] += 1
    else:
        run.counters.failures[target.index] += 1
    run.job.record_outcome(target.routine_id, _OUTCOMES[action], record.message, record.timestamp)
    letter = _dead_letter(run, item, record)
    if not _save_failure(run, item, record, retry=None, delay=0.0, letter=letter):
        return True
    if action == "stop":
        run.stop(
            f"Routine {target.routine_id!r} failed in slot {target.slot.name!r} "
            f"(attempt {attempt}): {describe_exception(exc)}"
        )
    return True


def _tell_hooks(
    run: JobRun, item: Delivery, exc: BaseException, action: str, policy: ErrorHandler
) -> None:
    """Queue the failure and the policy's decision for the run's hooks, if it has any."""
    if run.hooks is not None:
        delay = policy.retry_delay_for(item.attempt) if action == "retry" else 0.0
        run.hooks.failure(item, exc, action, delay, letter=action != "retry")


def _dead_letter(run: JobRun, item: Delivery, record: ErrorRecord) -> DeadLetter:
    target, data, seq, attempt, _ = item
    letter = DeadLetter(
        letter_id=run.delivery_id(seq),
        job_id=run.job.job_id,
        flow_id=run.job.flow_id,
        routine_id=target.routine_id,
        slot=target.slot.name,
        data=data,
        attempt=attempt,
        error=record,
        created_at=record.timestamp,
    )
    with run.job.lock:
        run.job.dead_letters.append(letter)
    return letter


def _save_failure(
    run: JobRun,
    item: Delivery,
    record: ErrorRecord,
    *,
    retry: Delivery | None,
    delay: float,
    letter: DeadLetter | None,
) -> bool:
    """Checkpoint a failure; False (and the job stopped) if the store failed."""
    if run.durable is None:
        return True
    try:
        run.durable.failed(item, record, retry=retry, delay=delay, letter=letter)
    except Exception as exc:  # Any failure of the store's code (or of ours).
        run.store_failed(exc)
        return False
    return True


def _action(policy: ErrorHandler, exc: BaseException, attempt: int) -> str:
    if policy.will_retry(exc, attempt):
        return "retry"
    # RETRY with its budget spent, or an exception it does not retry,
    # acts as STOP, critical or not: "retry, then carry on" is a CONTINUE
    # policy downstream, or the RetryHandler built-in.
    return _ACTIONS[policy.strategy]


def record_error(
    run: JobRun, exc: BaseException, item: Delivery | None, *, action: str, trace: str
) -> ErrorRecord:
    """Add an error record of ``exc`` to the job (and log it); return it."""
    target = item.target if item else None
    record = ErrorRecord(
        routine_id=target.routine_id if target else None,
        slot=target.slot.name if target else None,
        error_type=type(exc).__name__,
        message=exception_text(exc),
        traceback=trace,
        attempt=item.attempt if item else 1,
        action=action,
        timestamp=time.time(),
        delivery_id=run.delivery_id(item.seq) if item else None,
    )
    with run.job.lock:
        run.job.errors.append(record)
    if target is not None:
        logger.warning(
            "Routine %r failed in slot %r of job %s (attempt %d, action %s): %s: %s",
            target.routine_id,
            target.slot.name,
            run.job.job_id,
            record.attempt,
            action,
            record.error_type,
            record.message,
        )
    return record
