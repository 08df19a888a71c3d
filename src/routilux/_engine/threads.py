"""Keeping track of the threads a flow starts, so shutdown can join them."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["ThreadGroup"]


class ThreadGroup:
    """Starts named threads and remembers the live ones until they end.

    A thread may be abandoned (:meth:`abandon`): nothing waits for it any
    more, :meth:`join` included, since it may run for ever (a handler that
    overran its routine's timeout, which Python cannot stop).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        # Abandoned threads still alive, with what each of them runs.
        self._abandoned: dict[threading.Thread, str] = {}

    def start(
        self, target: Callable[[], None], name: str, *, daemon: bool = False
    ) -> threading.Thread:
        """Run ``target`` on a new thread that leaves the group when it ends; return it."""

        def run() -> None:
            try:
                target()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())
                    self._abandoned.pop(threading.current_thread(), None)

        thread = threading.Thread(target=run, name=name, daemon=daemon)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return thread

    def abandon(self, thread: threading.Thread, what: str) -> None:
        """Stop waiting for ``thread`` (if it still runs); ``what`` says what it runs."""
        with self._lock:
            if thread in self._threads:
                self._abandoned[thread] = what

    def join(self) -> list[str]:
        """Wait for every thread of the group but the calling one and the abandoned ones.

        Returns:
            What each abandoned thread still alive runs (see :meth:`abandon`).
        """
        current = threading.current_thread()
        while True:
            with self._lock:
                others = [t for t in self._threads if t is not current and t not in self._abandoned]
                if not others:
                    return [f"{what} (thread {t.name})" for t, what in self._abandoned.items()]
            for thread in others:
                thread.join()
