"""One job being run: what both strategies share."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from routilux._engine.commit import prepare_commit
from routilux._engine.deferred import warn_unemitted
from routilux._engine.delivery import Delivery
from routilux._engine.describe import (
    describe_exception,
    dropped_count,
)
from routilux._engine.failures import on_failure, record_error
from routilux._engine.job_async import await_result, handler_timeout
from routilux._engine.plan import FlowPlan, Target
from routilux._engine.runaway import hops_exceeded
from routilux._engine.timers import TimerBook
from routilux._model.job_state import JobState
from routilux._model.records import JobProgress, PendingDelivery, RoutineStats
from routilux._model.status import JobStatus
from routilux._serde.job_routines_doc import engine_records
from routilux.exceptions import (
    ExecutionError,
    HandlerTimeoutError,
    JobTimeoutError,
    OwnershipLostError,
    RunawayJobError,
)

if TYPE_CHECKING:
    from routilux._engine.aio import LoopThread
    from routilux._engine.durable import Durability
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.services import EngineServices
    from routilux._engine.settings import EngineSettings, FlowPort
    from routilux._engine.strategy import RunStrategy
    from routilux._engine.timers import Timer

__all__ = ["DEFAULT_HISTORY_LIMIT", "JobRun"]

logger = logging.getLogger("routilux")

#: How many of a job's latest history records a flow keeps by default
#: (``Flow(history_limit=...)``): a long job runs in memory proportional to
#: its pending work, not to its past.
DEFAULT_HISTORY_LIMIT = 10_000


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
        port: FlowPort,
        settings: EngineSettings,
        plan: FlowPlan,
        job: JobState,
        *,
        strategy: RunStrategy,
        services: EngineServices,
        timeout: float | None,
    ) -> None:
        self.port = port
        self.strategy = strategy
        self.plan = plan
        self.job = job
        clock = self.clock = settings.clock
        # No cap: a limit no job reaches keeps one comparison on the hot path.
        max_deliveries = settings.max_deliveries
        self.max_deliveries = sys.maxsize if max_deliveries is None else max_deliveries
        self.max_hops = settings.max_hops
        self.record_history = settings.record_history
        # Deliveries running now (the concurrent strategy's workers and async handlers).
        self.running = 0
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
        # The hops of the next on_drain round: each round counts one more than
        # the one before, so that rounds that keep adding work end as a runaway.
        self.drain_hops = 0
        limit = settings.history_limit
        # The flat history holds 4 items a record; trim to the limit once it
        # holds twice that, so trimming costs O(1) a record.
        self.history_keep = None if limit is None else 4 * limit
        self.history_cap = sys.maxsize if limit is None else 8 * limit
        job._history_limit = limit  # For JobState.record_execution.
        self.timer_book = TimerBook()
        # Flow(track_execution=True): the job's tracker, which the plan's targets fill.
        self.tracker = plan.tracker_for(job)
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
        self.async_loop: Callable[[], LoopThread] = services.loop
        self.threads = services.threads

    # -- identity -------------------------------------------------------------

    def peek_next_seq(self) -> int:
        """The number the next new delivery will take (caller holds ``lock``; none is running)."""
        following = next(self.counter)
        self.counter = itertools.count(following)
        return following

    def delivery_id(self, seq: int) -> str:
        """The stable id of delivery number ``seq`` of this job."""
        return f"{self.job.job_id}:{seq}"

    def entry_item(self, entry: Target, params: dict[str, Any]) -> Delivery:
        """The first delivery of the job (hop 0, number ``commit.ENTRY_SEQ``)."""
        return Delivery(entry, params, next(self.counter), 1, 0)

    # -- ending -----------------------------------------------------------------

    def complete(self) -> None:
        """End the job ``completed`` (caller holds ``lock``)."""
        if not self.ended:
            warn_unemitted(self.job)
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

    def cancel(self, reason: str | None = None) -> bool:
        """End the job ``cancelled`` (caller holds ``lock``); False if it had ended.

        ``job.error`` is ``reason`` (``"Cancelled"`` by default), followed by
        how many pending deliveries were dropped.
        """
        if self.ended:
            return False
        dropped = self.drop_pending()
        self.job.pending_deliveries = []
        self._finish(
            JobStatus.CANCELLED,
            f"{reason or 'Cancelled'} ({dropped_count(dropped)})",
            drop_pending=True,
        )
        return True

    def _finish(
        self, status: JobStatus, error: str | None = None, *, drop_pending: bool = False
    ) -> None:
        self.ended = self.interrupted = True
        if self.deadline_timer is not None:
            self.deadline_timer.cancel()
        self.write_routine_stats()
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
        """A copy of the job's routine states, for a checkpoint."""
        with self.job._lock:
            return {rid: dict(state) for rid, state in self.job.routine_states.items()}

    def engine_state_snapshot(self) -> dict[str, Any]:
        """Write the per-routine counters into the job; return them and the named timers.

        For a checkpoint: the job document's ``routine_stats`` and ``timers``
        (job values are written apart, as they change: see ``Durability``).
        """
        self.write_routine_stats()
        return engine_records(self.job)

    def write_routine_stats(self) -> None:
        """Copy the per-routine counters into the job's routine stats (the job ends or pauses)."""
        ids, failures, skips = self.routine_ids, self.failures, self.skips
        stats = {
            ids[i]: RoutineStats(calls, failures[i], skips[i])
            for i, calls in enumerate(self.invocations)
            if calls
        }
        with self.job._lock:
            # In the flow's order; then those of routines the flow no longer has (a resume).
            others = self.job._routine_stats.items()
            self.job._routine_stats = {**stats, **{k: v for k, v in others if k not in stats}}

    def seed_counters(self) -> None:
        """Start the per-routine counters from the job's routine stats (a resumed job)."""
        for i, rid in enumerate(self.routine_ids):
            stats = self.job._routine_stats.get(rid)
            if stats is not None:
                self.invocations[i] = stats.deliveries
                self.failures[i] = stats.failures
                self.skips[i] = stats.skips

    def trim_history(self) -> None:
        """Drop the oldest history records beyond the flow's ``history_limit``."""
        if self.history_keep is not None:
            # Under the job's lock: record_execution trims from handler threads too.
            self.job._trim_history(self.history_keep)

    def drain_items(self) -> list[Delivery]:
        """The next round of ``on_drain`` deliveries, if one is due (caller holds ``lock``).

        A round is due when the job goes idle, unless the previous round was
        the last thing that ran (it added no work): then the job is done.
        """
        drainers = self.plan.drainers
        if not drainers or self.drain_mark == self.deliveries:
            return []
        self.drain_mark = self.deliveries + len(drainers)
        hops = self.drain_hops
        self.drain_hops += 1
        items = [
            Delivery(target, {}, next(self.counter), 1, hops)
            for target in self.plan.drain_targets()
        ]
        if self.durable is not None and items:
            try:
                self.durable.cover(items[-1].seq)
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
        running = self.running
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

    def prepare_commit(self, item: Delivery, frame: DeliveryFrame) -> str:
        """Apply a successful delivery's job values and timers, and checkpoint it.

        Called with ``lock`` held, before the strategy applies the delivery's
        emits; see :func:`routilux._engine.commit.prepare_commit`.
        """
        return prepare_commit(self, item, frame)

    def cancel_delayed(self, seq: int) -> None:
        """Drop a delivery that waits for its time (caller holds ``lock``; strategy-specific)."""
        raise NotImplementedError

    def retry_later(self, delay: float, item: Delivery) -> None:
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

    def runaway(self, item: Delivery) -> None:
        """Fail a job that exceeded its delivery limit (caller holds ``lock``)."""
        error = RunawayJobError(
            f"Job {self.job.job_id} of flow {self.job.flow_id!r} exceeded its limit of "
            f"{self.max_deliveries} deliveries, at a delivery to routine "
            f"{item.target.routine_id!r}; the flow probably has a cycle. Raise "
            "Flow(max_deliveries=...) if the job really needs more.",
            routine_id=item.target.routine_id,
            slot_name=item.target.slot.name,
            job_id=self.job.job_id,
        )
        self.stop_with_error(error)

    def check_hops(self, emitter: Target, items: Iterable[Delivery]) -> bool:
        """Fail the job if one of ``items``, scheduled by ``emitter``, is past ``max_hops``.

        Called with ``lock`` held, once the items are queued (so that they
        are listed as pending). Returns whether the job was failed.
        """
        for item in items:
            if item.hops > self.max_hops:
                self.stop_with_error(hops_exceeded(self, emitter, item))
                return True
        return False

    def stop_with_error(self, error: ExecutionError) -> None:
        """Record a job-level ``error`` and stop the job (caller holds ``lock``)."""
        record_error(self, error, None, action="stop", trace="")
        self.stop(str(error))

    # -- failures and async handlers (see failures.py and job_async.py) -----------

    def on_failure(
        self, item: Delivery, exc: BaseException, retry: Callable[[float, Delivery], None]
    ) -> bool:
        """Apply the error policy to a delivery whose handler raised (caller holds ``lock``).

        Returns whether the delivery is finished (not retried); ``retry``
        schedules it again after a delay, if the policy retries.
        """
        return on_failure(self, item, exc, retry)

    def await_result(self, awaitable: Awaitable[Any], target: Target) -> Any:
        """Run an ``async def`` handler's awaitable to completion, blocking this thread."""
        return await_result(self, awaitable, target)

    def handler_timeout(self, target: Target, timeout: float) -> HandlerTimeoutError:
        """The error of a handler that ran past its routine's timeout."""
        return handler_timeout(self, target, timeout)

    def pending_item(self, item: Delivery, delay: float = 0.0) -> PendingDelivery:
        """``item`` as a :class:`PendingDelivery`."""
        target, data, seq, attempt, hops = item
        return PendingDelivery(
            self.delivery_id(seq), target.routine_id, target.slot.name, data, attempt, delay, hops
        )
