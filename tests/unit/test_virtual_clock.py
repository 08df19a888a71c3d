"""VirtualClock: the clocks the engine may move itself to the next timer."""

from __future__ import annotations

import threading

from routilux import SystemClock
from routilux._engine.clock import VirtualClock, virtual_clock
from routilux.testing import FakeClock


class StillClock:
    """A clock with ``advance`` whose ``virtual`` is false: the engine must wait on it."""

    virtual = False

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.is_set()

    def advance(self, seconds: float) -> None:
        pass


def test_a_fake_clock_is_virtual() -> None:
    clock = FakeClock()
    assert isinstance(clock, VirtualClock)
    assert virtual_clock(clock) is clock


def test_the_system_clock_is_not_virtual() -> None:
    assert virtual_clock(SystemClock()) is None


def test_a_clock_that_says_it_is_not_virtual_is_not() -> None:
    assert isinstance(StillClock(), VirtualClock)
    assert virtual_clock(StillClock()) is None
