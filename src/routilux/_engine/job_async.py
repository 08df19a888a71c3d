"""Running ``async def`` handlers: on an event loop, within their routine's timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from routilux._engine.aio import within
from routilux._engine.describe import Interrupted
from routilux._model.context import CURRENT_FRAME, Frame
from routilux.exceptions import HandlerTimeoutError

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun
    from routilux._engine.plan import Target

__all__ = ["await_result", "bounded", "handler_timeout", "in_frame"]


def await_result(run: JobRun, awaitable: Awaitable[Any], target: Target) -> Any:
    """Run an ``async def`` handler's awaitable to completion, blocking this thread.

    It runs on the job's own event loop; if this thread already runs an
    event loop (``execute`` called from async code), on the engine's
    loop thread instead, since one thread cannot run two loops.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if run.own_loop is None:
            run.own_loop = asyncio.new_event_loop()
        return run.own_loop.run_until_complete(bounded(run, awaitable, target))
    frame = CURRENT_FRAME.get()
    return run.async_loop().submit(in_frame(run, frame, awaitable, target)).result()


async def in_frame(
    run: JobRun, frame: Frame | None, awaitable: Awaitable[Any], target: Target
) -> Any:
    """Await ``awaitable`` in the delivery's frame, within its timeout, on the loop thread."""
    token = CURRENT_FRAME.set(frame)
    try:
        return await bounded(run, awaitable, target)
    except (KeyboardInterrupt, SystemExit) as exc:
        # Out of a task they would stop the engine's loop thread, and every
        # async handler with it: a failure of this delivery like any other.
        raise Interrupted(exc) from exc
    finally:
        CURRENT_FRAME.reset(token)


async def bounded(run: JobRun, awaitable: Awaitable[Any], target: Target) -> Any:
    """Await ``awaitable`` within the routine's timeout, if it has one.

    The timeout counts from the moment the handler starts, in this step:
    never the time the task waited for the event loop before.
    """
    timeout = target.routine._timeout
    if timeout is None:
        return await awaitable
    return await within(awaitable, timeout, lambda: handler_timeout(run, target, timeout))


def handler_timeout(run: JobRun, target: Target, timeout: float) -> HandlerTimeoutError:
    """The error of a handler that ran past its routine's timeout."""
    return HandlerTimeoutError(
        f"The handler of slot {target.slot.name!r} of routine {target.routine_id!r} ran "
        f"longer than its timeout of {timeout} seconds.",
        routine_id=target.routine_id,
        slot_name=target.slot.name,
        job_id=run.job.job_id,
    )
