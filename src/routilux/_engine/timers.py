"""Timers on the engine's clock: retry delays, job deadlines, handler timeouts."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from routilux._engine.clock import Clock, virtual_clock

__all__ = ["Timer", "TimerService"]

logger = logging.getLogger("routilux")

# How long the timer thread waits between looks at a virtual clock that is
# not allowed to jump (work is still running): short, so advances are seen.
_VIRTUAL_POLL = 0.002


class Timer:
    """A scheduled callback; :meth:`cancel` stops it from running."""

    __slots__ = ("callback", "cancelled", "due")

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due = due
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the callback (a no-op if it has run)."""
        self.cancelled = True


class TimerService:
    """Runs callbacks when the clock reaches their time, on one thread.

    Callbacks must be quick (they hand work to the worker pool). With a
    virtual clock (a :class:`VirtualClock`, as :class:`~routilux.testing.FakeClock`),
    the service moves the clock to the next timer as soon as ``is_idle()``
    says nothing else can happen first, so tests never wait for real.

    Args:
        clock: The engine's clock.
        is_idle: Whether no delivery is queued or running.
    """

    def __init__(self, clock: Clock, is_idle: Callable[[], bool]) -> None:
        self._clock = clock
        self._is_idle = is_idle
        self._virtual = virtual_clock(clock)  # The clock, if the service may move it.
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` ``delay`` seconds from now on the clock."""
        timer = Timer(self._clock.monotonic() + max(0.0, delay), callback)
        with self._cond:
            if self._closed:
                raise RuntimeError("The timer service is shut down.")
            heapq.heappush(self._heap, (timer.due, next(self._seq), timer))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="routilux-timers", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return timer

    def wake(self) -> None:
        """Look again at the clock and the idle state (work just finished)."""
        if self._virtual is not None:
            with self._cond:
                self._cond.notify()

    def _next_due(self) -> Timer | None:
        """Wait until a timer is due and pop it; ``None`` once closed."""
        with self._cond:
            while not self._closed:
                heap = self._heap
                while heap and heap[0][2].cancelled:
                    heapq.heappop(heap)
                if not heap:
                    self._cond.wait()
                    continue
                wait = heap[0][0] - self._clock.monotonic()
                if wait <= 0:
                    return heapq.heappop(heap)[2]
                if self._virtual is not None:
                    self._wait_virtual(wait)
                else:
                    self._cond.wait(wait)
            return None

    def _wait_virtual(self, wait: float) -> None:
        if self._is_idle() and self._virtual is not None:
            self._virtual.advance(wait)
        else:
            self._cond.wait(_VIRTUAL_POLL)

    def _run(self) -> None:
        while (timer := self._next_due()) is not None:
            _fire(timer)

    def shutdown(self) -> None:
        """Stop the thread; pending timers never run."""
        with self._cond:
            self._closed = True
            for _, _, timer in self._heap:
                timer.cancel()  # So their owners know to arm them again elsewhere.
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


def _fire(timer: Timer) -> None:
    try:
        timer.callback()
    except Exception:  # A bug in a callback must not stop every other timer.
        logger.exception("A routilux timer callback failed")
