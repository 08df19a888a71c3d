"""A clock that moves only when told to."""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]


class FakeClock:
    """A :class:`routilux.Clock` whose time moves only by :meth:`sleep` and :meth:`advance`.

    Pass it as ``Flow(clock=FakeClock())``: retry delays, timeouts and
    timers then take no real time, and tests stay fast and repeatable.

    Args:
        start: The initial reading of :meth:`monotonic`.

    Attributes:
        sleeps: Every duration the engine slept, in order.
        virtual: Always true: tells the engine it may move this clock to the
            next timer when nothing else can run first.
    """

    virtual = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The current fake time."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Record the sleep and move time forward by ``seconds`` at once."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Return at once if ``event`` is set; otherwise sleep ``seconds`` of fake time."""
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (as a slow handler would)."""
        with self._lock:
            self._now += max(0.0, seconds)
