"""Tracking a job's deliveries and emits: ``Flow(track_execution=True)``.

A flow that tracks compiles a :class:`TrackedPlan`, whose targets wrap the
delivery itself: the engine's loops stay as they are, and a flow that does
not track pays nothing, not even a test per delivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from routilux._engine.describe import exception_text
from routilux._engine.frame import DeliveryFrame
from routilux._engine.plan import FlowPlan, Target
from routilux._model.context import CURRENT_FRAME
from routilux.execution_tracker import ExecutionTracker, _Attempt

if TYPE_CHECKING:
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine

__all__ = ["TRACKED_STATUS", "TrackedPlan", "TrackedTarget", "TrackingFrame"]

#: The status a failed attempt ends with, by the error policy's action.
TRACKED_STATUS = {
    "retry": "failed",
    "stop": "failed",
    "skip": "skipped",
    "continue": "error_continued",
}


class TrackingFrame:
    """The frame a tracked handler sees: the delivery's own, noting each emit.

    The emits are staged in the delivery's frame as usual; the events are
    kept here, and reach the tracker only if the attempt succeeds, as its
    deliveries reach the job. Everything but :meth:`emit` is the frame's.
    """

    __slots__ = ("events", "frame")

    def __init__(self, frame: DeliveryFrame) -> None:
        self.frame = frame
        self.events: list[dict[str, Any]] = []

    def emit(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Stage the emit in the delivery's frame, and note its event."""
        frame = self.frame
        frame.emit(routine, event_name, data)
        target = frame.target
        if routine is target.routine:
            rid, out = target.routine_id, target.out
        else:
            rid, out = frame.run.plan.lookup(routine)
        targets = out.get(event_name, ())
        if len(targets) == 1:  # The common case, without a dict.
            ids = [targets[0].routine_id]
        else:
            ids = list(dict.fromkeys(t.routine_id for t in targets))
        self.events.append(ExecutionTracker._event(rid, event_name, ids, data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.frame, name)


def _tracked_call(target: Target, call: Callable[..., Any], data: Any, *rest: Any) -> Any:
    """Call ``call(data, *rest)`` (one delivery attempt) and record it in the job's tracker.

    A handler that raises leaves its record open: the error policy ends it
    (see ``failures.on_failure``), with a status that says what it decided.
    Once the job has ended, no policy applies: the record ends ``failed``.
    """
    frame = CURRENT_FRAME.get()
    assert isinstance(frame, DeliveryFrame)  # The engine's, around every delivery.
    tracker = frame.run.tracker
    assert tracker is not None  # A run of a tracked plan has one.
    seq = frame.seq
    attempt = tracker._started(seq, target.routine_id, data)
    tracking = TrackingFrame(frame)
    token = CURRENT_FRAME.set(tracking)
    try:
        result = call(data, *rest)
    except BaseException as exc:
        _failed_after_end(frame, tracker, seq, target.routine_id, data, exc)
        raise
    finally:
        CURRENT_FRAME.reset(token)
    if result is not None and isawaitable(result):
        return _tracked_await(result, tracker, seq, attempt, tracking.events)
    tracker._succeeded(seq, attempt, tracking.events)
    return result


async def _tracked_await(
    awaitable: Awaitable[Any],
    tracker: ExecutionTracker,
    seq: int,
    attempt: _Attempt,
    events: list[dict[str, Any]],
) -> Any:
    # Awaited in the frame the engine gives the coroutine (its own, in the
    # concurrent strategy), so that its emits are staged there.
    frame = CURRENT_FRAME.get()
    assert isinstance(frame, DeliveryFrame)
    tracking = TrackingFrame(frame)
    tracking.events = events  # Those emitted before the handler's first await.
    token = CURRENT_FRAME.set(tracking)
    try:
        result = await awaitable
    except BaseException as exc:
        record = attempt.record
        _failed_after_end(frame, tracker, seq, record["routine_id"], record["params"], exc)
        raise
    finally:
        CURRENT_FRAME.reset(token)
    tracker._succeeded(seq, attempt, events)
    return result


def _failed_after_end(
    frame: DeliveryFrame,
    tracker: ExecutionTracker,
    seq: int,
    routine_id: str,
    data: Any,
    exc: BaseException,
) -> None:
    """End the record of an attempt that raised after its job ended (no policy will)."""
    if frame.run.ended:
        tracker._failed(seq, routine_id, data, "failed", exception_text(exc))


class TrackedTarget(Target):
    """A target whose deliveries are recorded in the job's tracker."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deliver = partial(_tracked_call, self, self.deliver)

    def deliver_reporting(
        self, data: Mapping[str, Any], merged: Callable[[Callable[[], None]], None]
    ) -> Any:
        """As :meth:`Target.deliver_reporting`, recorded in the job's tracker."""
        return _tracked_call(self, self.slot.deliver_reporting, data, merged)

    def deliver_through(
        self, data: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Any]
    ) -> Any:
        """As :meth:`Target.deliver_through`, recorded in the job's tracker."""
        return _tracked_call(self, self.slot.deliver_through, data, call)


class TrackedPlan(FlowPlan):
    """The plan of a flow that tracks its jobs: each job's run gets a tracker."""

    target_class = TrackedTarget

    def tracker_for(self, job: JobState) -> ExecutionTracker:
        """``job``'s tracker: the one it has (a resumed job), else a new one."""
        tracker = job.execution_tracker
        if tracker is None:
            tracker = job.execution_tracker = ExecutionTracker(job.flow_id)
        return tracker
