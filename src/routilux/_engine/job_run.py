"""One job being run: what both strategies share."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from routilux._engine.aio import within
from routilux._engine.clock import Clock
from routilux._engine.extras import (
    TimerBook,
    TimerOp,
    ValueChanges,
    apply_values,
    restore_values,
)
from routilux._engine.plan import DRAIN_SLOT, FlowPlan, Target
from routilux._model.context import CURRENT_FRAME, Frame
from routilux._model.durable import DeadLetter
from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.job_state import JobState
from routilux._model.records import ErrorRecord, JobProgress, PendingDelivery
from routilux._model.status import JobStatus
from routilux.exceptions import (
    ExecutionError,
    HandlerTimeoutError,
    JobTimeoutError,
    OwnershipLostError,
    RunawayJobError,
    SerializationError,
)

if TYPE_CHECKING:
    from routilux._engine.aio import LoopThread
    from routilux._engine.durable import Durability
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.threads import ThreadGroup
    from routilux._engine.timers import Timer

__all__ = ["Item", "JobRun"]

logger = logging.getLogger("routilux")

#: A scheduled delivery: (target, message, sequence number, attempt).
Item = tuple[Target, dict[str, Any], int, int]

_STOP_BY_DEFAULT = ErrorHandler(strategy=ErrorStrategy.STOP)
_NO_CHANGES = ValueChanges()
_ACTIONS = {
    ErrorStrategy.STOP: "stop",
    ErrorStrategy.CONTINUE: "continue",
    ErrorStrategy.SKIP: "skip",
}


class JobRun:
    """The engine's side of one job, shared by both strategies.

    It holds what the :class:`JobState` does not: per-routine counters, the
    error policy decisions, and whether the job is paused or has ended.
    ``lock`` guards every change that another thread may race with (a
    commit, a failure, pause, cancel, timeout); the strategy subclasses own
    the queue of deliveries.

    Attributes:
        ended: No more deliveries will run or be committed.
        interrupted: Paused or ended: the driver must look before going on.
    """

    def __init__(
        self,
        flow: Any,
        plan: FlowPlan,
        job: JobState,
        *,
        clock: Clock,
        timeout: float | None,
        max_deliveries: int,
        record_history: bool,
        async_loop: Callable[[], LoopThread],
        threads: ThreadGroup,
    ) -> None:
        self.flow = flow
        self.plan = plan
        self.job = job
        self.clock = clock
        self.max_deliveries = max_deliveries
        self.record_history = record_history
        self.counter = itertools.count(1)
        self.deliveries = 0
        self.invocations = [0] * len(plan.index)
        self.failures = [0] * len(plan.index)
        self.skips = [0] * len(plan.index)
        self.timeout = timeout
        self.deadline = None if timeout is None else clock.monotonic() + timeout
        self.deadline_timer: Timer | None = None
        self.routine_ids = list(plan.index)
        self.drain_mark = -1
        limit = getattr(flow, "history_limit", None)
        # The flat history holds 4 items a record; trim to the limit once it
        # holds twice that, so trimming costs O(1) a record.
        self.history_keep = None if limit is None else 4 * limit
        self.history_cap = sys.maxsize if limit is None else 8 * limit
        self.timer_book = TimerBook()
        self.durable: Durability | None = None
        self.lock = threading.Lock()
        self.quiet = threading.Condition(self.lock)
        self.ended = False
        # Ended in memory only: the store still has the job running (see stop).
        self.abandoned = False
        # Stopped because another process claimed the job (see store_failed).
        self.lost = False
        self.paused = False
        self.interrupted = False
        self.wakeup = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.async_loop: Callable[[], LoopThread] = async_loop
        self.threads = threads

    # -- identity -------------------------------------------------------------

    def delivery_id(self, seq: int) -> str:
        """The stable id of delivery number ``seq`` of this job."""
        return f"{self.job.job_id}:{seq}"

    def entry_item(self, entry: Target, params: dict[str, Any]) -> Item:
        """The first delivery of the job."""
        return (entry, params, next(self.counter), 1)

    # -- ending -----------------------------------------------------------------

    def complete(self) -> None:
        """End the job ``completed`` (caller holds ``lock``)."""
        if not self.ended:
            self._finish(JobStatus.COMPLETED)

    def stop(self, reason: str, *, keep_store: bool = False) -> None:
        """End the job ``failed`` (caller holds ``lock``).

        What has not run never will; it stays listed in ``pending_deliveries``.
        With ``keep_store``, a durable job's store is not told: it keeps the
        job running at its last checkpoint, to be resumed (``abandoned``).
        """
        if self.ended:
            return
        if keep_store and self.durable is not None:
            self.abandoned = True
        leftovers = self._pending_locked()
        self.drop_pending()
        if self.lost:
            pass  # Another process owns the job: it is not this flow's to resume.
        elif self.abandoned:
            reason = (
                f"{reason}; the store keeps the job as it was at its last checkpoint, and "
                f"flow.resume({self.job.job_id!r}) continues it from there"
            )
        elif leftovers:
            reason = f"{reason} ({dropped_count(len(leftovers))})"
        self.job.pending_deliveries = leftovers
        logger.error("Job %s of flow %r failed: %s", self.job.job_id, self.job.flow_id, reason)
        self._finish(JobStatus.FAILED, reason)

    def store_failed(self, exc: BaseException) -> None:
        """Stop the job because its store failed (caller holds ``lock``).

        Nothing more is written to the store, which keeps the job running
        at its last checkpoint, so that it can be resumed once the store
        works again (in this process too: see ``abandoned``). When the store
        refused a write because another process has claimed the job
        (:class:`~routilux.OwnershipLostError`), the job is that process's
        now: nothing more is written either, and no further handler runs.
        """
        if isinstance(exc, OwnershipLostError):
            self.lost = True
            self.stop(describe_exception(exc), keep_store=True)
            return
        self.stop(f"The job store failed: {describe_exception(exc)}", keep_store=True)

    def cancel(self) -> bool:
        """End the job ``cancelled`` (caller holds ``lock``); False if it had ended."""
        if self.ended:
            return False
        dropped = self.drop_pending()
        self.job.pending_deliveries = []
        self._finish(
            JobStatus.CANCELLED,
            f"Cancelled ({dropped_count(dropped)})",
            drop_pending=True,
        )
        return True

    def _finish(
        self, status: JobStatus, error: str | None = None, *, drop_pending: bool = False
    ) -> None:
        self.ended = self.interrupted = True
        if self.deadline_timer is not None:
            self.deadline_timer.cancel()
        self._write_routine_states()
        durable = self.durable
        if durable is not None and not self.abandoned:
            # Written first: if another process owns the job now, it ends failed
            # with that error instead. Waiters wake only once the store has it.
            refused = self._save_final(status, error, drop_pending)
            if refused is not None:
                self.lost = self.abandoned = True
                status, error = JobStatus.FAILED, describe_exception(refused)
                logger.error(
                    "Job %s of flow %r failed: %s", self.job.job_id, self.job.flow_id, error
                )
        self.job._transition(status, error=error, notify=False)
        if durable is not None:
            if self.abandoned and not self.lost:
                durable.release()  # Another process may resume it at once.
            if durable.on_end is not None:
                durable.on_end()
        self.job._finished.set()
        self.quiet.notify_all()
        self.wakeup.set()

    def _save_final(
        self, status: JobStatus, error: str | None, drop_pending: bool
    ) -> OwnershipLostError | None:
        """Write the status the job ends with; return the refusal if another process owns it."""
        assert self.durable is not None
        try:
            self.durable.status(drop_pending=drop_pending, final=(status.value, error))
        except OwnershipLostError as exc:
            return exc
        except Exception as exc:  # Any failure of the store's code: the job ends anyway.
            logger.error(
                "Job %s: its store did not take the status %r: %s",
                self.job.job_id,
                status.value,
                exc,
            )
        return None

    def save_status(self, *, drop_pending: bool = False) -> None:
        """Write the job's status to its store (caller holds ``lock``); log a failure."""
        assert self.durable is not None
        try:
            self.durable.status(drop_pending=drop_pending)
        except OwnershipLostError as exc:
            self.store_failed(exc)  # Another process owns the job: stop, if not ended.
        except Exception as exc:  # Any failure of the store's code: the job has ended anyway.
            logger.error(
                "Job %s: its store did not take the status %r: %s",
                self.job.job_id,
                self.job.status.value,
                exc,
            )

    def drop_pending(self) -> int:
        """Forget every delivery not yet run; return how many (strategy-specific)."""
        raise NotImplementedError

    def _pending_locked(self) -> list[PendingDelivery]:
        """The deliveries not yet run (caller holds ``lock``; strategy-specific)."""
        raise NotImplementedError

    def pending(self) -> list[PendingDelivery]:
        """The deliveries not yet run."""
        with self.lock:
            return self._pending_locked()

    def close(self) -> None:
        """Release the job's own event loop, if a handler needed one."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def routine_state_snapshot(self) -> dict[str, dict[str, Any]]:
        """Write the per-routine counters into the job's routine states; return a copy.

        The copy leaves out each routine's job values (``"values"``): a store
        keeps them apart, written as they change (see ``Durability``).
        """
        self._write_routine_states()
        with self.job._lock:
            return {
                rid: {k: v for k, v in state.items() if k != "values"}
                for rid, state in self.job.routine_states.items()
            }

    def _write_routine_states(self) -> None:
        ids = self.routine_ids
        for i, calls in enumerate(self.invocations):
            if not calls:
                continue
            failures, skips = self.failures[i], self.skips[i]
            status = "failed" if failures else "skipped" if skips else "completed"
            self.job.update_routine_state(
                ids[i],
                {"status": status, "deliveries": calls, "failures": failures, "skips": skips},
            )

    def seed_counters(self) -> None:
        """Start the per-routine counters from the job's routine states (a resumed job)."""
        for i, rid in enumerate(self.routine_ids):
            state = self.job.routine_states.get(rid, {})
            self.invocations[i] = int(state.get("deliveries", 0))
            self.failures[i] = int(state.get("failures", 0))
            self.skips[i] = int(state.get("skips", 0))

    def trim_history(self) -> None:
        """Drop the oldest history records beyond the flow's ``history_limit``."""
        history, keep = self.job._history, self.history_keep
        if keep is not None and len(history) > keep:
            dropped = len(history) - keep
            del history[:dropped]
            self.job.history_dropped += dropped // 4

    def drain_items(self) -> list[Item]:
        """The next round of ``on_drain`` deliveries, if one is due (caller holds ``lock``).

        A round is due when the job goes idle, unless the previous round was
        the last thing that ran (it added no work): then the job is done.
        """
        drainers = self.plan.drainers
        if not drainers or self.drain_mark == self.deliveries:
            return []
        self.drain_mark = self.deliveries + len(drainers)
        items: list[Item] = [
            (target, {}, next(self.counter), 1) for target in self.plan.drain_targets()
        ]
        if self.durable is not None and items:
            try:
                self.durable.cover(items[-1][2])
            except Exception as exc:  # Any failure of the store's code (or of ours).
                self.store_failed(exc)
                return []
        return items

    def progress(self) -> JobProgress:
        """A snapshot of the job's counters (read without the lock: approximate)."""
        per_routine = {
            rid: {
                "deliveries": self.invocations[i],
                "failures": self.failures[i],
                "skips": self.skips[i],
            }
            for i, rid in enumerate(self.routine_ids)
            if self.invocations[i]
        }
        running = int(getattr(self, "running", 0))
        waiting = self.waiting_count()
        return JobProgress(
            job_id=self.job.job_id,
            status=self.job.status.value,
            deliveries=self.deliveries,
            pending=waiting,
            running=running,
            per_routine=per_routine,
            errors=len(self.job.errors),
        )

    def waiting_count(self) -> int:
        """How many deliveries wait to run (strategy-specific)."""
        raise NotImplementedError

    # -- durability ---------------------------------------------------------------

    def prepare_commit(self, item: Item, frame: DeliveryFrame) -> str:
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
        self.job.current_routine_id = item[0].routine_id
        ops = frame.timer_ops
        book = self.timer_book
        dropped, added = book.resolve(ops, item[2]) if ops or book.by_seq else ([], [])
        frame.later.extend(added)
        changes = apply_values(self, frame) if frame.values or frame.appends else _NO_CHANGES
        touched = self._write_timer_names(ops, item[2]) if ops or item[2] in book.by_seq else {}
        if self.durable is not None:
            outcome = self._checkpoint(item, frame, dropped, changes)
            if outcome != "ok":
                restore_values(self, changes)
                self._restore_timer_names(touched)
                return outcome
        for seq in dropped:
            self.cancel_delayed(seq)
        if ops or item[2] in book.by_seq:
            book.apply(ops, item[2])
        frame.values.clear()
        frame.appends.clear()
        frame.timer_ops.clear()
        frame.extra = False
        return "ok"

    def _checkpoint(
        self, item: Item, frame: DeliveryFrame, dropped: list[int], changes: ValueChanges
    ) -> str:
        assert self.durable is not None
        try:
            self.durable.delivered(
                item,
                frame.staged_items(),
                frame.history,
                frame.later,
                cancelled=dropped,
                values=changes,
            )
        except SerializationError as exc:
            frame.clear()
            unstorable = self.durable.drop_unstorable()
            if unstorable:
                logger.warning(
                    "Job %s: %s could not be stored and were put back as the store has them.",
                    self.job.job_id,
                    ", ".join(unstorable),
                )
            finished = self.on_failure(item, exc, self.retry_later)
            return "failed" if finished else "retrying"
        except Exception as exc:  # Any failure of the store's code (or of ours).
            self.store_failed(exc)
            return "failed"
        return "ok"

    def _write_timer_names(self, ops: list[TimerOp], fired: int) -> dict[str, Any]:
        """Put the timer names as they will be into the routine states; return the old ones."""
        future = TimerBook(dict(self.timer_book.by_name), dict(self.timer_book.by_seq))
        future.apply(ops, fired)
        routines = {op.routine_id for op in ops}
        if fired in self.timer_book.by_seq:
            routines.add(self.timer_book.by_seq[fired][0])
        old: dict[str, Any] = {}
        with self.job._lock:
            for rid in routines:
                state = self.job.routine_states.setdefault(rid, {})
                old[rid] = state.get("timers")
                state["timers"] = future.names_of(rid)
            self.job._states_dirty = True
        return old

    def _restore_timer_names(self, old: dict[str, Any]) -> None:
        with self.job._lock:
            for rid, names in old.items():
                self.job.routine_states[rid]["timers"] = names

    def cancel_delayed(self, seq: int) -> None:
        """Drop a delivery that waits for its time (caller holds ``lock``; strategy-specific)."""
        raise NotImplementedError

    def retry_later(self, delay: float, item: Item) -> None:
        """Run ``item`` again after ``delay`` seconds (caller holds ``lock``; strategy-specific)."""
        raise NotImplementedError

    # -- limits -----------------------------------------------------------------

    def time_out(self) -> None:
        """Fail the job for running past its deadline (caller holds ``lock``)."""
        if self.ended:
            return
        error = JobTimeoutError(
            f"Job {self.job.job_id} of flow {self.job.flow_id!r} ran past its timeout of "
            f"{self.timeout} seconds.",
            job_id=self.job.job_id,
        )
        self.stop_with_error(error)

    def past_deadline(self) -> bool:
        """Whether the job's deadline has passed."""
        return self.deadline is not None and self.clock.monotonic() >= self.deadline

    def lease_failure(self) -> BaseException | None:
        """Make sure a durable job still owns its store's job before a delivery starts.

        Cheap while the lease is recent; past three quarters of it (see
        ``durable.LEASE_TRUST``), the lease is renewed first. Returns why
        the job may not go on (another process owns it, or the store
        failed), for the caller to stop it with :meth:`store_failed` under
        ``lock``.
        """
        durable = self.durable
        if durable is None or not durable.lease_doubtful():
            return None
        return durable.renew()

    def runaway(self, item: Item) -> None:
        """Fail a job that exceeded its delivery limit (caller holds ``lock``)."""
        error = RunawayJobError(
            f"Job {self.job.job_id} of flow {self.job.flow_id!r} exceeded its limit of "
            f"{self.max_deliveries} deliveries, at a delivery to routine "
            f"{item[0].routine_id!r}; the flow probably has a cycle. Raise "
            "Flow(max_deliveries=...) if the job really needs more.",
            routine_id=item[0].routine_id,
            slot_name=item[0].slot.name,
            job_id=self.job.job_id,
        )
        self.stop_with_error(error)

    def stop_with_error(self, error: ExecutionError) -> None:
        """Record a job-level ``error`` and stop the job (caller holds ``lock``)."""
        self._record(error, None, action="stop", trace="")
        self.stop(str(error))

    # -- failures ---------------------------------------------------------------

    def on_failure(
        self, item: Item, exc: BaseException, retry: Callable[[float, Item], None]
    ) -> bool:
        """Apply the error policy to a delivery whose handler raised (caller holds ``lock``).

        Args:
            item: The failed delivery.
            exc: What the handler raised.
            retry: Schedules ``item`` again after a delay, if the policy retries.

        Returns:
            Whether the delivery is finished (not retried).
        """
        target, data, seq, attempt = item
        if isinstance(exc, Interrupted):
            exc = exc.original
        if isinstance(exc, ExecutionError):
            exc.routine_id = exc.routine_id or target.routine_id
            exc.slot_name = exc.slot_name or target.slot.name
            exc.job_id = exc.job_id or self.job.job_id
        policy = target.routine._error_handler or self.flow.error_handler or _STOP_BY_DEFAULT
        action = self._action(policy, exc, attempt)
        record = self._record(exc, item, action=action, trace=_format(exc))
        if action == "retry":
            delay = policy.retry_delay_for(attempt)
            again = (target, data, seq, attempt + 1)
            if target.slot.name == DRAIN_SLOT:
                # The retry belongs to its drain round: when it adds no work
                # either, the job is done (see drain_items).
                self.drain_mark += 1
            if self._save_failure(item, record, retry=again, delay=delay, letter=None):
                retry(delay, again)
            return False
        if action == "skip":
            self.skips[target.index] += 1
        else:
            self.failures[target.index] += 1
        letter = self._dead_letter(item, record)
        if not self._save_failure(item, record, retry=None, delay=0.0, letter=letter):
            return True
        if action == "stop":
            self.stop(
                f"Routine {target.routine_id!r} failed in slot {target.slot.name!r} "
                f"(attempt {attempt}): {describe_exception(exc)}"
            )
        return True

    def _dead_letter(self, item: Item, record: ErrorRecord) -> DeadLetter:
        target, data, seq, attempt = item
        letter = DeadLetter(
            letter_id=self.delivery_id(seq),
            job_id=self.job.job_id,
            flow_id=self.job.flow_id,
            routine_id=target.routine_id,
            slot=target.slot.name,
            data=data,
            attempt=attempt,
            error=record,
            created_at=record.timestamp,
        )
        with self.job._lock:
            self.job.dead_letters.append(letter)
        return letter

    def _save_failure(
        self,
        item: Item,
        record: ErrorRecord,
        *,
        retry: Item | None,
        delay: float,
        letter: DeadLetter | None,
    ) -> bool:
        """Checkpoint a failure; False (and the job stopped) if the store failed."""
        if self.durable is None:
            return True
        try:
            self.durable.failed(item, record, retry=retry, delay=delay, letter=letter)
        except Exception as exc:  # Any failure of the store's code (or of ours).
            self.store_failed(exc)
            return False
        return True

    @staticmethod
    def _action(policy: ErrorHandler, exc: BaseException, attempt: int) -> str:
        if policy.will_retry(exc, attempt):
            return "retry"
        if policy.strategy is ErrorStrategy.RETRY:
            return "stop" if policy.is_critical else "continue"
        return _ACTIONS[policy.strategy]

    def _record(
        self, exc: BaseException, item: Item | None, *, action: str, trace: str
    ) -> ErrorRecord:
        target = item[0] if item else None
        record = ErrorRecord(
            routine_id=target.routine_id if target else None,
            slot=target.slot.name if target else None,
            error_type=type(exc).__name__,
            message=exception_text(exc),
            traceback=trace,
            attempt=item[3] if item else 1,
            action=action,
            timestamp=time.time(),
            delivery_id=self.delivery_id(item[2]) if item else None,
        )
        with self.job._lock:
            self.job.errors.append(record)
        if target is not None:
            logger.warning(
                "Routine %r failed in slot %r of job %s (attempt %d, action %s): %s: %s",
                target.routine_id,
                target.slot.name,
                self.job.job_id,
                record.attempt,
                action,
                record.error_type,
                record.message,
            )
        return record

    # -- async handlers in the sequential strategy --------------------------------

    def await_result(self, awaitable: Awaitable[Any], target: Target) -> Any:
        """Run an ``async def`` handler's awaitable to completion, blocking this thread.

        It runs on the job's own event loop; if this thread already runs an
        event loop (``execute`` called from async code), on the engine's
        loop thread instead, since one thread cannot run two loops.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(self.bounded(awaitable, target))
        frame = CURRENT_FRAME.get()
        return self.async_loop().submit(self._in_frame(frame, awaitable, target)).result()

    async def _in_frame(
        self, frame: Frame | None, awaitable: Awaitable[Any], target: Target
    ) -> Any:
        token = CURRENT_FRAME.set(frame)
        try:
            return await self.bounded(awaitable, target)
        except (KeyboardInterrupt, SystemExit) as exc:
            # Out of a task they would stop the engine's loop thread, and every
            # async handler with it: a failure of this delivery like any other.
            raise Interrupted(exc) from exc
        finally:
            CURRENT_FRAME.reset(token)

    async def bounded(self, awaitable: Awaitable[Any], target: Target) -> Any:
        """Await ``awaitable`` within the routine's timeout, if it has one.

        The timeout counts from the moment the handler starts, in this step:
        never the time the task waited for the event loop before.
        """
        timeout = target.routine._timeout
        if timeout is None:
            return await awaitable
        return await within(awaitable, timeout, lambda: self.handler_timeout(target, timeout))

    def handler_timeout(self, target: Target, timeout: float) -> HandlerTimeoutError:
        """The error of a handler that ran past its routine's timeout."""
        return HandlerTimeoutError(
            f"The handler of slot {target.slot.name!r} of routine {target.routine_id!r} ran "
            f"longer than its timeout of {timeout} seconds.",
            routine_id=target.routine_id,
            slot_name=target.slot.name,
            job_id=self.job.job_id,
        )

    def pending_item(self, item: Item, delay: float = 0.0) -> PendingDelivery:
        """``item`` as a :class:`PendingDelivery`."""
        target, data, seq, attempt = item
        return PendingDelivery(
            self.delivery_id(seq), target.routine_id, target.slot.name, data, attempt, delay
        )


class Interrupted(Exception):
    """A KeyboardInterrupt or SystemExit of an async handler, carried out of its task."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(original)
        self.original = original


def dropped_count(count: int) -> str:
    """``"3 pending deliveries dropped"`` (``"1 pending delivery dropped"``)."""
    return f"{count} pending {'delivery' if count == 1 else 'deliveries'} dropped"


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, or a placeholder if that raises (a handler's exception may be odd)."""
    try:
        return str(exc)
    except Exception as failure:
        return f"<str() of the exception raised {type(failure).__name__}>"


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: bad value"``: the exception's type and text."""
    return f"{type(exc).__name__}: {exception_text(exc)}"


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
