"""The routines the routilux workloads are built from."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from routilux import Routine

__all__ = [
    "AsyncSleeper",
    "CountingSink",
    "CountingSource",
    "FirstHopProbe",
    "PassThrough",
    "Sleeper",
    "Source",
]


class Source(Routine):
    """Emits ``{"i": 0}`` ... ``{"i": n - 1}`` on ``out`` when triggered with ``n``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.start)
        self.define_event("out", ["i"])

    def start(self, n: int) -> None:
        """Emit ``n`` messages."""
        for i in range(n):
            self.emit("out", i=i)


class PassThrough(Routine):
    """Re-emits every message its ``input`` slot receives."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.on)
        self.define_event("out", ["i"])

    def on(self, **kw: Any) -> None:
        """Forward the message."""
        self.emit("out", **kw)


class CountingSource(Source):
    """A :class:`Source` that also counts the messages it emitted (one increment per emit)."""

    def __init__(self) -> None:
        super().__init__()
        self.emitted = 0

    def start(self, n: int) -> None:
        """Emit ``n`` messages, counting them."""
        for i in range(n):
            self.emit("out", i=i)
            self.emitted += 1


class FirstHopProbe(PassThrough):
    """A :class:`PassThrough` that notes how many messages ``source`` had emitted at its first call.

    In the sequential strategy, a handler's emits are queued when it returns;
    if ``emitted_before_first_call`` is ``n``, all ``n`` messages of the
    source's one delivery were pending at once before any was delivered.
    """

    def __init__(self, source: CountingSource) -> None:
        super().__init__()
        self.source = source
        self.emitted_before_first_call: int | None = None

    def on(self, **kw: Any) -> None:
        """Note the source's count on the first call; forward the message."""
        if self.emitted_before_first_call is None:
            self.emitted_before_first_call = self.source.emitted
        self.emit("out", **kw)


class CountingSink(Routine):
    """Counts the messages its ``input`` slot receives and sums their ``i``."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.total = 0
        self.define_slot("input", handler=self.on)

    def on(self, **kw: Any) -> None:
        """Count the message."""
        self.count += 1
        self.total += kw["i"]

    def clear(self) -> None:
        """Forget what was counted (after a warm-up execute)."""
        self.count = self.total = 0


class _Overlapping(Routine):
    """A routine whose handler calls may overlap: it records each ``i`` and the peak overlap.

    ``received`` is appended to (atomic under the GIL); the count of calls in
    flight is kept under a lock, since ``+=`` on an attribute is not atomic.
    """

    def __init__(self, pause_s: float) -> None:
        super().__init__()
        self.pause_s = pause_s
        self.received: list[int] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()

    def _enter(self, i: int) -> None:
        with self._lock:
            self.received.append(i)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def clear(self) -> None:
        """Forget what was received (after a warm-up execute)."""
        with self._lock:
            self.received = []
            self.peak_in_flight = self.in_flight


class Sleeper(_Overlapping):
    """Blocks its worker thread for ``pause_s`` seconds per message: simulated blocking I/O.

    It keeps the default concurrency: no limit of its own, so its calls
    overlap up to the flow's ``max_workers``.
    """

    def __init__(self, pause_s: float) -> None:
        super().__init__(pause_s)
        self.define_slot("input", handler=self.on)

    def on(self, i: int) -> None:
        """Sleep, then return."""
        self._enter(i)
        try:
            time.sleep(self.pause_s)
        finally:
            self._leave()


class AsyncSleeper(_Overlapping):
    """Awaits ``asyncio.sleep(pause_s)`` per message: simulated asynchronous I/O.

    It keeps the default concurrency: no limit of its own, so its calls
    overlap up to the flow's ``max_async_in_flight``.
    """

    def __init__(self, pause_s: float) -> None:
        super().__init__(pause_s)
        self.define_slot("input", handler=self.on)

    async def on(self, i: int) -> None:
        """Await the sleep, then return."""
        self._enter(i)
        try:
            await asyncio.sleep(self.pause_s)
        finally:
            self._leave()
