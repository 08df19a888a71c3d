"""Timers on the engine's clock: delayed deliveries, job deadlines, handler timeouts.

Two kinds of delayed deliveries share one interface, :class:`DelayedDeliveries`:

- :class:`TimerHeap` (the sequential strategy): a heap that the thread
  driving the job looks at between deliveries; nothing fires by itself.
- :class:`ServiceTimers` (the concurrent strategy): each delivery has a
  :class:`Timer` on the engine's :class:`TimerService` thread, which hands
  it back to the job when it falls due.

A handler's named timers (``Routine.set_timer``) are delayed deliveries
too; :class:`TimerBook` knows which name stands for which of them, and a
delivery stages its changes to them as :class:`TimerOp`, applied when it
commits (or not at all, if its handler raises).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from routilux._engine.clock import Clock, virtual_clock

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.job_run import JobRun

__all__ = [
    "DelayedDeliveries",
    "ServiceTimers",
    "Timer",
    "TimerBook",
    "TimerHeap",
    "TimerOp",
    "TimerService",
    "arm_deadline",
]

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
        self.clock = clock
        self._is_idle = is_idle
        self._virtual = virtual_clock(clock)  # The clock, if the service may move it.
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` ``delay`` seconds from now on the clock."""
        timer = Timer(self.clock.monotonic() + max(0.0, delay), callback)
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
                wait = heap[0][0] - self.clock.monotonic()
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


def arm_deadline(service: TimerService, run: JobRun) -> None:
    """Time ``run`` out (under its lock) when the clock reaches its deadline."""
    assert run.deadline is not None
    remaining = run.deadline - service.clock.monotonic()
    run.deadline_timer = service.call_later(remaining, _locked(run, run.time_out))


def _locked(run: JobRun, action: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        with run.lock:
            action()

    return call


class DelayedDeliveries(Protocol):
    """The deliveries of one job that wait for their time (retries, ``deliver_later``, timers).

    Every method is called with the job's lock held.
    """

    def __len__(self) -> int:
        """How many wait."""

    def add(self, delay: float, delivery: Delivery) -> None:
        """Hold ``delivery`` until ``delay`` seconds from now on the clock."""

    def cancel(self, seq: int) -> bool:
        """Drop the waiting delivery numbered ``seq``; return whether it waited."""

    def clear(self) -> None:
        """Drop every waiting delivery."""

    def listed(self) -> Iterator[tuple[Delivery, float]]:
        """The waiting deliveries, soonest first, each with its remaining delay."""


class TimerHeap:
    """Delayed deliveries that the thread driving the job releases when they fall due.

    ``heap`` holds ``(due, seq, delivery)`` entries; the sequential loop
    reads it directly (its first entry is the next due), which costs
    nothing while it is empty.
    """

    __slots__ = ("clock", "heap")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.heap: list[tuple[float, int, Delivery]] = []

    def __len__(self) -> int:
        return len(self.heap)

    def add(self, delay: float, delivery: Delivery) -> None:
        """Hold ``delivery`` until ``delay`` seconds from now."""
        heapq.heappush(self.heap, (self.clock.monotonic() + delay, delivery.seq, delivery))

    def cancel(self, seq: int) -> bool:
        """Drop the delivery ``seq``; return whether it waited here."""
        heap = self.heap
        kept = [entry for entry in heap if entry[1] != seq]
        if len(kept) == len(heap):
            return False
        heap[:] = kept  # In place: the drive loop holds the list.
        heapq.heapify(heap)
        return True

    def clear(self) -> None:
        """Drop every waiting delivery."""
        self.heap.clear()

    def listed(self) -> Iterator[tuple[Delivery, float]]:
        """The waiting deliveries, soonest first, with their remaining delays."""
        now = self.clock.monotonic()
        return ((delivery, max(0.0, due - now)) for due, _, delivery in sorted(self.heap))

    def next_due(self) -> float:
        """When the soonest delivery falls due (the heap must not be empty)."""
        return self.heap[0][0]

    def pop_due(self, now: float) -> list[Delivery]:
        """Take out the deliveries due at ``now``, soonest first."""
        heap = self.heap
        due: list[Delivery] = []
        while heap and heap[0][0] <= now:
            due.append(heapq.heappop(heap)[2])
        return due


class ServiceTimers:
    """Delayed deliveries on the engine's timer thread, handed to ``on_due`` when due.

    ``on_due(seq)`` runs on the timer thread; it takes the delivery with
    :meth:`take` under the job's lock (it may have been cancelled since).

    Args:
        service: The engine's timer service (replaced by :meth:`rearm`).
        on_due: Called with the delivery's number when it falls due.
    """

    __slots__ = ("on_due", "service", "waiting")

    def __init__(self, service: TimerService, on_due: Callable[[int], None]) -> None:
        self.service = service
        self.on_due = on_due
        self.waiting: dict[int, tuple[Timer, Delivery]] = {}

    def __len__(self) -> int:
        return len(self.waiting)

    def add(self, delay: float, delivery: Delivery) -> None:
        """Set a timer that hands ``delivery`` back after ``delay`` seconds."""
        seq = delivery.seq
        self.waiting[seq] = (self.service.call_later(delay, self._due(seq)), delivery)

    def _due(self, seq: int) -> Callable[[], None]:
        return lambda: self.on_due(seq)

    def take(self, seq: int) -> Delivery | None:
        """The delivery ``seq``, now due, taken out; ``None`` if it was cancelled."""
        entry = self.waiting.pop(seq, None)
        return None if entry is None else entry[1]

    def cancel(self, seq: int) -> bool:
        """Drop the delivery ``seq`` and its timer; return whether it waited here."""
        entry = self.waiting.pop(seq, None)
        if entry is None:
            return False
        entry[0].cancel()
        return True

    def clear(self) -> None:
        """Drop every waiting delivery and its timer."""
        for timer, _ in self.waiting.values():
            timer.cancel()
        self.waiting.clear()

    def listed(self) -> Iterator[tuple[Delivery, float]]:
        """The waiting deliveries, soonest first, with their remaining delays."""
        now = self.service.clock.monotonic()
        entries = sorted(self.waiting.values(), key=lambda entry: entry[0].due)
        return ((delivery, max(0.0, timer.due - now)) for timer, delivery in entries)

    def rearm(self, service: TimerService) -> None:
        """Move to ``service``, setting again the timers a shutdown cancelled (a resume)."""
        self.service = service
        now = service.clock.monotonic()
        for seq, (timer, delivery) in list(self.waiting.items()):
            if timer.cancelled:
                left = max(0.0, timer.due - now)
                self.waiting[seq] = (service.call_later(left, self._due(seq)), delivery)


@dataclass(frozen=True, slots=True)
class TimerOp:
    """A staged change to a named timer: set (with its delivery) or cancel."""

    routine_id: str
    name: str
    delay: float = 0.0
    item: Delivery | None = None


@dataclass(slots=True)
class TimerBook:
    """The named timers of one job: which pending delivery each name stands for."""

    by_name: dict[tuple[str, str], int] = field(default_factory=dict)
    by_seq: dict[int, tuple[str, str]] = field(default_factory=dict)

    def resolve(
        self, ops: list[TimerOp], fired: int
    ) -> tuple[list[int], list[tuple[float, Delivery]]]:
        """Work out what ``ops`` (and the delivery ``fired``) change, without changing it.

        Returns:
            The deliveries of timers to drop, and the new timer deliveries.
        """
        names = dict(self.by_name)
        if fired in self.by_seq:
            names.pop(self.by_seq[fired], None)  # A timer that fires is done.
        dropped: list[int] = []
        added: list[tuple[float, Delivery]] = []
        for op in ops:
            old = names.pop((op.routine_id, op.name), None)
            if old is not None:
                # Set earlier in this same delivery: it never gets scheduled at all.
                fresh = [entry for entry in added if entry[1].seq != old]
                if len(fresh) == len(added):
                    dropped.append(old)
                added = fresh
            if op.item is not None:
                names[(op.routine_id, op.name)] = op.item.seq
                added.append((op.delay, op.item))
        return dropped, added

    def apply(self, ops: list[TimerOp], fired: int) -> None:
        """Record what ``ops`` and the delivery ``fired`` changed (after a commit)."""
        key = self.by_seq.pop(fired, None)
        if key is not None and self.by_name.get(key) == fired:
            del self.by_name[key]
        for op in ops:
            old = self.by_name.pop((op.routine_id, op.name), None)
            if old is not None:
                self.by_seq.pop(old, None)
            if op.item is not None:
                self.by_name[(op.routine_id, op.name)] = op.item.seq
                self.by_seq[op.item.seq] = (op.routine_id, op.name)

    def names_of(self, routine_id: str) -> dict[str, int]:
        """The named timers of one routine, for the job's records of it."""
        return {name: seq for (rid, name), seq in self.by_name.items() if rid == routine_id}

    def load(self, timers: dict[str, dict[str, int]], pending: set[int]) -> None:
        """Rebuild the book from the timers saved with a job (a resume)."""
        for routine_id, names in timers.items():
            for name, seq in names.items():
                if seq in pending:
                    self.by_name[(routine_id, name)] = seq
                    self.by_seq[seq] = (routine_id, name)
