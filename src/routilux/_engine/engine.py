"""The threads of one flow, and control of its running jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from routilux._engine.aio import LoopThread
from routilux._engine.clock import virtual_clock
from routilux._engine.concurrent import ConcurrentRun, Work, admit_entry, run_entry
from routilux._engine.deferred import emit_deferred, route_deferred, save_resume
from routilux._engine.durable import Durability
from routilux._engine.frame import DeliveryFrame
from routilux._engine.gates import Gates
from routilux._engine.job_run import Item, JobRun
from routilux._engine.lease import LeaseKeeper
from routilux._engine.plan import FlowPlan, Target
from routilux._engine.pool import WorkerPool
from routilux._engine.sequential import SequentialRun
from routilux._engine.threads import ThreadGroup
from routilux._engine.timers import TimerService
from routilux._model.context import CURRENT_FRAME
from routilux._model.job_state import JobState
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._model.store import JobStore

__all__ = ["Engine"]

logger = logging.getLogger("routilux")


class Engine:
    """Runs the jobs of one flow and owns the threads they need.

    Threads start on first use: the timer thread (retry delays and job
    deadlines), and for the concurrent strategy the worker pool and the
    asyncio loop thread; a sequential job started in the background gets a
    thread of its own. :meth:`shutdown` stops them all; the engine starts
    them again if another job comes.
    """

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self._lock = threading.Lock()
        self._runs: dict[str, JobRun] = {}
        self._threads = ThreadGroup()
        self._timers: TimerService | None = None
        self._pool: WorkerPool[Work] | None = None
        # Pools replaced when max_workers changed: closed once no run uses them.
        self._retired: list[WorkerPool[Work]] = []
        self._gates: Gates[Work] = Gates()
        self._loop: LoopThread | None = None
        self._leases = LeaseKeeper(self._threads)
        self._virtual = virtual_clock(flow.clock) is not None

    # -- services ---------------------------------------------------------------

    def _services(self) -> tuple[TimerService, WorkerPool[Work], LoopThread]:
        with self._lock:
            if self._pool is not None and self._pool.size != self.flow.max_workers:
                self._retired.append(self._pool)  # Its running jobs keep it.
                self._pool = None
            self._close_retired()
            if self._pool is None:
                self._pool = WorkerPool(
                    self.flow.max_workers, run_entry, self._worker_frame, admit=admit_entry
                )
            if self._loop is None:
                self._loop = LoopThread()
            return self._timer_service(), self._pool, self._loop

    def _close_retired(self) -> None:
        """Shut down the replaced pools that no live run uses (caller holds ``_lock``)."""
        used = {id(getattr(run, "pool", None)) for run in self._runs.values() if not run.ended}
        for pool in [p for p in self._retired if id(p) not in used]:
            self._retired.remove(pool)
            pool.shutdown(wait=False)  # Its threads exit once the queue is empty.

    def _loop_thread(self) -> LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def _timer_service(self) -> TimerService:
        # Caller holds self._lock.
        if self._timers is None:
            self._timers = TimerService(self.flow.clock, self._idle)
        return self._timers

    def _idle(self) -> bool:
        pool = self._pool
        if pool is not None and not pool.idle():
            return False
        with self._lock:
            runs = list(self._runs.values())
        return not any(getattr(run, "running", 0) for run in runs)

    @staticmethod
    def _worker_frame() -> DeliveryFrame:
        frame = DeliveryFrame(None, None, True)  # type: ignore[arg-type]
        CURRENT_FRAME.set(frame)
        return frame

    # -- starting ---------------------------------------------------------------

    def execute(
        self,
        plan: FlowPlan,
        entry: Target,
        params: dict[str, Any],
        timeout: float | None,
        store: JobStore | None = None,
        job: JobState | None = None,
        strategy: str | None = None,
    ) -> JobState:
        """Run one job (``job``, or a new one) and return once it has ended.

        ``strategy`` is the job's own, instead of the flow's ``execution_strategy``.
        """
        concurrent = (strategy or self.flow.execution_strategy) == "concurrent"
        if concurrent or (timeout is not None and not self._virtual):
            job = self.start(plan, entry, params, timeout, store, job, strategy)
            self.await_end(job, timeout)
            return job
        run = self._new_run(plan, timeout, store, job, "sequential")
        assert isinstance(run, SequentialRun)
        item = run.entry_item(entry, params)
        self._begin(run, [item])
        run.queue.append(item)
        run.driving = True
        run.caller_thread = True
        run.drive()
        run.job.wait()  # Paused from another thread: resume() drives it elsewhere.
        return run.job

    def await_end(self, job: JobState, timeout: float | None) -> None:
        """Wait for ``job``; past ``timeout``, time it out (a handler may hang)."""
        if not job.wait(timeout):
            run = self.run_of(job)
            if run is not None:
                with run.lock:
                    run.time_out()
        job.wait()

    def start(
        self,
        plan: FlowPlan,
        entry: Target,
        params: dict[str, Any],
        timeout: float | None,
        store: JobStore | None = None,
        job: JobState | None = None,
        strategy: str | None = None,
    ) -> JobState:
        """Start one job (``job``, or a new one) in the background; return its (running) state."""
        run = self._new_run(plan, timeout, store, job, strategy)
        item = run.entry_item(entry, params)
        self._begin(run, [item])
        self.launch(run, [(item, 0.0)])
        return run.job

    def launch(self, run: JobRun, items: list[tuple[Item, float]]) -> None:
        """Run ``items`` (each with the delay before it may run) in the background."""
        if isinstance(run, ConcurrentRun):
            run.begin(items)
            # Armed once the work is on the pool: on a virtual clock, a timer
            # armed while the job still looks idle would be jumped to at once.
            self._arm_deadline(run)
            with run.lock:
                if run.ended and run.deadline_timer is not None:
                    run.deadline_timer.cancel()  # It ended before the timer was armed.
            return
        if run.deadline is not None and not self._virtual:
            self._arm_deadline(run)
        assert isinstance(run, SequentialRun)
        with run.lock:
            for item, delay in items:
                if delay > 0:
                    run.retry_later(delay, item)
                else:
                    run.queue.append(item)
            run.driving = True
        self._drive_in_thread(run)

    def _begin(self, run: JobRun, items: list[Item]) -> None:
        """Register the run, mark it running, and record it in its store if it has one."""
        # Before the run is registered: the document's warning may be raised as an error.
        document = None if run.durable is None else self.flow._document_or_none(run.job.job_id)
        self._register(run)
        run.job._transition(JobStatus.RUNNING)
        if run.durable is None:
            return
        try:
            run.durable.create(items, document)
        except Exception as exc:  # Any failure of the store's code: the caller gets it.
            run.durable = None  # Not in the store: nothing there to update.
            with run.lock:
                run.stop(f"The job could not be recorded in its store: {exc}")
            raise
        self.hold_lease(run)

    def hold_lease(self, run: JobRun) -> None:
        """Renew the lease of a durable run's job in the background until the run ends."""
        self._leases.hold(run)

    def _new_run(
        self,
        plan: FlowPlan,
        timeout: float | None,
        store: JobStore | None,
        job: JobState | None = None,
        strategy: str | None = None,
    ) -> JobRun:
        flow = self.flow
        if job is None:
            job = JobState(flow.flow_id)
        flow._remember(job)
        options: dict[str, Any] = {
            "clock": flow.clock,
            "timeout": timeout,
            "max_deliveries": flow.max_deliveries,
            "max_hops": flow.max_hops,
            "record_history": flow.record_history,
            "async_loop": self._loop_thread,
            "threads": self._threads,
        }
        run: JobRun
        if (strategy or flow.execution_strategy) == "concurrent":
            timers, pool, loop = self._services()
            run = ConcurrentRun(
                flow, plan, job, pool=pool, gates=self._gates, timers=timers, loop=loop, **options
            )
        else:
            run = SequentialRun(flow, plan, job, **options)
        if store is not None:
            run.durable = Durability(
                store, run, every=flow.checkpoint_every, lease=flow.lease_seconds
            )
        return run

    def _register(self, run: JobRun) -> None:
        with self._lock:
            # An abandoned run stays known while the flow remembers its job, so
            # that resume can tell it from a run of another process.
            remembered = self.flow.get_execution
            ended = [
                jid
                for jid, r in self._runs.items()
                if r.ended and (not r.abandoned or remembered(jid) is None)
            ]
            for job_id in ended:
                del self._runs[job_id]
            self._runs[run.job.job_id] = run

    def _arm_deadline(self, run: JobRun) -> None:
        if run.deadline is None:
            return
        with self._lock:
            timers = self._timer_service()
        remaining = run.deadline - self.flow.clock.monotonic()
        run.deadline_timer = timers.call_later(remaining, _locked(run, run.time_out))

    def _drive_in_thread(self, run: SequentialRun) -> None:
        run.caller_thread = False
        self._threads.start(run.drive, f"routilux-job-{run.job.job_id[:8]}")

    # -- control ----------------------------------------------------------------

    def run_of(self, job: JobState) -> JobRun | None:
        """The engine's run of ``job``, if this engine runs it."""
        return self.run_of_id(job.job_id)

    def run_of_id(self, job_id: str) -> JobRun | None:
        """The engine's run of the job ``job_id``, if this engine runs it."""
        with self._lock:
            return self._runs.get(job_id)

    def pause(self, job: JobState, timeout: float | None) -> bool:
        """Hold the job's deliveries; wait until none of them runs."""
        run = self.run_of(job)
        if run is None:
            return False
        with run.lock:
            if run.ended:
                return False
            if isinstance(run, ConcurrentRun):
                run.pause()
                run.acknowledge_pause()
            else:
                run.paused = run.interrupted = True
                run.wakeup.set()
            if _inside(run):
                return True  # A handler of this job paused it: it settles when it returns.
            return (
                run.quiet.wait_for(lambda: run.ended or run.job.status is JobStatus.PAUSED, timeout)
                and not run.ended
            )

    def resume(self, job: JobState) -> bool:
        """Continue a paused job where it stopped, its deferred events emitted first.

        Raises:
            DefinitionError: A deferred event names a routine or event the
                flow lacks; the job stays paused.
        """
        run = self.run_of(job)
        if run is None:
            return False
        with run.lock:
            if run.ended or not run.paused or job.status is not JobStatus.PAUSED:
                return False
            routed = route_deferred(run.plan, job)
            job._transition(JobStatus.RUNNING)
            deferred = emit_deferred(run, routed)
            if run.durable is not None and not self._save_resumed(run, deferred):
                return False
            if isinstance(run, ConcurrentRun):
                timers, pool, loop = self._services()
                run.pool, run.timers, run.loop = pool, timers, loop
                run.outstanding += len(deferred)
                items = [*deferred, *run.resume()]
                if not items and run.outstanding == 0:
                    # The last delivery finished while the job was paused.
                    items = run.went_idle()
            else:
                assert isinstance(run, SequentialRun)
                run.paused = run.interrupted = False
                run.wakeup.clear()
                run.queue.extend_front(deferred)
                job.pending_deliveries = []
                run.driving = True
        lost_deadline = run.deadline_timer is None or run.deadline_timer.cancelled
        if not run.ended and lost_deadline and not self._virtual:
            self._arm_deadline(run)  # The flow was shut down while the job was paused.
        if isinstance(run, ConcurrentRun):
            run.submit(items)
        else:
            self._drive_in_thread(run)
        return True

    def _save_resumed(self, run: JobRun, added: list[Item]) -> bool:
        """Record a durable job's resume in its store (caller holds its lock).

        ``added`` are the deliveries of its deferred events, saved with it.

        Returns:
            False if the store refused it (another process owns the job now:
            the run has stopped).
        """
        save_resume(run, added)
        if run.ended:
            return False
        self.hold_lease(run)  # Again, if the flow was shut down while the job was paused.
        return True

    def cancel(self, job: JobState, reason: str | None = None) -> bool:
        """End the job ``cancelled``; its pending deliveries are dropped."""
        run = self.run_of(job)
        if run is None:
            return False
        with run.lock:
            cancelled = run.cancel(reason)
        if cancelled and isinstance(run, ConcurrentRun):
            run.drop_queued()
        return cancelled

    def wait_settled(self, timeout: float | None) -> bool:
        """Wait until every job run here has ended or is paused; False if ``timeout`` passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                runs = [run for run in self._runs.values() if not run.ended]
            busy = [run for run in runs if run.job.status is not JobStatus.PAUSED]
            if not busy:
                return True
            for run in busy:
                with run.lock:
                    if not run.quiet.wait_for(_settled(run), _left(deadline)):
                        return False

    def shutdown(self, wait: bool, timeout: float | None = None) -> None:
        """Stop every thread; with ``wait``, after the running jobs have ended.

        With a ``timeout``, ``wait`` waits that long at most for the jobs,
        then goes on as without ``wait``.
        """
        with self._lock:
            runs = list(self._runs.values())
        deadline = None if timeout is None else time.monotonic() + timeout
        for run in runs:
            if wait and not run.paused:
                wait = run.job.wait(_left(deadline))
            if not wait and not run.paused:
                with run.lock:
                    run.cancel()
        self._leases.shutdown()
        with self._lock:
            pool, timers, loop = self._pool, self._timers, self._loop
            self._pool = self._timers = self._loop = None
            retired, self._retired = self._retired, []
        for old in retired:
            old.shutdown(wait)
        if pool is not None:
            pool.shutdown(wait)
        if timers is not None:
            timers.shutdown()
        if loop is not None:
            loop.shutdown()
        if wait:
            _warn_abandoned(self.flow.flow_id, self._threads.join())


def _settled(run: JobRun) -> Callable[[], bool]:
    """Whether ``run`` has ended or is paused."""
    return lambda: run.ended or run.job.status is JobStatus.PAUSED


def _left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (``None``: no deadline), never below zero."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _warn_abandoned(flow_id: str, abandoned: list[str]) -> None:
    """Say which handler threads, abandoned at their timeout, shutdown did not wait for."""
    if abandoned:
        logger.warning(
            "Flow %r shut down without waiting for %d handler thread(s) abandoned when their "
            "routine's timeout passed; they run on as daemon threads: %s.",
            flow_id,
            len(abandoned),
            "; ".join(abandoned),
        )


def _inside(run: JobRun) -> bool:
    frame = CURRENT_FRAME.get()
    return frame is not None and getattr(frame, "run", None) is run


def _locked(run: JobRun, action: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        with run.lock:
            action()

    return call
