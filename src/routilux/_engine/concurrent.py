"""The concurrent strategy: deliveries on a pool of worker threads."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from routilux._engine.commit import ENTRY_SEQ
from routilux._engine.delivery import Delivery
from routilux._engine.gates import Gates
from routilux._engine.job_run import JobRun
from routilux._engine.pool import WorkerPool
from routilux._engine.timers import ServiceTimers
from routilux._engine.workers import (
    NO_PLACE,
    Work,
    admit_entry,
    call_handler,
    new_work,
    release,
    run_entry,
    worker_frame,
)
from routilux._model.records import PendingDelivery
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._engine.aio import LoopThread
    from routilux._engine.frame import DeliveryFrame
    from routilux._engine.gates import Gate
    from routilux._engine.plan import FlowPlan
    from routilux._engine.services import EngineServices
    from routilux._engine.settings import EngineSettings, FlowPort
    from routilux._engine.timers import TimerService
    from routilux._model.job_state import JobState

__all__ = ["ConcurrentRun", "ConcurrentStrategy"]


class ConcurrentRun(JobRun):
    """A job whose deliveries run on the worker pool.

    ``outstanding`` counts the deliveries scheduled and not yet finished
    (queued, running, parked or waiting for a retry); the job completes when
    it reaches zero.
    """

    def __init__(
        self,
        *args: Any,
        pool: WorkerPool[Work],
        gates: Gates[Work],
        timers: TimerService,
        loop: LoopThread,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pool = pool
        self.gates = gates
        # The flow's one gate for async handlers, kept with the routines' gates
        # (by the flow object), so pause and cancel find what waits at it too.
        flow = self.port.flow
        self.async_gate: Gate[Work] = gates.of(flow, lambda: flow.max_async_in_flight)
        self.delayed = ServiceTimers(timers, self._retry_due)
        self.loop = loop
        self.outstanding = 0
        self.parked: deque[Delivery] = deque()
        self.cancelled: set[int] = set()

    def begin(self, items: list[tuple[Delivery, float]]) -> None:
        """Schedule the first deliveries (each with the delay before it may run)."""
        ready: list[Delivery] = []
        with self.lock:
            self.outstanding = len(items)
            for item, delay in items:
                if delay > 0:
                    self.retry_later(delay, item)
                else:
                    ready.append(item)
            if not items:
                ready = self.went_idle()
            # Under the lock, as everywhere: work must reach the pool before the
            # job looks idle, or a virtual clock could jump past it.
            self.submit(ready)

    def submit(self, items: list[Delivery]) -> None:
        """Queue ``items`` on the worker pool."""
        if items:
            self.pool.submit([new_work((self, item, NO_PLACE)) for item in items])

    def went_idle(self) -> list[Delivery]:
        """Nothing is outstanding (caller holds ``lock``): drain, or complete the job.

        Returns:
            The drain deliveries to submit, if a round is due.
        """
        items = self.drain_items()
        if items:
            self.outstanding += len(items)
        else:
            self.complete()
        return items

    def drop_pending(self) -> int:
        """Forget what has not run; queued items are dropped as workers reach them."""
        dropped = self.outstanding - self.running
        self.parked.clear()
        self.delayed.clear()
        return max(0, dropped)

    def pending_locked(self) -> list[PendingDelivery]:
        """Parked deliveries, then retries waiting for their delay (while paused)."""
        ready = [self.pending_item(item) for item in sorted(self.parked, key=_seq)]
        return ready + [self.pending_item(item, left) for item, left in self.delayed.listed()]

    def retry_later(self, delay: float, item: Delivery) -> None:
        """Run ``item`` again after ``delay`` seconds (caller holds ``lock``)."""
        self.delayed.add(delay, item)

    def _retry_due(self, seq: int) -> None:
        """On the timer thread: the delayed delivery ``seq`` is due."""
        with self.lock:
            item = self.delayed.take(seq)
            if item is None or self.ended:
                return
            if self.paused:
                self.parked.append(item)
                return
            # Under the lock, so a cancel that follows finds it in the pool.
            self.submit([item])

    def pause(self) -> None:
        """Hold every delivery not yet started (caller holds ``lock``)."""
        self.paused = self.interrupted = True
        self._park_queued()

    def stop(self, reason: str, *, keep_store: bool = False) -> None:
        """End the job ``failed``, listing what had not started (caller holds ``lock``)."""
        if not self.ended:
            self._park_queued()
        super().stop(reason, keep_store=keep_store)

    def _park_queued(self) -> None:
        """Take this job's deliveries out of the pool's queue and the gates, into ``parked``."""
        held = self._extract(self._is_mine)
        # By sequence number: the pool and the gates each keep their own order.
        self.parked.extend(sorted((work.delivery for work in held), key=_seq))

    def _extract(self, select: Callable[[Work], bool]) -> list[Work]:
        """Take entries out of the gates and the pool's queue, giving up the places they hold.

        An entry that holds its routine's place (one a finished delivery
        handed it, or one waiting at the flow's async gate) would otherwise
        keep that place while parked, and no later delivery of the routine,
        of any job, would run; so with a place under the async bound.
        """
        taken = self.gates.extract(select) + self.pool.extract(select)
        for work in taken:
            release(work.run, work.delivery, work.held)
        return taken

    def drop_queued(self) -> None:
        """Take this (cancelled) job's entries out of the pool's queue, giving up their places."""
        for work in self.pool.extract(self._is_mine):
            release(work.run, work.delivery, work.held)

    def _is_mine(self, entry: Work) -> bool:
        return entry.run is self

    def acknowledge_pause(self) -> None:
        """Once nothing runs, record the pending deliveries and mark the job paused."""
        if self.paused and not self.ended and self.running == 0:
            if self.job.status is JobStatus.RUNNING:
                self.job.pending_deliveries = self.pending_locked()
                self.job.note_next_delivery(self.peek_next_seq())
                self.write_routine_stats()  # A paused job is saved and resumed with them.
                self.job.set_status(JobStatus.PAUSED)
                if self.durable is not None:
                    self.save_status()
            self.quiet.notify_all()

    def resume(self) -> list[Delivery]:
        """Release the parked deliveries (caller holds ``lock``); returns them to submit."""
        self.paused = self.interrupted = False
        # In the order they were held: what was queued at the pause (by
        # number), then what arrived since, timers in the order they fell due.
        items = list(self.parked)
        self.parked.clear()
        self.job.pending_deliveries = []
        return items

    def finished(self, item: Delivery, frame: DeliveryFrame) -> None:
        """Commit a successful delivery's output and schedule its deliveries."""
        new: list[Delivery] = []
        with self.lock:
            self.running -= 1
            if self.ended:
                pass
            elif (
                self.durable is not None
                or frame.extra
                or self.timer_book.by_seq
                or item.seq == ENTRY_SEQ
            ) and (outcome := self.prepare_commit(item, frame)) != "ok":
                new = self._settle_failed_delivery(finished=outcome == "failed")
            else:
                if frame.history:
                    history = self.job.history_items
                    history.extend(frame.history)
                    if len(history) > self.history.cap:
                        self.trim_history()
                new = frame.staged_items()
                self.outstanding += len(new) + len(frame.later) - 1
                for delay, delayed in frame.later:
                    self.retry_later(delay, delayed)
                if item.hops >= self.max_hops and (new or frame.later):
                    # Past the limit: the job stops, listing them as pending.
                    self.parked.extend(new)
                    self.check_hops(item.target, [*new, *(later for _, later in frame.later)])
                    new = []
                elif self.paused:
                    self.parked.extend(new)
                    new = []
                    self.acknowledge_pause()
                elif self.outstanding == 0:
                    new = self.went_idle()
            self.submit(new)
        frame.clear()
        self.delayed.service.wake()

    def call(self, item: Delivery, frame: DeliveryFrame) -> DeliveryFrame | None:
        """Call ``item``'s handler (claimed, on a worker thread); see :func:`call_handler`.

        The one step another strategy built on this one replaces (the Ray
        strategy runs the handler on its cluster).
        """
        return call_handler(self, item, frame)

    def waiting_count(self) -> int:
        """Deliveries outstanding and not running: queued, parked or on a timer."""
        return max(0, self.outstanding - self.running)

    def cancel_delayed(self, seq: int) -> None:
        """Drop a delivery that waits for its time, or is queued (caller holds ``lock``)."""
        if self.delayed.cancel(seq):
            self.outstanding -= 1
            return
        for parked in self.parked:
            if parked.seq == seq:
                self.parked.remove(parked)
                self.outstanding -= 1
                return

        def mine(work: Work) -> bool:
            return work.run is self and work.delivery.seq == seq

        found = self._extract(mine)
        if found:
            self.outstanding -= len(found)
        else:
            # A worker has taken it but not started it yet: _claim drops it.
            self.cancelled.add(seq)

    def failed(self, item: Delivery, exc: BaseException) -> None:
        """Apply the error policy to a failed delivery."""
        drains: list[Delivery] = []
        with self.lock:
            self.running -= 1
            if not self.ended:
                drains = self._settle_failed_delivery(self.on_failure(item, exc, self.retry_later))
            self.submit(drains)
        self.delayed.service.wake()

    def _settle_failed_delivery(self, finished: bool) -> list[Delivery]:
        # Caller holds self.lock; a retried delivery stays outstanding.
        drains: list[Delivery] = []
        if finished and not self.ended:
            self.outstanding -= 1
            if self.outstanding == 0 and not self.paused:
                drains = self.went_idle()
        self.acknowledge_pause()
        return drains

    def claim(self, item: Delivery) -> bool:
        """Decide whether a worker runs ``item`` now; count it if so."""
        with self.lock:
            if self.ended:
                if self.job.status is JobStatus.FAILED:
                    # Taken from the queue just before the job stopped: list it.
                    self.job.pending_deliveries.append(self.pending_item(item))
                return False
            if self.cancelled and item.seq in self.cancelled:
                self.cancelled.discard(item.seq)
                self.outstanding -= 1  # A cancelled timer, caught as it was taken.
                if self.outstanding == 0:
                    self.submit(self.went_idle())
                return False
            if self.paused:
                self.parked.append(item)
                if self.job.status is JobStatus.PAUSED:  # Taken just before the pause: list it.
                    self.job.pending_deliveries = self.pending_locked()
                return False
            if self.deliveries >= self.max_deliveries:
                self.parked.appendleft(item)  # Not run: listed as pending, as the others.
                self.runaway(item)
                return False
            if self.durable is not None and (failure := self.lease_failure()) is not None:
                self.parked.appendleft(item)
                self.store_failed(failure)  # Another process owns the job, or the store failed.
                return False
            self.deliveries += 1
            self.running += 1
            target = item.target
            self.counters.invocations[target.index] += 1
            self.job.current_routine_id = target.routine_id
            return True


class ConcurrentStrategy:
    """Runs deliveries on a pool of ``max_workers`` threads, shared by the engine's jobs.

    The pool starts on first use; when the flow's ``max_workers`` changes,
    the jobs started afterwards get a new pool, and the old one closes once
    no live job uses it. ``async def`` handlers run on the engine's loop
    thread, delays on its timer thread.
    """

    def __init__(self, services: EngineServices) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._pool: WorkerPool[Work] | None = None
        # Pools replaced when max_workers changed: closed once no run uses them.
        self._retired: list[WorkerPool[Work]] = []
        self._gates: Gates[Work] = Gates()
        # The runs made here that have not ended (pruned as new ones come).
        self._runs: list[ConcurrentRun] = []

    def new_run(
        self,
        port: FlowPort,
        settings: EngineSettings,
        plan: FlowPlan,
        job: JobState,
        *,
        timeout: float | None,
    ) -> ConcurrentRun:
        """A run of ``job`` on the pool of ``settings.max_workers`` threads."""
        run = ConcurrentRun(
            port,
            settings,
            plan,
            job,
            strategy=self,
            services=self.services,
            timeout=timeout,
            pool=self._pool_of(settings.max_workers),
            gates=self._gates,
            timers=self.services.timers(),
            loop=self.services.loop(),
        )
        with self._lock:
            self._runs = [kept for kept in self._runs if not kept.ended]
            self._runs.append(run)
        return run

    def _pool_of(self, size: int) -> WorkerPool[Work]:
        with self._lock:
            if self._pool is not None and self._pool.size != size:
                self._retired.append(self._pool)  # Its running jobs keep it.
                self._pool = None
            self._close_retired()
            if self._pool is None:
                self._pool = WorkerPool(size, run_entry, worker_frame, admit=admit_entry)
            return self._pool

    def _close_retired(self) -> None:
        """Shut down the replaced pools that no live run uses (caller holds ``_lock``)."""
        used = {id(run.pool) for run in self._runs if not run.ended}
        for pool in [p for p in self._retired if id(p) not in used]:
            self._retired.remove(pool)
            pool.shutdown(wait=False)  # Its threads exit once the queue is empty.

    def run_inline(self, run: JobRun, entry: Delivery) -> bool:
        """Never: the job runs on the pool while the caller waits."""
        return False

    def launch(self, run: JobRun, deliveries: list[tuple[Delivery, float]]) -> None:
        """Submit ``deliveries`` to the pool (delayed ones on timers), then arm the deadline."""
        _own(run).begin(deliveries)
        # Armed once the work is on the pool: on a virtual clock, a timer
        # armed while the job still looks idle would be jumped to at once.
        self.services.arm_deadline(run)
        with run.lock:
            if run.ended and run.deadline_timer is not None:
                run.deadline_timer.cancel()  # It ended before the timer was armed.

    def pause(self, run: JobRun) -> None:
        """Park the job's queued deliveries; the pause settles when none runs."""
        own = _own(run)
        own.pause()
        own.acknowledge_pause()

    def resume(
        self, run: JobRun, deferred: list[Delivery], settings: EngineSettings
    ) -> Callable[[], None]:
        """Release the parked deliveries, ``deferred`` first, on the pool of today's size."""
        own = _own(run)
        own.pool = self._pool_of(settings.max_workers)
        own.loop = self.services.loop()
        own.delayed.rearm(self.services.timers())  # Set again if a shutdown cancelled them.
        own.outstanding += len(deferred)
        items = [*deferred, *own.resume()]
        if not items and own.outstanding == 0:
            # The last delivery finished while the job was paused.
            items = own.went_idle()
        return partial(own.submit, items)

    def cancelled(self, run: JobRun) -> None:
        """Take the cancelled job's entries out of the pool's queue."""
        _own(run).drop_queued()

    def idle(self) -> bool:
        """Whether the pool has no work and no delivery of a job runs."""
        pool = self._pool
        if pool is not None and not pool.idle():
            return False
        with self._lock:
            runs = list(self._runs)
        return not any(run.running for run in runs)

    def shutdown(self, wait: bool) -> None:
        """Stop the pools' threads (with ``wait``, after their queued work)."""
        with self._lock:
            pool, self._pool = self._pool, None
            retired, self._retired = self._retired, []
        for old in retired:
            old.shutdown(wait)
        if pool is not None:
            pool.shutdown(wait)


def _own(run: JobRun) -> ConcurrentRun:
    assert isinstance(run, ConcurrentRun), "a job of another strategy"
    return run


def _seq(item: Delivery) -> int:
    return item.seq
