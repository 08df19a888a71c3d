"""One event loop, on its own thread, for ``async def`` handlers."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["LoopThread", "within"]

T = TypeVar("T")
_DoneCallback = Callable[["asyncio.Task[Any]"], object]


async def within(awaitable: Awaitable[T], seconds: float, error: Callable[[], Exception]) -> T:
    """Await ``awaitable`` in the current task; cancel it ``seconds`` after it starts.

    The time counts from this call, which starts ``awaitable`` in the same
    step (no task in between, unlike :func:`asyncio.wait_for` before Python
    3.12): time the task spent waiting for the event loop before it got
    here is never counted.

    Raises:
        Exception: ``error()``, if the time ran out before ``awaitable`` ended.
    """
    task = asyncio.current_task()
    assert task is not None  # Always called from the task that runs a handler.
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if expired:
            raise error() from None
        raise  # Cancelled by someone else (the loop shutting down).
    finally:
        handle.cancel()
        if expired and sys.version_info >= (3, 11):
            task.uncancel()  # Our cancel is spent: later cancels stay visible.


class LoopThread:
    """An asyncio event loop running on a daemon thread, started on first use.

    Every ``async def`` handler of the concurrent strategy runs here, so
    many waiting handlers (up to the flow's ``max_async_in_flight``) overlap
    without a thread each.
    """

    def __init__(self, name: str = "routilux-asyncio") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Coroutines handed over by spawn() that the loop has not taken yet,
        # and whether a drain of them is already scheduled on the loop.
        self._inbox: list[tuple[Coroutine[Any, Any, Any], _DoneCallback]] = []
        self._inbox_lock = threading.Lock()
        self._drain_scheduled = False

    def spawn(self, coroutine: Coroutine[Any, Any, Any], on_done: _DoneCallback) -> None:
        """Run ``coroutine`` as a task on the loop; call ``on_done(task)`` there when it ends.

        Cheaper than :meth:`submit` for many coroutines: no
        :class:`concurrent.futures.Future` per coroutine, and one wake-up of
        the loop for all the coroutines handed over before it gets to them.
        ``on_done`` runs on the loop thread, also when the task is cancelled
        (at :meth:`shutdown`).
        """
        loop = self._running_loop()
        with self._inbox_lock:
            self._inbox.append((coroutine, on_done))
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        loop.call_soon_threadsafe(self._drain, loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start a task for every coroutine in the inbox (on the loop thread)."""
        with self._inbox_lock:
            inbox, self._inbox = self._inbox, []
            self._drain_scheduled = False
        for coroutine, on_done in inbox:
            loop.create_task(coroutine).add_done_callback(on_done)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coroutine`` on the loop; its future completes with its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(loop, ready), name=self._name, daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()
        # Start what was handed over too late, then cancel everything left, so
        # every done-callback runs and the loop closes cleanly.
        self._drain(loop)
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    def shutdown(self) -> None:
        """Stop the loop (cancelling what still runs) and join its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
