"""The worker pool's side of the concurrent strategy: work entries, places, one delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from functools import partial
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, NamedTuple

from routilux._engine.delivery import Delivery
from routilux._engine.frame import DeliveryFrame
from routilux._engine.guarded_call import deliver_with_timeout
from routilux._engine.job_async import in_frame
from routilux._model.context import CURRENT_FRAME

if TYPE_CHECKING:
    from routilux._engine.concurrent import ConcurrentRun
    from routilux._engine.gates import Gate

__all__ = [
    "BOTH_PLACES",
    "NO_PLACE",
    "ROUTINE_PLACE",
    "Work",
    "admit_entry",
    "call_handler",
    "new_work",
    "release",
    "run_entry",
    "worker_frame",
]


class Work(NamedTuple):
    """An entry of the worker pool's queue (or of a gate's backlog).

    Attributes:
        run: The job it belongs to.
        delivery: What to run.
        held: The places it holds already: ``NO_PLACE``, ``ROUTINE_PLACE``
            or ``BOTH_PLACES``.
    """

    run: ConcurrentRun
    delivery: Delivery
    held: int


#: Builds a Work from a tuple at C speed (no Python-level ``__new__``).
new_work = partial(tuple.__new__, Work)

#: The places a work entry holds. A delivery takes its routine's place first
#: (``Routine.set_max_concurrency``), then, for an ``async def`` handler, a
#: place under the flow's bound on async handlers in flight
#: (``Flow(max_async_in_flight=...)``); it gives both up when it ends.
NO_PLACE, ROUTINE_PLACE, BOTH_PLACES = 0, 1, 2


def worker_frame() -> DeliveryFrame:
    """The frame a pool thread reuses for every delivery it runs."""
    frame = DeliveryFrame(None, None, True)  # type: ignore[arg-type]
    CURRENT_FRAME.set(frame)
    return frame


def admit_entry(entry: Work) -> bool:
    """Let a delivery start if it gets the places it needs, else queue it at a gate.

    Its routine's place first, then, for an ``async def`` handler, one under
    the flow's bound on async handlers in flight. The pool calls this under
    its queue's lock, so deliveries reach each gate in the order they were
    queued.
    """
    run, item, held = entry
    if held == NO_PLACE and not _gate(run, item).enter(entry):
        return False
    return held == BOTH_PLACES or _enter_async(run, item)


def _enter_async(run: ConcurrentRun, item: Delivery) -> bool:
    """Whether a delivery holding its routine's place may start, as far as the async bound goes.

    A delivery to an ``async def`` handler takes a place under the bound, or
    waits at the flow's async gate, with its routine's place, for one to free.
    """
    return not item.target.slot.is_async or run.async_gate.enter(Work(run, item, ROUTINE_PLACE))


def _gate(run: ConcurrentRun, item: Delivery) -> Gate[Work]:
    routine = item.target.routine
    return run.gates.of(routine, routine.get_max_concurrency)


def run_entry(entry: Work, state: object) -> None:
    """The pool's work function: run a delivery, then the routine's waiting ones."""
    run, item, _ = entry
    gate = _gate(run, item)
    assert isinstance(state, DeliveryFrame)
    while True:
        if _deliver(run, item, state):
            return  # An async handler holds its places until it completes.
        if item.target.slot.is_async:
            _leave_async(run)
        following = gate.leave()
        if following is None:
            return
        run, item, _ = following  # It holds the routine's place now.
        if not _enter_async(run, item):
            return  # It waits at the async gate.


def _deliver(run: ConcurrentRun, item: Delivery, frame: DeliveryFrame) -> bool:
    """Run one delivery; return whether an async handler still runs it."""
    if not run.claim(item):
        return False
    target, _, frame.seq, _, frame.hops = item
    frame.run = run
    frame.target = target
    frame.record_history = run.record_history
    try:
        used = run.call(item, frame)
        if used is None:
            return True
    except BaseException as exc:  # The user's handler: any failure goes to its policy,
        # even an interrupt or SystemExit: on a worker thread it can stop
        # nothing else, and the worker must go on serving.
        frame.clear()
        run.failed(item, exc)
        return False
    run.finished(item, used)
    return False


def call_handler(run: ConcurrentRun, item: Delivery, frame: DeliveryFrame) -> DeliveryFrame | None:
    """Call a delivery's handler on this thread (with its routine's timeout, if any).

    Returns:
        The frame holding what it emitted, or ``None`` for an ``async def``
        handler, which goes on running on the loop thread.
    """
    target = item.target
    timeout = target.routine._timeout
    if timeout is not None and not target.slot.is_async:
        return deliver_with_timeout(run, item, timeout)
    result = target.deliver(item.message)
    if result is not None and isawaitable(result):
        _run_async(run, item, result, frame)
        return None
    return frame


def _run_async(
    run: ConcurrentRun, item: Delivery, awaitable: Awaitable[Any], frame: DeliveryFrame
) -> None:
    # The coroutine emits while it runs on the loop thread, after this worker
    # has moved on: it gets a frame of its own.
    own = DeliveryFrame(run, item.target, run.record_history)
    own.seq = item.seq
    own.hops = item.hops
    own.adopt(frame)
    # The handler starts, and its timeout starts counting, when the loop
    # runs the task's first step (see JobRun.bounded).
    run.loop.spawn(
        in_frame(run, own, awaitable, item.target), lambda done: _async_done(run, item, own, done)
    )


def _async_done(
    run: ConcurrentRun, item: Delivery, frame: DeliveryFrame, done: asyncio.Future[Any]
) -> None:
    if done.cancelled():
        run.failed(item, RuntimeError("The async handler was cancelled."))
    elif (error := done.exception()) is not None:
        run.failed(item, error)
    else:
        run.finished(item, frame)
    release(run, item, BOTH_PLACES if item.target.slot.is_async else ROUTINE_PLACE)


def _leave_async(run: ConcurrentRun) -> None:
    """Give up a place under the async bound, handing it to the oldest waiting delivery."""
    following = run.async_gate.leave()
    if following is not None:
        _hand_over([Work(following.run, following.delivery, BOTH_PLACES)])


def release(run: ConcurrentRun, item: Delivery, held: int) -> None:
    """Give up the places ``held`` by a delivery, each to the oldest delivery waiting for it."""
    _hand_over(_give_up(run, item, held))


def _give_up(run: ConcurrentRun, item: Delivery, held: int) -> list[Work]:
    """Give up the places ``held``; return the waiting entries that got them."""
    handed: list[Work] = []
    if held == BOTH_PLACES and (following := run.async_gate.leave()) is not None:
        handed.append(Work(following.run, following.delivery, BOTH_PLACES))
    if held != NO_PLACE and (following := _gate(run, item).leave()) is not None:
        handed.append(Work(following.run, following.delivery, ROUTINE_PLACE))
    return handed


def _hand_over(entries: list[Work]) -> None:
    """Queue entries that were handed places ahead of the pool's work.

    If their pool is shut down, their places are given up in turn, so that
    none is lost for the jobs that come after a restart: shutdown has ended
    every job that is not paused, and a paused job keeps the delivery with
    its other held ones, for its resume.
    """
    while entries:
        entry = entries.pop()
        run, item, held = entry
        if run.pool.hand_over(entry):
            continue
        if not run.ended:  # Paused: only a pause racing with the pool lets one get here.
            with run.lock:
                if not run.ended:
                    run.parked.append(item)
        entries += _give_up(run, item, held)
