"""Concurrency limits of the concurrent strategy: per routine, and for async handlers."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["DEFAULT_MAX_ASYNC_IN_FLIGHT", "Gate", "Gates"]

W = TypeVar("W")

#: How many ``async def`` handlers a flow runs at once by default (its one
#: event loop stays responsive: see ``Flow(max_async_in_flight=...)``).
DEFAULT_MAX_ASYNC_IN_FLIGHT = 1_000


class Gate(Generic[W]):
    """Admits at most ``limit()`` deliveries of one routine at a time.

    Deliveries over the limit wait in a FIFO backlog; when one finishes,
    :meth:`leave` hands its place to the oldest waiting delivery, so a
    routine limited to one runs its deliveries in the order they came.
    """

    __slots__ = ("_active", "_backlog", "_limit", "_lock")

    def __init__(self, limit: Callable[[], int | None]) -> None:
        self._limit = limit
        self._active = 0
        self._backlog: deque[W] = deque()
        self._lock = threading.Lock()

    def enter(self, entry: W) -> bool:
        """Take a place for ``entry``; if none is free, queue it and return False."""
        limit = self._limit()
        with self._lock:
            if limit is None or self._active < limit:
                self._active += 1
                return True
            self._backlog.append(entry)
            return False

    def leave(self) -> W | None:
        """Give up a place: hand it to the oldest waiting entry, returned, or free it."""
        with self._lock:
            if self._backlog:
                return self._backlog.popleft()
            self._active -= 1
            return None

    def extract(self, select: Callable[[W], bool]) -> list[W]:
        """Remove and return the waiting entries ``select`` picks."""
        with self._lock:
            picked = [entry for entry in self._backlog if select(entry)]
            if picked:
                self._backlog = deque(e for e in self._backlog if not select(e))
            return picked


class Gates(Generic[W]):
    """The gate of each routine object, made on first use (and the flow's, for async handlers)."""

    def __init__(self) -> None:
        self._gates: dict[int, Gate[W]] = {}
        self._lock = threading.Lock()

    def of(self, routine: object, limit: Callable[[], int | None]) -> Gate[W]:
        """The gate of ``routine``."""
        gate = self._gates.get(id(routine))
        if gate is None:
            with self._lock:
                gate = self._gates.setdefault(id(routine), Gate(limit))
        return gate

    def extract(self, select: Callable[[W], bool]) -> list[W]:
        """Remove and return the waiting entries ``select`` picks, from every gate."""
        with self._lock:
            gates = list(self._gates.values())
        return [entry for gate in gates for entry in gate.extract(select)]
