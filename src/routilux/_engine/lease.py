"""Renewing the leases of a flow's durable jobs, on a thread of their own."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from routilux.exceptions import OwnershipLostError

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun
    from routilux._engine.threads import ThreadGroup

__all__ = ["LeaseKeeper"]

logger = logging.getLogger("routilux")

#: Seconds before a lease renewal that failed (the store did) is tried again,
#: at most; a tenth of the lease if that is sooner.
RETRY_AFTER = 1.0


class LeaseKeeper:
    """Renews the lease of every durable job of one engine while the job is alive.

    One thread (``routilux-leases``) serves all of the engine's durable
    jobs, running or paused: it wakes when the next lease is due, a third
    of its length after it was last granted, and renews it with one small
    write to the job's store. It never touches the path of a delivery,
    and it exits when no job is left to serve, or at :meth:`shutdown`.

    When a renewal is refused because another process claimed the job, the
    job stops at once (no further handler starts); when the store fails,
    the renewal is tried again shortly, and the job's own check before each
    delivery stops it once the lease can no longer be trusted.
    """

    def __init__(self, threads: ThreadGroup) -> None:
        self._threads = threads
        self._cond = threading.Condition()
        self._runs: list[JobRun] = []
        self._serving = False
        self._stopping = False

    def hold(self, run: JobRun) -> None:
        """Renew the lease of ``run`` (a durable run) until it ends."""
        durable = run.durable
        assert durable is not None
        durable.on_end = self.wake
        with self._cond:
            if run in self._runs:
                return
            self._runs.append(run)
            self._stopping = False
            if not self._serving:
                self._serving = True
                self._threads.start(self._serve, "routilux-leases", daemon=True)
            self._cond.notify()

    def wake(self) -> None:
        """Look at the jobs again now (one of them ended)."""
        with self._cond:
            self._cond.notify()

    def shutdown(self) -> None:
        """Stop renewing; the thread exits at once."""
        with self._cond:
            self._stopping = True
            self._runs.clear()
            self._cond.notify()

    def _serve(self) -> None:
        while True:
            with self._cond:
                self._runs = [run for run in self._runs if not run.ended]
                if self._stopping or not self._runs:
                    self._serving = False
                    return
                now = time.monotonic()
                due = [run for run in self._runs if _renew_at(run) <= now]
                if not due:
                    self._cond.wait(min(_renew_at(run) for run in self._runs) - now)
                    continue
            for run in due:
                self._renew(run)

    @staticmethod
    def _renew(run: JobRun) -> None:
        durable = run.durable
        if durable is None or run.ended:
            return
        failure = durable.renew()
        if failure is None:
            return
        if isinstance(failure, OwnershipLostError):
            with run.lock:
                run.store_failed(failure)
            return
        logger.warning(
            "Job %s: its lease could not be renewed (%s: %s); trying again.",
            run.job.job_id,
            type(failure).__name__,
            failure,
        )
        durable.renew_at = time.monotonic() + min(RETRY_AFTER, durable.lease / 10)


def _renew_at(run: JobRun) -> float:
    durable = run.durable
    return float("inf") if durable is None else durable.renew_at
