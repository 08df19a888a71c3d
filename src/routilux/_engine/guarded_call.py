"""Calling a handler with a time limit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._engine.frame import DeliveryFrame
from routilux._model.context import CURRENT_FRAME

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.job_run import JobRun

__all__ = ["deliver_with_timeout"]


def deliver_with_timeout(run: JobRun, item: Delivery, timeout: float) -> DeliveryFrame:
    """Run one delivery on a helper thread and wait at most ``timeout`` seconds.

    The delivery gets a frame of its own, so a handler that overruns and
    emits later cannot touch the job: its late output lands in a frame
    nobody reads. When the time is up, the message is taken back out of the
    slot's data (as for any failed delivery), even while the handler runs on.

    Returns:
        The frame holding what the handler emitted.

    Raises:
        HandlerTimeoutError: The handler did not return in time.
        Exception: Whatever the handler raised.
    """
    target, data = item.target, item.message
    frame = DeliveryFrame(run, target, run.record_history)
    frame.seq = item.seq
    frame.hops = item.hops
    outcome: list[BaseException | None] = []
    done = threading.Event()
    merge = _MergeHandle()

    def call() -> None:
        token = CURRENT_FRAME.set(frame)
        try:
            result = target.deliver_reporting(data, merge.made)
            if result is not None and isawaitable(result):
                # A sync callable that returned an awaitable: await it on this
                # thread's own loop, as the job's loop may be busy elsewhere.
                asyncio.run(_await(result))
            outcome.append(None)
        except BaseException as exc:  # Handed to the caller, which applies the policy.
            outcome.append(exc)
        finally:
            CURRENT_FRAME.reset(token)
            done.set()

    # A daemon thread: a handler that overran its timeout may finish later,
    # or never, so once abandoned, nothing waits for it (shutdown included).
    thread = run.threads.start(call, f"routilux-handler-{target.routine_id}", daemon=True)
    try:
        finished = done.wait(timeout)
    except BaseException:  # Interrupted while waiting: the delivery did not happen.
        _abandon(run, item, thread, merge)
        raise
    if not finished or not outcome:
        _abandon(run, item, thread, merge)
        raise run.handler_timeout(target, timeout)
    error = outcome[0]
    if error is not None:
        raise error
    return frame


def _abandon(run: JobRun, item: Delivery, thread: threading.Thread, merge: _MergeHandle) -> None:
    """Give up on a timed delivery's handler: its message leaves the slot, its thread the group."""
    merge.abandon()
    target = item.target
    run.threads.abandon(
        thread,
        f"routine {target.routine_id!r}, slot {target.slot.name!r}, "
        f"delivery {run.delivery_id(item.seq)}",
    )


class _MergeHandle:
    """The undo of a timed delivery's merge, between its thread and the caller's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._undo: Callable[[], None] | None = None
        self._abandoned = False

    def made(self, undo: Callable[[], None]) -> None:
        """The handler's thread merged the message (undo now if the caller gave up)."""
        with self._lock:
            self._undo = undo
            abandoned = self._abandoned
        if abandoned:
            undo()

    def abandon(self) -> None:
        """The caller gave up on the handler: take its message back out of the slot."""
        with self._lock:
            self._abandoned = True
            undo = self._undo
        if undo is not None:
            undo()


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
