"""Keeping track of the threads a flow starts, so shutdown can join them."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["ThreadGroup"]


class ThreadGroup:
    """Starts named threads and remembers the live ones until they end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    def start(self, target: Callable[[], None], name: str, *, daemon: bool = False) -> None:
        """Run ``target`` on a new thread that leaves the group when it ends."""

        def run() -> None:
            try:
                target()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=daemon)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def join(self) -> None:
        """Wait for every thread of the group (but the calling one) to end."""
        while True:
            with self._lock:
                others = [t for t in self._threads if t is not threading.current_thread()]
            if not others:
                return
            for thread in others:
                thread.join()
