"""The worker process: a Procrastinate worker whose one task runs routilux jobs.

Procrastinate carries job ids from ``flow.submit`` to the workers; the
job itself (its claim, its lease, its checkpoints) is the store's. This
module adds what Procrastinate does not do by itself:

- **Stalled workers.** Each worker sends a heartbeat every
  :attr:`WorkerSettings.heartbeat` seconds and, every
  :attr:`WorkerSettings.stall_check` seconds, puts back on the queue the
  entries of workers whose heartbeat is older than
  :attr:`WorkerSettings.stalled_after` (a worker killed with ``SIGKILL``).
  The job's new worker claims it once its old owner's lease has expired
  (at once when that owner was a process of its host that has ended).
- **A job another process holds** (its lease is live: a copy of an entry
  handed over while its first worker still ran it) is offered again when
  that lease expires, until some worker has run it to its end.
- **Signals.** Procrastinate's own handlers are off. The first ``SIGTERM``
  or ``SIGINT`` drains: no new job is taken; running jobs may finish
  until :attr:`WorkerSettings.drain_seconds`, then are paused and put back
  on the queue; the worker exits with status 0. If a delivery does not
  return within 5 s more, the worker exits with status 1 and leaves that
  job to be taken over, as after a crash. A second signal stops at once
  (status 1): the jobs it ran are taken over as after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from routilux._flow import Flow
from routilux._model.ownership import process_owner
from routilux._model.queueing import check_queue_name
from routilux.exceptions import DefinitionError
from routilux.schedules import Scheduler
from routilux.stores import PostgresStore
from routilux.stores._queue import RUN_TASK, import_procrastinate, search_path
from routilux.workers._runner import JobRunner, Outcome, Verdict

__all__ = ["WorkerSettings", "run_worker"]

logger = logging.getLogger("routilux.workers")

#: Seconds the drain's pause may take (a running delivery finishing), then the
#: paused jobs to be handed back.
_PAUSE_PATIENCE = 5.0
#: Seconds after which a job whose run failed in the worker (not in a handler:
#: the store, say) is offered again.
_RETRY_FAILED = 5.0


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a worker runs.

    Attributes:
        queues: The queues it takes jobs from (empty: every queue).
        concurrency: How many jobs it runs at once.
        drain_seconds: After the first ``SIGTERM``, how long running jobs
            may go on before they are paused and handed back.
        heartbeat: Seconds between two heartbeats of the worker.
        stalled_after: A worker whose heartbeat is older than this is
            taken for dead, and its jobs are put back on the queue.
        stall_check: Seconds between two looks for stalled workers.
        poll: Seconds between two looks at the queue besides its
            notifications (for entries scheduled later).
        schedule_every: Seconds between two looks at the store's schedules
            for due ticks (0: this worker fires no schedule).
        name: The worker's name in the queue (``host:pid``).
    """

    queues: tuple[str, ...] = ()
    concurrency: int = 1
    drain_seconds: float = 30.0
    heartbeat: float = 1.0
    stalled_after: float = 5.0
    stall_check: float = 1.0
    poll: float = 1.0
    schedule_every: float = 1.0
    name: str = field(default_factory=process_owner)

    def __post_init__(self) -> None:
        for queue in self.queues:
            check_queue_name(queue)
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 256:
            raise DefinitionError(
                f"concurrency must be an int from 1 to 256, not {self.concurrency!r}."
            )
        for name in (
            "drain_seconds",
            "heartbeat",
            "stalled_after",
            "stall_check",
            "poll",
            "schedule_every",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise DefinitionError(f"{name} must be a number of seconds >= 0, not {value!r}.")
        if self.stalled_after <= self.heartbeat:
            raise DefinitionError(
                f"stalled_after ({self.stalled_after} s) must be longer than the heartbeat "
                f"interval ({self.heartbeat} s), or live workers would be taken for dead."
            )


def run_worker(
    dsn: str,
    flows: Iterable[Flow] | Mapping[str, Flow],
    settings: WorkerSettings | None = None,
    *,
    schema: str = "routilux",
    source: str = "the flows given to run_worker",
) -> int:
    """Run a worker in this process until a signal stops it; return its exit status.

    Call it from the main thread (it installs handlers for ``SIGTERM`` and
    ``SIGINT``).

    Args:
        dsn: The PostgreSQL store's connection string or URL.
        flows: The flows it runs jobs of (matched by ``flow_id``).
        settings: Queues, concurrency, drain deadline, stall detection.
        schema: The store's schema (``PostgresStore(schema=...)``).
        source: Where the flows come from, for the error of a job whose
            flow the worker does not know.

    Returns:
        0 after a drain; 1 after a second signal stopped it at once.

    Raises:
        DefinitionError: Two flows have one id, or a setting is invalid.
        ImportError: Procrastinate (the ``workers`` extra) is not installed.
        StoreError: The store cannot be opened.
    """
    chosen = settings or WorkerSettings()
    known = _by_id(flows)
    first = PostgresStore(dsn, schema=schema)
    first.prepare_queue()
    first.close()
    runner = JobRunner(known, lambda: PostgresStore(dsn, schema=schema), source)
    schedules = PostgresStore(dsn, schema=schema)
    scheduler = Scheduler(schedules, known)
    try:
        return asyncio.run(_Worker(dsn, schema, runner, chosen, scheduler).main())
    finally:
        runner.close()
        schedules.close()


def _by_id(flows: Iterable[Flow] | Mapping[str, Flow]) -> dict[str, Flow]:
    items = flows.values() if isinstance(flows, Mapping) else flows
    known: dict[str, Flow] = {}
    for flow in items:
        if flow.flow_id in known:
            raise DefinitionError(
                f"Two flows have the id {flow.flow_id!r}; a worker runs one of each."
            )
        known[flow.flow_id] = flow
    return known


class _Worker:
    """One worker's event loop: Procrastinate's worker, the stall check, the signals."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        runner: JobRunner,
        settings: WorkerSettings,
        scheduler: Scheduler,
    ) -> None:
        procrastinate = import_procrastinate()
        self.scheduler = scheduler
        self.settings = settings
        self.runner = runner
        self.pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="routilux-worker")
        connector = procrastinate.PsycopgConnector(
            conninfo=dsn, kwargs={"options": search_path(schema)}, min_size=1
        )
        self.app = procrastinate.App(connector=connector)
        self.app.task(name=RUN_TASK, pass_context=True)(self._run_job)
        self.signals = 0
        self.exit_status = 0
        self.stopping: asyncio.Event | None = None

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal)
        s = self.settings
        async with self.app.open_async():
            work = asyncio.create_task(
                self.app.run_worker_async(
                    queues=list(s.queues) or None,
                    name=s.name,
                    concurrency=s.concurrency,
                    install_signal_handlers=False,
                    update_heartbeat_interval=s.heartbeat,
                    stalled_worker_timeout=s.stalled_after,
                    fetch_job_polling_interval=s.poll,
                    delete_jobs="successful",
                )
            )
            stalls = asyncio.create_task(self._check_stalls())
            ticks = asyncio.create_task(self._fire_schedules())
            logger.info(
                "worker %s: taking jobs of %s", s.name, ", ".join(s.queues) or "every queue"
            )
            print(f"worker {s.name} ready", flush=True)
            await self.stopping.wait()
            stalls.cancel()
            ticks.cancel()
            drain = asyncio.create_task(self._drain_deadline())
            work.cancel()  # Procrastinate stops taking jobs and waits for those running.
            with contextlib.suppress(asyncio.CancelledError):
                await work
            drain.cancel()
        self.pool.shutdown(wait=False)
        return self.exit_status

    def _on_signal(self) -> None:
        self.signals += 1
        if self.signals > 1:
            logger.warning("worker %s: second signal, stopping now", self.settings.name)
            os._exit(1)
        print(f"worker {self.settings.name} draining", flush=True)
        logger.info("worker %s: draining (%g s)", self.settings.name, self.settings.drain_seconds)
        assert self.stopping is not None
        self.stopping.set()

    async def _drain_deadline(self) -> None:
        await asyncio.sleep(self.settings.drain_seconds)
        loop = asyncio.get_running_loop()
        # The pause waits for running deliveries; past a few seconds more, the
        # worker exits anyway and the job is taken over as after a crash.
        paused = await loop.run_in_executor(None, self.runner.pause_all, _PAUSE_PATIENCE)
        logger.info("worker %s: paused %d jobs at the drain deadline", self.settings.name, paused)
        deadline = loop.time() + _PAUSE_PATIENCE
        while self.runner.running and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.runner.running:
            # A handler that does not return: leave its job for another worker to
            # take over, as after a crash (its queue entry stays taken by this
            # worker, whose heartbeat stops now).
            logger.warning(
                "worker %s: %d jobs still running after the drain; leaving them for takeover",
                self.settings.name,
                self.runner.running,
            )
            os._exit(1)

    async def _run_job(self, context: Any, job_id: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            outcome: Outcome = await loop.run_in_executor(self.pool, self.runner.run, job_id)
        except Exception as exc:  # The store failed, say: offer the job again later.
            logger.warning("worker %s: job %s: %s", self.settings.name, job_id, exc)
            outcome = Outcome(Verdict.AGAIN, at=time.time() + _RETRY_FAILED, reason=str(exc))
        logger.debug("worker %s: %s", self.settings.name, outcome.reason)
        if outcome.verdict is Verdict.AGAIN:
            when = datetime.fromtimestamp(outcome.at, tz=timezone.utc)
            deferrer = self.app.configure_task(RUN_TASK, queue=context.job.queue, schedule_at=when)
            await deferrer.defer_async(job_id=job_id)

    async def _check_stalls(self) -> None:
        manager = self.app.job_manager
        while True:
            await asyncio.sleep(self.settings.stall_check)
            try:
                stalled = await manager.get_stalled_jobs(
                    seconds_since_heartbeat=self.settings.stalled_after
                )
                for job in stalled:
                    await self._retry(job)
            except Exception as exc:  # The database went away: try again next time.
                logger.warning("worker %s: stall check failed: %s", self.settings.name, exc)

    async def _fire_schedules(self) -> None:
        every = self.settings.schedule_every
        if not every:
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(every)
            try:
                fired = await loop.run_in_executor(None, self.scheduler.fire_due)
            except Exception as exc:  # The database went away, a bad schedule: next time.
                logger.warning("worker %s: schedules: %s", self.settings.name, exc)
                continue
            if fired:
                logger.info("worker %s: fired %d scheduled jobs", self.settings.name, len(fired))

    async def _retry(self, job: Any) -> None:
        """Put a stalled worker's queue entry back; another worker may have done it first."""
        logger.info(
            "worker %s: queue entry %s of a stalled worker, back on the queue",
            self.settings.name,
            job.id,
        )
        try:
            await self.app.job_manager.retry_job(job)
        except Exception as exc:  # Any failure: the next check tries again.
            logger.debug("worker %s: retry of %s: %s", self.settings.name, job.id, exc)
