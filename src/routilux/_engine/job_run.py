"""One job being run: what both strategies share.

The concepts it draws on each have a module: ending a job (``ending``),
per-routine counters (``counters``), history trimming (``history``),
commits (``commit``), error policy and dead letters (``failures``), the
async bridge (``job_async``), the words of messages (``describe``), and
delayed deliveries (``timers``).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from routilux._engine import ending
from routilux._engine.commit import prepare_commit
from routilux._engine.counters import RoutineCounters
from routilux._engine.delivery import Delivery
from routilux._engine.failures import on_failure, record_error
from routilux._engine.history import DEFAULT_HISTORY_LIMIT, HistoryLimit
from routilux._engine.job_async import await_result, handler_timeout
from routilux._engine.plan import FlowPlan, Target
from routilux._engine.runaway import hops_exceeded
from routilux._engine.timers import TimerBook
from routilux._model.job_state import JobState
from routilux._model.records import JobProgress, PendingDelivery
from routilux._serde.job_routines_doc import engine_records
from routilux.exceptions import (
    ExecutionError,
    HandlerTimeoutError,
    JobTimeoutError,
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


class JobRun(ABC):
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
        self.counters = RoutineCounters(plan)
        self.timeout = timeout
        self.deadline = None if timeout is None else clock.monotonic() + timeout
        self.deadline_timer: Timer | None = None
        self.drain_mark = -1
        # The hops of the next on_drain round: each round counts one more than
        # the one before, so that rounds that keep adding work end as a runaway.
        self.drain_hops = 0
        self.history = HistoryLimit(job, settings.history_limit)
        self.timer_book = TimerBook()
        # Flow(track_execution=True): the job's tracker, which the plan's targets fill.
        self.tracker = plan.tracker_for(job)
        self.durable: Durability | None = None
        # Event hooks (a hooked plan): the run's lock then tells them on release.
        self.hooks = plan.hooks_for(job)
        self.lock = threading.Lock() if self.hooks is None else self.hooks.lock()
        self.quiet = threading.Condition(self.lock)
        self.ended = False
        # Ended in memory only: the store still has the job running (see stop).
        self.abandoned = False
        # Stopped because another process claimed the job (see store_failed).
        self.lost = False
        self.paused = False
        self.interrupted = False
        self.wakeup = threading.Event()
        # The job's own event loop, on which a delivery's thread runs an async
        # handler itself when that thread runs no loop already (see job_async).
        self.own_loop: asyncio.AbstractEventLoop | None = None
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

    # -- ending (see ending.py) ------------------------------------------------

    def complete(self) -> None:
        """End the job ``completed`` (caller holds ``lock``)."""
        ending.complete(self)

    def stop(self, reason: str, *, keep_store: bool = False) -> None:
        """End the job ``failed`` (caller holds ``lock``); see :func:`ending.stop`."""
        ending.stop(self, reason, keep_store=keep_store)

    def store_failed(self, exc: BaseException) -> None:
        """Stop the job because its store failed (caller holds ``lock``); see ``ending``."""
        ending.store_failed(self, exc)

    def cancel(self, reason: str | None = None) -> bool:
        """End the job ``cancelled`` (caller holds ``lock``); False if it had ended."""
        return ending.cancel(self, reason)

    def save_status(self, *, drop_pending: bool = False) -> None:
        """Write the job's status to its store (caller holds ``lock``); log a failure."""
        ending.save_status(self, drop_pending=drop_pending)

    # -- what the strategy keeps -------------------------------------------------

    @abstractmethod
    def drop_pending(self) -> int:
        """Forget every delivery not yet run; return how many."""

    @abstractmethod
    def pending_locked(self) -> list[PendingDelivery]:
        """The deliveries not yet run (caller holds ``lock``)."""

    def pending(self) -> list[PendingDelivery]:
        """The deliveries not yet run."""
        with self.lock:
            return self.pending_locked()

    def close(self) -> None:
        """Release the job's own event loop, if a handler needed one."""
        if self.own_loop is not None:
            self.own_loop.close()
            self.own_loop = None

    def routine_state_snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of the job's routine states, for a checkpoint."""
        with self.job.lock:
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
        self.counters.write_into(self.job)

    def trim_history(self) -> None:
        """Drop the oldest history records beyond the flow's ``history_limit``."""
        self.history.trim(self.job)

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
        per_routine = self.counters.per_routine()
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

    @abstractmethod
    def waiting_count(self) -> int:
        """How many deliveries wait to run."""

    # -- durability ---------------------------------------------------------------

    def prepare_commit(self, item: Delivery, frame: DeliveryFrame) -> str:
        """Apply a successful delivery's job values and timers, and checkpoint it.

        Called with ``lock`` held, before the strategy applies the delivery's
        emits; see :func:`routilux._engine.commit.prepare_commit`.
        """
        return prepare_commit(self, item, frame)

    @abstractmethod
    def cancel_delayed(self, seq: int) -> None:
        """Drop a delivery that waits for its time (caller holds ``lock``)."""

    @abstractmethod
    def retry_later(self, delay: float, item: Delivery) -> None:
        """Run ``item`` again after ``delay`` seconds (caller holds ``lock``)."""

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
