"""Clocks: where the engine reads time and waits."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock", "virtual_clock"]


class Clock(Protocol):
    """The engine's source of time for timeouts, retry delays and timers."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` pass; return whether it is set."""


@runtime_checkable
class VirtualClock(Clock, Protocol):
    """A clock the engine may move itself, as :class:`~routilux.testing.FakeClock`.

    When nothing can run before the next timer, the engine calls
    :meth:`advance` to reach it at once instead of waiting. A clock is
    treated as virtual only if it has both members and ``virtual`` is true.
    """

    #: Whether the engine may move this clock.
    virtual: bool

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""


def virtual_clock(clock: Clock) -> VirtualClock | None:
    """``clock`` if the engine may move it (a :class:`VirtualClock` whose ``virtual`` is true)."""
    if isinstance(clock, VirtualClock) and clock.virtual:
        return clock
    return None


class SystemClock:
    """The real clock: :func:`time.monotonic` and :func:`time.sleep`."""

    __slots__ = ()

    def monotonic(self) -> float:
        """Seconds from :func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait on ``event`` for real."""
        return event.wait(max(0.0, seconds))
