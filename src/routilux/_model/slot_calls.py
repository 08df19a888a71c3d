"""Delivering to a slot by hand: ``Slot.receive`` and ``Slot.call_handler``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._model.context import CURRENT_FRAME, ExecutionContext, Frame
from routilux.exceptions import DefinitionError, ExecutionError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState
    from routilux._model.slot import Slot

__all__ = ["call_handler", "receive"]

logger = logging.getLogger("routilux")


def receive(slot: Slot, data: Mapping[str, Any] | None, job_state: Any, flow: Any) -> Any:
    """Deliver ``data`` to ``slot`` from user code; see :meth:`Slot.receive`."""
    message = _message(slot, data)
    frame = CURRENT_FRAME.get()
    if frame is not None:
        _stage(slot, message, frame, job_state, flow)
        return None
    if job_state is not None:
        raise ExecutionError(
            f"{_where(slot)} was given job_state={job_state!r} outside of any job: only the "
            "running job may be named. Call receive without it to start a new job."
        )
    if flow is not None:
        return flow.execute(_id_in(flow, slot), message, entry_slot=slot.name)
    held = slot.routine._flows_holding()
    if len(held) > 1:
        ids = ", ".join(repr(f.flow_id) for f, _ in held)
        raise DefinitionError(
            f"{_where(slot)} cannot tell which flow should run the job: its routine is in "
            f"the flows {ids}. Pass flow=... to receive."
        )
    if held:
        chosen, routine_id = held[0]
        job: JobState = chosen.execute(routine_id, message, entry_slot=slot.name)
        return job
    _settle(slot, slot.deliver(message))
    return None


def call_handler(slot: Slot, data: Mapping[str, Any] | None, propagate: bool) -> Any:
    """Merge ``data`` into ``slot`` and call its handler here; see :meth:`Slot.call_handler`."""
    message = _message(slot, data)
    before = slot._data
    try:
        return _settle(slot, slot.deliver(message))
    except Exception:
        if propagate:
            if slot.merge_strategy == "override":
                slot._data = before  # The other strategies take the message back themselves.
            raise
        logger.exception("The handler of %s failed in call_handler", _where(slot))
        return None


def _stage(slot: Slot, message: dict[str, Any], frame: Frame, job_state: Any, flow: Any) -> None:
    """Stage a delivery of ``message`` to ``slot`` in the running job."""
    try:
        context: ExecutionContext = frame.context_for(slot.routine)
    except DefinitionError:
        raise DefinitionError(
            f"{_where(slot)} received data inside a job of a flow that does not hold its "
            "routine; add the routine to that flow, or call receive outside of the job."
        ) from None
    if job_state is not None and job_state is not context.job_state:
        raise ExecutionError(
            f"{_where(slot)} was given job_state={job_state!r}, but the running handler belongs "
            f"to job {context.job_state.job_id}; pass the running job, or none."
        )
    if flow is not None and flow is not context.flow:
        raise ExecutionError(
            f"{_where(slot)} was given flow={flow!r}, but flow {context.flow.flow_id!r} runs "
            "this job; pass the running flow, or none."
        )
    frame.send_to(slot.routine, slot.name, message)


def _id_in(flow: Any, slot: Slot) -> str:
    routine_id = None
    routine_ids = getattr(flow, "_routine_ids", None)
    if routine_ids is None:
        raise DefinitionError(f"receive expects a Flow as flow=, not {type(flow).__name__}.")
    routine_id = routine_ids().get(id(slot.routine))
    if routine_id is None or flow.routines.get(routine_id) is not slot.routine:
        raise DefinitionError(
            f"{_where(slot)} was given flow {flow.flow_id!r}, which does not hold its routine; "
            "add it with flow.add_routine first."
        )
    return str(routine_id)


def _message(slot: Slot, data: Mapping[str, Any] | None) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise DefinitionError(
            f"{_where(slot)} receives a mapping with string keys, not {type(data).__name__} "
            f"{data!r}."
        )
    return dict(data)


def _settle(slot: Slot, result: Any) -> Any:
    """``result``, awaited first if the handler is ``async def`` (on a loop of its own)."""
    if result is None or not isawaitable(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(result))
    close = getattr(result, "close", None)
    if close is not None:
        close()
    raise ExecutionError(
        f"The handler of {_where(slot)} is async def, and this thread runs an event loop "
        "already, which cannot wait for it: call receive from a worker thread "
        "(await asyncio.to_thread(slot.receive, data))."
    )


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _where(slot: Slot) -> str:
    return f"Slot {slot.name!r} of routine {type(slot.routine).__name__}"
