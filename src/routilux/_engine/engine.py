"""The threads of one flow, and control of its running jobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from routilux._engine import tracing
from routilux._engine.deferred import emit_deferred, route_deferred, save_resume
from routilux._engine.delivery import Delivery
from routilux._engine.durable import Durability
from routilux._engine.job_run import JobRun
from routilux._engine.plan import FlowPlan, Target
from routilux._engine.services import EngineServices
from routilux._engine.settings import EngineSettings, FlowPort
from routilux._engine.strategies import make_strategy
from routilux._engine.strategy import RunStrategy
from routilux._model.context import CURRENT_FRAME
from routilux._model.job_state import JobState
from routilux._model.status import JobStatus

if TYPE_CHECKING:
    from routilux._model.store import JobStore

__all__ = ["Engine"]

logger = logging.getLogger("routilux")


class Engine:
    """Runs the jobs of one flow and owns the threads they need.

    It sees the flow only through ``port`` (a :class:`FlowPort`): the
    settings each job starts with, the compiled plan, and a few callbacks.
    Each job runs under a :class:`RunStrategy`, made once per name on first
    use; the engine never asks which strategy a job has. Threads start on
    first use (see :class:`EngineServices` and the strategies);
    :meth:`shutdown` stops them all, and the engine starts them again if
    another job comes.
    """

    def __init__(self, port: FlowPort) -> None:
        self.port = port
        self._lock = threading.Lock()
        self._runs: dict[str, JobRun] = {}
        self._strategies: dict[str, RunStrategy] = {}
        self.services = EngineServices(port.settings().clock, self._idle)

    def _strategy(self, name: str) -> RunStrategy:
        with self._lock:
            strategy = self._strategies.get(name)
            if strategy is None:
                strategy = self._strategies[name] = make_strategy(name, self.services)
            return strategy

    def _idle(self) -> bool:
        with self._lock:
            strategies = list(self._strategies.values())
        return all(strategy.idle() for strategy in strategies)

    # -- starting ---------------------------------------------------------------

    def execute(
        self,
        settings: EngineSettings,
        plan: FlowPlan,
        entry: Target,
        params: dict[str, Any],
        timeout: float | None,
        store: JobStore | None = None,
        job: JobState | None = None,
        strategy: str | None = None,
    ) -> JobState:
        """Run one job (``job``, or a new one) and return once it has ended.

        ``strategy`` is the job's own, instead of the flow's ``settings.strategy``.
        """
        run = self.new_run(settings, plan, timeout, store, job, strategy)
        item = run.entry_item(entry, params)
        self._begin(run, [item])
        if not run.strategy.run_inline(run, item):
            run.strategy.launch(run, [(item, 0.0)])
            self.await_end(run.job, timeout)
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
        settings: EngineSettings,
        plan: FlowPlan,
        entry: Target,
        params: dict[str, Any],
        timeout: float | None,
        store: JobStore | None = None,
        job: JobState | None = None,
        strategy: str | None = None,
    ) -> JobState:
        """Start one job (``job``, or a new one) in the background; return its (running) state."""
        run = self.new_run(settings, plan, timeout, store, job, strategy)
        item = run.entry_item(entry, params)
        self._begin(run, [item])
        run.strategy.launch(run, [(item, 0.0)])
        return run.job

    def _begin(self, run: JobRun, items: list[Delivery]) -> None:
        """Register the run, mark it running, and record it in its store if it has one."""
        # Before the run is registered: the document's warning may be raised as an error.
        document = None if run.durable is None else self.port.document_for(run.job.job_id)
        self.register(run)
        run.job.set_status(JobStatus.RUNNING)
        if run.hooks is not None:
            tracing.begin(run, items)
            run.hooks.job_event("job_started")
            run.hooks.drain()
        if run.durable is None:
            return
        try:
            run.durable.create(items, document)
        except Exception as exc:  # Any failure of the store's code: the caller gets it.
            run.durable = None  # Not in the store: nothing there to update.
            with run.lock:
                run.stop(f"The job could not be recorded in its store: {exc}")
            raise
        self.services.hold_lease(run)

    def new_run(
        self,
        settings: EngineSettings,
        plan: FlowPlan,
        timeout: float | None,
        store: JobStore | None,
        job: JobState | None = None,
        strategy: str | None = None,
    ) -> JobRun:
        """A run of ``job`` (or a new job) that the flow remembers, not yet registered."""
        if job is None:
            job = JobState(settings.flow_id)
        self.port.remember(job)
        chosen = self._strategy(strategy or settings.strategy)
        run = chosen.new_run(self.port, settings, plan, job, timeout=timeout)
        if store is not None:
            run.durable = Durability(
                store, run, every=settings.checkpoint_every, lease=settings.lease_seconds
            )
        return run

    def register(self, run: JobRun) -> None:
        """Know ``run`` as the run of its job (forgetting runs that ended)."""
        with self._lock:
            # An abandoned run stays known while the flow remembers its job, so
            # that resume can tell it from a run of another process.
            remembers = self.port.remembers
            ended = [
                jid
                for jid, r in self._runs.items()
                if r.ended and (not r.abandoned or not remembers(jid))
            ]
            for job_id in ended:
                del self._runs[job_id]
            self._runs[run.job.job_id] = run

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
            run.strategy.pause(run)
            if _inside(run):
                _paused_hook(run)
                return True  # A handler of this job paused it: it settles when it returns.
            paused = (
                run.quiet.wait_for(lambda: run.ended or run.job.status is JobStatus.PAUSED, timeout)
                and not run.ended
            )
            if paused:
                _paused_hook(run)
            return paused

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
            job.set_status(JobStatus.RUNNING)
            deferred = emit_deferred(run, routed)
            if run.durable is not None and not self._save_resumed(run, deferred):
                return False
            go_on = run.strategy.resume(run, deferred, self.port.settings())
            if run.hooks is not None:
                run.hooks.job_event("job_resumed")
        self.services.rearm_deadline(run)  # If the flow was shut down while the job was paused.
        if run.hooks is not None:
            tracing.begin(run, deferred)
        go_on()
        return True

    def launch(self, run: JobRun, items: list[tuple[Delivery, float]]) -> None:
        """Run ``items`` (each with the delay before it may run) in the background.

        For a stored or ended job this process takes up again (``recovery``, ``revive``).
        """
        if run.hooks is not None:
            # A retry that was pending keeps its attempt number in the events.
            run.hooks.attempts.update(
                (item.seq, item.attempt) for item, _ in items if item.attempt > 1
            )
            tracing.begin(run, [item for item, _ in items], run.hooks.job_carrier)
            run.hooks.job_event("job_resumed")
            run.hooks.drain()
        run.strategy.launch(run, items)

    def _save_resumed(self, run: JobRun, added: list[Delivery]) -> bool:
        """Record a durable job's resume in its store (caller holds its lock).

        ``added`` are the deliveries of its deferred events, saved with it.

        Returns:
            False if the store refused it (another process owns the job now:
            the run has stopped).
        """
        save_resume(run, added)
        if run.ended:
            return False
        self.services.hold_lease(run)  # Again, if the flow was shut down while the job was paused.
        return True

    def cancel(self, job: JobState, reason: str | None = None) -> bool:
        """End the job ``cancelled``; its pending deliveries are dropped."""
        run = self.run_of(job)
        if run is None:
            return False
        with run.lock:
            cancelled = run.cancel(reason)
        if cancelled:
            run.strategy.cancelled(run)
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
        self.services.leases.shutdown()
        with self._lock:
            strategies = list(self._strategies.values())
        for strategy in strategies:
            strategy.shutdown(wait)
        self.services.shutdown()
        if wait:
            _warn_abandoned(self.port.settings().flow_id, self.services.threads.join())


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


def _paused_hook(run: JobRun) -> None:
    """Queue ``job_paused`` for the run's hooks, if any (caller holds ``run.lock``)."""
    if run.hooks is not None:
        run.hooks.job_event("job_paused", status=JobStatus.PAUSED.value)
