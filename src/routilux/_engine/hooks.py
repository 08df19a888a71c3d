"""Event hooks: objects told what the engine does with a job and its deliveries.

A flow with a hook registered (its own, or a global one) compiles a
:class:`HookedPlan`, whose targets wrap the delivery itself, as tracking
does (``tracking.py``): a flow with no hook pays nothing per delivery.

Every event goes through the run's :class:`HookDispatch`: it is queued in
the run's outbox, and the queue is drained, in order, by the thread that
queued it, once it holds the run's lock no more (the run's lock is then a
:class:`DispatchingLock`, which drains the outbox on release). So a hook is
never called inside the job's critical section, and may call the flow (pause,
cancel) itself. A hook that raises is logged on the ``routilux`` logger and
detached from the flow and from the global hooks: it is never called again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from routilux._engine import tracing
from routilux._engine.plan import FlowPlan, Target
from routilux._engine.tracking import TrackedPlan, TrackedTarget, _tracked_call
from routilux._model.context import CURRENT_FRAME
from routilux._model.hooks import (
    EVENT_METHODS,
    DeliveryEvent,
    EmitEvent,
    Hooks,
    JobEvent,
    Tracer,
)

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.job_run import JobRun
    from routilux._model.connection import Connection
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine

__all__ = [
    "HookDispatch",
    "HookRegistry",
    "HookedPlan",
    "HookedTrackedPlan",
    "add_global_hooks",
    "compile_plan",
    "hooks_wanted",
    "remove_global_hooks",
]

logger = logging.getLogger("routilux")


class HookRegistry:
    """A set of registered hooks objects (a flow's, or the process's)."""

    __slots__ = ("_hooks", "_lock", "listeners", "tracer")

    def __init__(self) -> None:
        self._hooks: tuple[Hooks, ...] = ()
        self._lock = threading.Lock()
        #: The registered hooks that override each method, by method name: an
        #: event no hook overrides is not even built.
        self.listeners: dict[str, tuple[Hooks, ...]] = {}
        #: The first registered :class:`Tracer`, if any.
        self.tracer: Tracer | None = None

    def add(self, hooks: Hooks) -> None:
        """Register ``hooks`` (once: adding it again changes nothing)."""
        if not isinstance(hooks, Hooks):
            raise TypeError(f"Expected a routilux.hooks.Hooks, got {type(hooks).__name__}.")
        with self._lock:
            if hooks not in self._hooks:
                self._set((*self._hooks, hooks))

    def remove(self, hooks: Hooks) -> None:
        """Unregister ``hooks``; nothing happens if it is not registered."""
        with self._lock:
            self._set(tuple(h for h in self._hooks if h is not hooks))

    def _set(self, hooks: tuple[Hooks, ...]) -> None:
        self._hooks = hooks
        self.listeners = {
            method: overriding
            for method in EVENT_METHODS
            if (overriding := tuple(h for h in hooks if _overrides(h, method)))
        }
        self.tracer = next((h for h in hooks if isinstance(h, Tracer)), None)

    def snapshot(self) -> tuple[Hooks, ...]:
        """The registered hooks, in registration order."""
        return self._hooks


def _overrides(hooks: Hooks, method: str) -> bool:
    return getattr(type(hooks), method) is not getattr(Hooks, method)


GLOBAL_HOOKS = HookRegistry()


def add_global_hooks(hooks: Hooks) -> None:
    """Observe the jobs of every flow of the process (those started afterwards)."""
    GLOBAL_HOOKS.add(hooks)


def remove_global_hooks(hooks: Hooks) -> None:
    """Stop observing with ``hooks`` registered by :func:`add_global_hooks`."""
    GLOBAL_HOOKS.remove(hooks)


class HookDispatch:
    """The hooks of one run: an outbox of events, drained outside the run's lock."""

    __slots__ = (
        "_draining",
        "_outbox",
        "attempts",
        "contexts",
        "failed",
        "flow_hooks",
        "job",
        "job_carrier",
        "tracer",
    )

    def __init__(self, flow_hooks: HookRegistry, job: JobState) -> None:
        self.flow_hooks = flow_hooks
        self.job = job
        #: The job's tracer (the flow's, else the global one), chosen for the whole run.
        self.tracer = flow_hooks.tracer or GLOBAL_HOOKS.tracer
        #: With a tracer: the context each delivery carries, by delivery number.
        self.contexts: dict[int, dict[str, str]] = {}
        #: With a tracer: the job's own context (what ``Tracer.job_begun`` returned).
        self.job_carrier: dict[str, str] | None = None
        # The attempt each retried delivery is at, by delivery number.
        self.attempts: dict[int, int] = {}
        # The attempts that failed, (number, attempt): a handler that ran past its
        # routine's timeout may return after its failure was told; it did not succeed.
        self.failed: set[tuple[int, int]] = set()
        self._outbox: deque[tuple[str, object]] = deque()
        self._draining = threading.RLock()

    def lock(self) -> threading.Lock:
        """The lock the run takes instead of a plain one: it drains on release."""
        # Typed as what it stands in for (threading.Condition accepts it).
        return cast("threading.Lock", DispatchingLock(self))

    def wants(self, method: str) -> bool:
        """Whether a registered hook overrides ``method`` (else its event is not built)."""
        return method in self.flow_hooks.listeners or method in GLOBAL_HOOKS.listeners

    def queue(self, method: str, event: object) -> None:
        """Queue ``event`` for each hook's ``method`` (any thread, lock held or not)."""
        self._outbox.append((method, event))

    def drain(self) -> None:
        """Call the hooks with every queued event, in order (caller holds no run lock)."""
        outbox = self._outbox
        if not outbox:
            return  # Another thread's event is drained by that thread.
        with self._draining:
            while outbox:
                method, event = outbox.popleft()
                listeners = self.flow_hooks.listeners.get(method, ())
                for hooks in listeners + GLOBAL_HOOKS.listeners.get(method, ()):
                    self._call(hooks, method, event)

    def _call(self, hooks: Hooks, method: str, event: object) -> None:
        try:
            getattr(hooks, method)(event)
        except Exception:  # The user's hook: it never fails the job.
            logger.exception(
                "Hook %r raised in %s for job %s; it is detached and will not be called again",
                hooks,
                method,
                self.job.job_id,
            )
            self.flow_hooks.remove(hooks)
            GLOBAL_HOOKS.remove(hooks)

    # -- events -----------------------------------------------------------------------

    def job_event(self, method: str, status: str | None = None) -> None:
        """Queue a job event (``job_started`` ...) with ``status``, else the job's status now."""
        if not self.wants(method):
            return
        job = self.job
        self.queue(method, JobEvent(job.job_id, job.flow_id, status or job.status.value, job.error))

    def delivery(self, method: str, target: Target, seq: int, attempt: int, **fields: Any) -> None:
        """Queue a delivery event of attempt ``attempt`` of delivery ``seq`` to ``target``."""
        if not self.wants(method):
            return
        job = self.job
        self.queue(
            method,
            DeliveryEvent(
                job.job_id,
                job.flow_id,
                target.routine_id,
                target.slot.name,
                f"{job.job_id}:{seq}",
                attempt,
                **fields,
            ),
        )

    def failure(
        self, item: Delivery, exc: BaseException, action: str, delay: float, *, letter: bool
    ) -> None:
        """Queue what the error policy decided for a failed delivery (caller holds the lock)."""
        target, _, seq, attempt, _ = item
        self.failed.add((seq, attempt))
        error = {"error_type": type(exc).__name__, "error": str(exc)}
        self.delivery("delivery_failed", target, seq, attempt, **error)
        if action == "retry":
            self.attempts[seq] = attempt + 1
            self.delivery("delivery_retried", target, seq, attempt, retry_delay=delay)
            return
        self.attempts.pop(seq, None)
        self.contexts.pop(seq, None)
        if action == "skip":
            self.delivery("delivery_skipped", target, seq, attempt, **error)
        if letter:
            self.delivery("delivery_dead_lettered", target, seq, attempt, **error)


class DispatchingLock:
    """A run's lock that drains the run's hook outbox each time it is released."""

    __slots__ = ("_dispatch", "_lock")

    def __init__(self, dispatch: HookDispatch) -> None:
        self._lock = threading.Lock()
        self._dispatch = dispatch

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock, as ``threading.Lock.acquire``."""
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Release the lock, then call the hooks with what was queued."""
        self._lock.release()
        self._dispatch.drain()

    def locked(self) -> bool:
        """Whether the lock is held."""
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class HookFrame:
    """The frame a hooked handler sees: the delivery's own, noting each emit."""

    __slots__ = ("emits", "frame")

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.emits: list[tuple[str, str, tuple[str, ...]]] = []

    def emit(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Stage the emit in the delivery's frame, and note it."""
        frame = self.frame
        frame.emit(routine, event_name, data)
        target = frame.target
        if routine is target.routine:
            rid, out = target.routine_id, target.out
        else:
            rid, out = frame.run.plan.lookup(routine)
        ids = tuple(dict.fromkeys(t.routine_id for t in out.get(event_name, ())))
        self.emits.append((rid, event_name, ids))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.frame, name)


class _Attempt(NamedTuple):
    """The attempt a hooked handler runs: its delivery's number, attempt, and start."""

    seq: int
    attempt: int
    start: float


def _hooked_call(target: Target, call: Callable[..., Any], data: Any, *rest: Any) -> Any:
    """Call ``call(data, *rest)`` (one delivery attempt), telling the run's hooks."""
    frame = CURRENT_FRAME.get()
    run: JobRun = frame.run  # type: ignore[union-attr]
    dispatch = run.hooks
    assert dispatch is not None  # A run of a hooked plan has one.
    seq = frame.seq  # type: ignore[union-attr]
    attempt = _Attempt(seq, dispatch.attempts.get(seq, 1), time.perf_counter())
    dispatch.delivery("delivery_started", target, seq, attempt.attempt)
    dispatch.drain()
    if dispatch.tracer is not None:
        return _traced_call(dispatch, frame, target, attempt, call, data, *rest)
    hooked = HookFrame(frame)
    token = CURRENT_FRAME.set(hooked)
    try:
        result = call(data, *rest)
    finally:
        CURRENT_FRAME.reset(token)
    if result is not None and isawaitable(result):
        return _hooked_await(result, target, attempt, hooked.emits)
    _succeeded(dispatch, target, attempt, hooked.emits)
    return result


def _traced_call(
    dispatch: HookDispatch,
    frame: Any,
    target: Target,
    attempt: _Attempt,
    call: Callable[..., Any],
    data: Any,
    *rest: Any,
) -> Any:
    """:func:`_hooked_call` of a run with a tracer: the attempt runs in the tracer's scope."""
    span = tracing.start_attempt(dispatch, target, attempt.seq, attempt.attempt)
    hooked = HookFrame(frame)
    token = CURRENT_FRAME.set(hooked)
    scope, carried = tracing.enter(dispatch, span)
    try:
        result = call(data, *rest)
    except BaseException as exc:
        tracing.leave(dispatch, scope, exc)
        duration = time.perf_counter() - attempt.start
        tracing.end_attempt(dispatch, frame, span, None, exc, duration)
        raise
    finally:
        CURRENT_FRAME.reset(token)
    tracing.leave(dispatch, scope)
    if result is not None and isawaitable(result):
        return _traced_await(result, target, attempt, hooked.emits, span)
    _traced_end(dispatch, frame, span, carried, attempt)
    _succeeded(dispatch, target, attempt, hooked.emits)
    return result


def _traced_end(
    dispatch: HookDispatch,
    frame: Any,
    span: Any,
    carried: dict[str, str] | None,
    attempt: _Attempt,
) -> None:
    """Tell the tracer the attempt returned (it may have been told failed: a timeout)."""
    told = (attempt.seq, attempt.attempt) in dispatch.failed
    duration = time.perf_counter() - attempt.start
    tracing.end_attempt(dispatch, frame, span, carried, None, duration, told_failed=told)


async def _traced_await(
    awaitable: Awaitable[Any],
    target: Target,
    attempt: _Attempt,
    emits: list[tuple[str, str, tuple[str, ...]]],
    span: Any,
) -> Any:
    frame = CURRENT_FRAME.get()
    dispatch: HookDispatch = frame.run.hooks  # type: ignore[union-attr]
    hooked = HookFrame(frame)
    hooked.emits = emits  # Those emitted before the handler's first await.
    token = CURRENT_FRAME.set(hooked)
    scope, carried = tracing.enter(dispatch, span)
    try:
        result = await awaitable
    except BaseException as exc:
        tracing.leave(dispatch, scope, exc)
        duration = time.perf_counter() - attempt.start
        tracing.end_attempt(dispatch, frame, span, None, exc, duration)
        raise
    finally:
        CURRENT_FRAME.reset(token)
    tracing.leave(dispatch, scope)
    _traced_end(dispatch, frame, span, carried, attempt)
    _succeeded(dispatch, target, attempt, emits)
    return result


async def _hooked_await(
    awaitable: Awaitable[Any],
    target: Target,
    attempt: _Attempt,
    emits: list[tuple[str, str, tuple[str, ...]]],
) -> Any:
    frame = CURRENT_FRAME.get()
    hooked = HookFrame(frame)
    hooked.emits = emits  # Those emitted before the handler's first await.
    token = CURRENT_FRAME.set(hooked)
    try:
        result = await awaitable
    finally:
        CURRENT_FRAME.reset(token)
    dispatch = frame.run.hooks  # type: ignore[union-attr]
    _succeeded(dispatch, target, attempt, emits)
    return result


def _succeeded(
    dispatch: HookDispatch,
    target: Target,
    attempt: _Attempt,
    emits: list[tuple[str, str, tuple[str, ...]]],
) -> None:
    """Tell the emits and the success of ``attempt``, unless it was told as failed."""
    duration = time.perf_counter() - attempt.start
    seq = attempt.seq
    if (seq, attempt.attempt) in dispatch.failed:
        return  # Timed out: the handler returned after its failure was told.
    job = dispatch.job
    delivery_id = f"{job.job_id}:{seq}"
    for rid, event_name, ids in emits if dispatch.wants("emitted") else ():
        dispatch.queue(
            "emitted", EmitEvent(job.job_id, job.flow_id, rid, event_name, ids, delivery_id)
        )
    dispatch.delivery("delivery_succeeded", target, seq, attempt.attempt, duration=duration)
    dispatch.drain()


class HookedTarget(Target):
    """A target whose deliveries are told to the run's hooks."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deliver = partial(_hooked_call, self, self.deliver)

    def deliver_reporting(
        self, data: Mapping[str, Any], merged: Callable[[Callable[[], None]], None]
    ) -> Any:
        """As :meth:`Target.deliver_reporting`, told to the run's hooks."""
        return _hooked_call(self, super().deliver_reporting, data, merged)

    def deliver_through(
        self, data: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Any]
    ) -> Any:
        """As :meth:`Target.deliver_through`, told to the run's hooks."""
        return _hooked_call(self, super().deliver_through, data, call)


class HookedTrackedTarget(TrackedTarget, HookedTarget):
    """A target both tracked (outside) and hooked (inside)."""

    __slots__ = ()

    def deliver_reporting(
        self, data: Mapping[str, Any], merged: Callable[[Callable[[], None]], None]
    ) -> Any:
        """As :meth:`Target.deliver_reporting`, tracked and told to the run's hooks."""
        return _tracked_call(self, partial(HookedTarget.deliver_reporting, self), data, merged)

    def deliver_through(
        self, data: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Any]
    ) -> Any:
        """As :meth:`Target.deliver_through`, tracked and told to the run's hooks."""
        return _tracked_call(self, partial(HookedTarget.deliver_through, self), data, call)


class HookedPlan(FlowPlan):
    """The plan of a flow with hooks: each job's run gets a :class:`HookDispatch`."""

    target_class = HookedTarget
    #: The flow's own hooks (set by :func:`compile_plan`).
    flow_hooks: HookRegistry

    def hooks_for(self, job: JobState) -> HookDispatch | None:
        """A dispatch of the flow's and the global hooks for ``job``'s run."""
        return HookDispatch(self.flow_hooks, job)


class HookedTrackedPlan(HookedPlan, TrackedPlan):
    """The plan of a flow with hooks that also tracks its jobs."""

    target_class = HookedTrackedTarget


def hooks_wanted(flow_hooks: HookRegistry) -> bool:
    """Whether a flow with ``flow_hooks`` must compile a hooked plan (one test per job)."""
    return bool(
        flow_hooks.listeners or flow_hooks.tracer or GLOBAL_HOOKS.listeners or GLOBAL_HOOKS.tracer
    )


def compile_plan(
    routines: Mapping[str, Routine],
    connections: Iterable[Connection],
    *,
    tracked: bool,
    flow_hooks: HookRegistry,
) -> FlowPlan:
    """The plan of a flow: hooked only if a hook is registered, tracked if asked."""
    if not hooks_wanted(flow_hooks):
        return (TrackedPlan if tracked else FlowPlan)(routines, connections)
    plan = (HookedTrackedPlan if tracked else HookedPlan)(routines, connections)
    plan.flow_hooks = flow_hooks
    return plan
