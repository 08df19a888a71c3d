"""The engine's timers: the timer thread, the two kinds of delayed deliveries, named timers."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from routilux._engine.delivery import Delivery
from routilux._engine.timers import ServiceTimers, TimerBook, TimerHeap, TimerOp, TimerService
from routilux.testing import FakeClock

PATIENCE = 10.0  # Seconds a test waits for the timer thread at most (never reached when green).


def delivery(seq: int) -> Delivery:
    # Any object stands for the target: timers never look inside.
    target: Any = f"target-{seq}"
    return Delivery(target, {"n": seq}, seq, 1, 0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=100.0)


# -- TimerService -------------------------------------------------------------


def test_a_timer_fires_once_the_idle_service_moves_the_virtual_clock_to_it(
    clock: FakeClock,
) -> None:
    service = TimerService(clock, is_idle=lambda: True)
    fired = threading.Event()
    try:
        service.call_later(30.0, fired.set)
        assert fired.wait(PATIENCE)
        assert clock.monotonic() >= 130.0
    finally:
        service.shutdown()


def test_timers_fire_in_the_order_they_fall_due(clock: FakeClock) -> None:
    idle = threading.Event()  # Busy until both are set: the clock may not move before.
    service = TimerService(clock, is_idle=idle.is_set)
    order: list[str] = []
    done = threading.Event()
    try:
        service.call_later(20.0, lambda: (order.append("late"), done.set()))
        service.call_later(10.0, lambda: order.append("soon"))
        idle.set()
        service.wake()
        assert done.wait(PATIENCE)
        assert order == ["soon", "late"]
    finally:
        service.shutdown()


def test_a_cancelled_timer_never_fires(clock: FakeClock) -> None:
    idle = threading.Event()
    service = TimerService(clock, is_idle=idle.is_set)
    fired: list[str] = []
    last = threading.Event()
    try:
        timer = service.call_later(10.0, lambda: fired.append("cancelled"))
        timer.cancel()
        service.call_later(20.0, last.set)
        idle.set()
        service.wake()
        assert last.wait(PATIENCE)
        assert fired == []
    finally:
        service.shutdown()


def test_the_virtual_clock_stays_while_work_runs(clock: FakeClock) -> None:
    idle = threading.Event()
    asked = threading.Event()

    def is_idle() -> bool:
        answer = idle.is_set()
        asked.set()
        return answer

    service = TimerService(clock, is_idle=is_idle)
    fired = threading.Event()
    try:
        service.call_later(5.0, fired.set)
        assert asked.wait(PATIENCE)  # The service looked, and was told work runs.
        assert clock.monotonic() == 100.0  # So nothing jumped past the running work.
        assert not fired.is_set()
        idle.set()
        service.wake()
        assert fired.wait(PATIENCE)
    finally:
        service.shutdown()


def test_a_failing_callback_does_not_stop_the_other_timers(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    idle = threading.Event()
    service = TimerService(clock, is_idle=idle.is_set)
    fired = threading.Event()

    def broken() -> None:
        raise RuntimeError("a bug in a callback")

    try:
        with caplog.at_level(logging.ERROR, logger="routilux"):
            service.call_later(1.0, broken)
            service.call_later(2.0, fired.set)
            idle.set()
            service.wake()
            assert fired.wait(PATIENCE)
    finally:
        service.shutdown()
    assert "A routilux timer callback failed" in caplog.text


def test_shutdown_cancels_the_pending_timers_and_refuses_new_ones(clock: FakeClock) -> None:
    service = TimerService(clock, is_idle=lambda: False)
    timer = service.call_later(10.0, lambda: None)
    service.shutdown()
    assert timer.cancelled
    with pytest.raises(RuntimeError, match="shut down"):
        service.call_later(1.0, lambda: None)


# -- TimerHeap (sequential) ---------------------------------------------------


def test_the_heap_releases_what_is_due_soonest_first(clock: FakeClock) -> None:
    heap = TimerHeap(clock)
    heap.add(5.0, delivery(1))
    heap.add(1.0, delivery(2))
    heap.add(9.0, delivery(3))
    assert len(heap) == 3
    assert heap.next_due() == 101.0
    clock.advance(5.0)
    assert [d.seq for d in heap.pop_due(clock.monotonic())] == [2, 1]
    assert len(heap) == 1
    assert heap.pop_due(clock.monotonic()) == []


def test_the_heap_lists_what_waits_with_the_delay_left(clock: FakeClock) -> None:
    heap = TimerHeap(clock)
    heap.add(5.0, delivery(1))
    heap.add(2.0, delivery(2))
    clock.advance(3.0)
    assert [(d.seq, left) for d, left in heap.listed()] == [(2, 0.0), (1, 2.0)]


def test_the_heap_cancels_by_delivery_number_in_place(clock: FakeClock) -> None:
    heap = TimerHeap(clock)
    held = heap.heap  # The sequential loop keeps this very list.
    heap.add(5.0, delivery(1))
    heap.add(2.0, delivery(2))
    assert heap.cancel(2)
    assert not heap.cancel(2)
    assert heap.heap is held
    assert [d.seq for d, _ in heap.listed()] == [1]
    heap.clear()
    assert not held


# -- ServiceTimers (concurrent) -----------------------------------------------


def test_service_timers_hand_each_delivery_back_when_due(clock: FakeClock) -> None:
    service = TimerService(clock, is_idle=lambda: True)
    handed: list[Delivery | None] = []
    done = threading.Event()
    timers: ServiceTimers

    def on_due(seq: int) -> None:
        handed.append(timers.take(seq))
        done.set()

    timers = ServiceTimers(service, on_due)
    try:
        timers.add(4.0, delivery(7))
        assert len(timers) == 1
        assert done.wait(PATIENCE)
        assert handed == [delivery(7)]
        assert len(timers) == 0
    finally:
        service.shutdown()


def test_a_cancelled_service_timer_hands_nothing_back(clock: FakeClock) -> None:
    service = TimerService(clock, is_idle=lambda: False)  # Never fires: the clock stays.
    timers = ServiceTimers(service, lambda seq: None)
    try:
        timers.add(4.0, delivery(1))
        timers.add(6.0, delivery(2))
        assert timers.cancel(1)
        assert not timers.cancel(1)
        assert timers.take(1) is None
        assert [(d.seq, left) for d, left in timers.listed()] == [(2, 6.0)]
        timers.clear()
        assert len(timers) == 0
    finally:
        service.shutdown()


def test_rearm_sets_again_the_timers_a_shutdown_cancelled(clock: FakeClock) -> None:
    old = TimerService(clock, is_idle=lambda: False)
    timers = ServiceTimers(old, lambda seq: None)
    timers.add(10.0, delivery(1))
    old.shutdown()
    clock.advance(4.0)
    new = TimerService(clock, is_idle=lambda: False)
    try:
        timers.rearm(new)
        assert timers.service is new
        assert [(d.seq, left) for d, left in timers.listed()] == [(1, 6.0)]
    finally:
        new.shutdown()


# -- TimerBook (named timers) -------------------------------------------------


def test_setting_a_named_timer_adds_its_delivery() -> None:
    book = TimerBook()
    set_op = TimerOp("r", "tick", 5.0, delivery(3))
    dropped, added = book.resolve([set_op], fired=1)
    assert (dropped, added) == ([], [(5.0, delivery(3))])
    book.apply([set_op], fired=1)
    assert book.names_of("r") == {"tick": 3}


def test_setting_a_name_again_drops_the_delivery_it_stood_for() -> None:
    book = TimerBook()
    book.apply([TimerOp("r", "tick", 5.0, delivery(3))], fired=1)
    again = TimerOp("r", "tick", 5.0, delivery(4))
    dropped, added = book.resolve([again], fired=2)
    assert (dropped, added) == ([3], [(5.0, delivery(4))])


def test_a_timer_set_and_cancelled_in_one_delivery_is_never_scheduled() -> None:
    book = TimerBook()
    ops = [TimerOp("r", "tick", 5.0, delivery(3)), TimerOp("r", "tick")]
    assert book.resolve(ops, fired=1) == ([], [])


def test_a_timer_that_fires_is_forgotten() -> None:
    book = TimerBook()
    book.apply([TimerOp("r", "tick", 5.0, delivery(3))], fired=1)
    book.apply([], fired=3)
    assert book.names_of("r") == {}
    assert book.by_seq == {}


def test_a_book_loads_only_the_timers_whose_delivery_is_pending() -> None:
    book = TimerBook()
    book.load({"r": {"tick": 3, "gone": 9}}, pending={3})
    assert book.names_of("r") == {"tick": 3}
