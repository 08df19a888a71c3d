"""Calling a handler with a time limit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._engine.frame import DeliveryFrame
from routilux._model.context import CURRENT_FRAME

if TYPE_CHECKING:
    from routilux._engine.job_run import Item, JobRun

__all__ = ["deliver_with_timeout"]


def deliver_with_timeout(run: JobRun, item: Item, timeout: float) -> DeliveryFrame:
    """Run one delivery on a helper thread and wait at most ``timeout`` seconds.

    The delivery gets a frame of its own, so a handler that overruns and
    emits later cannot touch the job: its late output lands in a frame
    nobody reads.

    Returns:
        The frame holding what the handler emitted.

    Raises:
        HandlerTimeoutError: The handler did not return in time.
        Exception: Whatever the handler raised.
    """
    target, data = item[0], item[1]
    frame = DeliveryFrame(run, target, run.record_history)
    frame.seq = item[2]
    outcome: list[BaseException | None] = []
    done = threading.Event()

    def call() -> None:
        token = CURRENT_FRAME.set(frame)
        try:
            result = target.deliver(data)
            if result is not None and isawaitable(result):
                # A sync callable that returned an awaitable: await it on this
                # thread's own loop, as the job's loop may be busy elsewhere.
                asyncio.run(_await(result))
            outcome.append(None)
        except Exception as exc:  # Handed to the caller, which applies the policy.
            outcome.append(exc)
        finally:
            CURRENT_FRAME.reset(token)
            done.set()

    # A daemon thread that the flow's shutdown(wait=True) still joins: a
    # handler that overran its timeout may finish later, or never.
    run.threads.start(call, f"routilux-handler-{target.routine_id}", daemon=True)
    if not done.wait(timeout) or not outcome:
        raise run.handler_timeout(target, timeout)
    error = outcome[0]
    if error is not None:
        raise error
    return frame


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
