"""The threads one engine shares among its strategies: timers, asyncio loop, leases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from routilux._engine.aio import LoopThread
from routilux._engine.clock import Clock, virtual_clock
from routilux._engine.lease import LeaseKeeper
from routilux._engine.threads import ThreadGroup
from routilux._engine.timers import TimerService, arm_deadline

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun

__all__ = ["EngineServices"]


class EngineServices:
    """The shared threads of one engine, each started on first use.

    :meth:`shutdown` stops them; the next use starts them again (a paused
    job resumed after a shutdown, or a new job).

    Args:
        clock: The flow's clock (``virtual`` when it is a fake one).
        is_idle: Whether no delivery of the engine is queued or running
            (the timer service jumps a virtual clock only then).
    """

    def __init__(self, clock: Clock, is_idle: Callable[[], bool]) -> None:
        self.clock = clock
        self.virtual = virtual_clock(clock) is not None
        self.threads = ThreadGroup()
        self.leases = LeaseKeeper(self.threads)
        self._is_idle = is_idle
        self._lock = threading.Lock()
        self._timers: TimerService | None = None
        self._loop: LoopThread | None = None

    def timers(self) -> TimerService:
        """The timer thread's service (retry delays, job deadlines)."""
        with self._lock:
            if self._timers is None:
                self._timers = TimerService(self.clock, self._is_idle)
            return self._timers

    def loop(self) -> LoopThread:
        """The asyncio loop thread that runs ``async def`` handlers."""
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def arm_deadline(self, run: JobRun) -> None:
        """Time ``run`` out at its deadline, if it has one, on the timer thread."""
        if run.deadline is not None:
            arm_deadline(self.timers(), run)

    def rearm_deadline(self, run: JobRun) -> None:
        """Arm ``run``'s deadline again if a shutdown cancelled it while the job was paused.

        Only on a real clock: on a virtual one, a timer armed while the job
        looks idle would be jumped to at once.
        """
        lost = run.deadline_timer is None or run.deadline_timer.cancelled
        if not run.ended and lost and not self.virtual:
            self.arm_deadline(run)

    def hold_lease(self, run: JobRun) -> None:
        """Renew the lease of a durable run's job in the background until the run ends."""
        self.leases.hold(run)

    def shutdown(self) -> None:
        """Stop the timer and loop threads (started again on next use).

        The engine stops the leases first, and the strategies' threads.
        """
        with self._lock:
            timers, loop = self._timers, self._loop
            self._timers = self._loop = None
        if timers is not None:
            timers.shutdown()
        if loop is not None:
            loop.shutdown()
