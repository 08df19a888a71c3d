"""The worker threads of the concurrent strategy."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

__all__ = ["WorkerPool"]

logger = logging.getLogger("routilux")

W = TypeVar("W")


class WorkerPool(Generic[W]):
    """``size`` threads taking work entries from one FIFO queue.

    Threads start on first use and stop at :meth:`shutdown`. The pool knows
    nothing of jobs: ``work(entry, state)`` does the work, with a per-thread
    ``state`` made once by ``make_state()``. ``admit(entry)``, if given, is
    asked under the queue's lock as each entry is taken, so entries are
    admitted in queue order; when it returns False it has kept the entry
    elsewhere, and the thread takes the next one.
    """

    def __init__(
        self,
        size: int,
        work: Callable[[W, object], None],
        make_state: Callable[[], object],
        name: str = "routilux-worker",
        admit: Callable[[W], bool] | None = None,
    ) -> None:
        self._size = size
        self._work = work
        self._make_state = make_state
        self._admit = admit
        self._name = name
        self._queue: deque[W] = deque()
        self._cond = threading.Condition()
        self._start_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._closed = False

    @property
    def size(self) -> int:
        """How many threads the pool runs."""
        return self._size

    def submit(self, entries: Iterable[W]) -> None:
        """Queue ``entries`` behind the queued work."""
        if len(self._threads) < self._size:
            self._start_threads()
        with self._cond:
            if self._closed:
                raise RuntimeError("The worker pool is shut down.")
            before = len(self._queue)
            self._queue.extend(entries)
            self._cond.notify(len(self._queue) - before)

    def hand_over(self, entry: W) -> bool:
        """Queue ``entry`` ahead of the queued work; False if the pool is shut down.

        For an entry that was handed places that others wait for (a
        routine's, say): it goes first, and a pool that no longer serves
        does not raise, so its caller can give the places up instead.
        """
        if len(self._threads) < self._size:
            self._start_threads()
        with self._cond:
            if self._closed:
                return False
            self._queue.appendleft(entry)
            self._cond.notify()
        return True

    def _start_threads(self) -> None:
        # All at once, and without holding the queue's lock: a thread started
        # while its starter holds the lock it needs takes milliseconds to start.
        with self._start_lock:
            while len(self._threads) < self._size and not self._closed:
                thread = threading.Thread(
                    target=self._serve,
                    name=f"{self._name}-{len(self._threads) + 1}",
                    daemon=True,
                )
                self._threads.append(thread)
                thread.start()

    def extract(self, select: Callable[[W], bool]) -> list[W]:
        """Remove and return the queued entries ``select`` picks, in queue order."""
        with self._cond:
            picked = [entry for entry in self._queue if select(entry)]
            if picked:
                self._queue = deque(entry for entry in self._queue if not select(entry))
            return picked

    def idle(self) -> bool:
        """Whether nothing is queued and no thread is working."""
        with self._cond:
            return not self._queue and self._busy == 0

    def _serve(self) -> None:
        state = self._make_state()
        while True:
            with self._cond:
                entry = self._take()
                if entry is None:
                    return
                self._busy += 1
            try:
                self._work(entry, state)
            except BaseException:  # An engine bug: keep the thread serving, but say so.
                logger.exception("A routilux worker failed outside any handler")
            finally:
                with self._cond:
                    self._busy -= 1

    def _take(self) -> W | None:
        # Caller holds self._cond.
        admit = self._admit
        while True:
            while not self._queue and not self._closed:
                self._cond.wait()
            if not self._queue:
                return None
            entry = self._queue.popleft()
            if admit is None or admit(entry):
                return entry

    def shutdown(self, wait: bool = True) -> None:
        """Let the threads finish the queued work and exit; join them if ``wait``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            current = threading.current_thread()
            for thread in threads:
                if thread is not current:
                    thread.join()
