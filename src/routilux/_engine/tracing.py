"""Tracing: a :class:`~routilux.hooks.Tracer` around each delivery attempt, and carried contexts.

A run whose hooks include a tracer (``HookDispatch.tracer``) calls it
synchronously: :func:`begin` when the job starts or resumes in this
process, and :func:`start_attempt`, :func:`attempt_scope` and
:func:`end_attempt` around each handler call, on the handler's thread
(``hooks._hooked_call``). The context the tracer gives for an attempt is
carried by each delivery the attempt adds (``HookDispatch.contexts``, by
delivery number), and a durable run keeps it with the pending delivery in
its store (``durable.Durability``), so a job resumed in another process
goes on from it. A tracer that raises is logged; the job goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._model.hooks import Carrier, DeliveryEvent, JobEvent, Tracer

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.hooks import HookDispatch
    from routilux._engine.job_run import JobRun
    from routilux._engine.plan import Target

__all__ = ["adopt_contexts", "begin", "end_attempt", "enter", "leave", "start_attempt"]

logger = logging.getLogger("routilux")
_T = TypeVar("_T")


def _guarded(tracer: Tracer, call: Callable[..., _T], *args: Any) -> _T | None:
    """``call(*args)``; a tracer that raises is logged, and ``None`` returned."""
    try:
        return call(*args)
    except Exception:  # The user's tracer: it never fails the job.
        logger.exception("Tracer %r raised in %s; the job goes on", tracer, call.__name__)
        return None


def begin(run: JobRun, items: Iterable[Delivery], carrier: Carrier | None = None) -> None:
    """Tell the run's tracer, if any, that its job starts or resumes here.

    ``carrier`` is the job's context as kept (``None`` for a new job); each
    of ``items`` that carries no context of its own gets the job's.
    """
    dispatch = run.hooks
    if dispatch is None or dispatch.tracer is None:
        return
    tracer = dispatch.tracer
    job = run.job
    event = JobEvent(job.job_id, job.flow_id, job.status.value, None)
    if carrier is None:
        carrier = dispatch.job_carrier
    given = _guarded(tracer, tracer.job_begun, event, carrier, run.progress)
    dispatch.job_carrier = given = _checked(tracer, given)
    if given is not None:
        contexts = dispatch.contexts
        for item in items:
            contexts.setdefault(item.seq, given)


def adopt_contexts(
    run: JobRun, kept: Iterable[tuple[int, dict[str, str] | None]]
) -> dict[str, str] | None:
    """Give the run's deliveries the contexts a store kept (the first: the job's, if unset)."""
    dispatch = run.hooks
    first = None
    if dispatch is None or dispatch.tracer is None:
        return None
    for seq, carrier in kept:
        if carrier:
            dispatch.contexts[seq] = carrier
            first = first or carrier
    if dispatch.job_carrier is None:
        dispatch.job_carrier = first
    return first


def _checked(tracer: Tracer, carrier: object) -> dict[str, str] | None:
    """``carrier`` as a dict of text to text, or ``None`` (logged) if it is not one."""
    if not carrier:
        return None
    if isinstance(carrier, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) and _storable(k) and _storable(v)
        for k, v in carrier.items()
    ):
        return dict(carrier)
    logger.error(
        "Tracer %r gave a context that is not a dict of str to str a store can keep "
        "(no NUL character, no lone surrogate): %r",
        tracer,
        carrier,
    )
    return None


def _storable(text: str) -> bool:
    """Whether a store keeps ``text`` as it is (the stores' rule for text columns)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def start_attempt(dispatch: HookDispatch, target: Target, seq: int, attempt: int) -> Any:
    """Tell the tracer an attempt starts (on the handler's thread); its token."""
    tracer = dispatch.tracer
    assert tracer is not None
    job = dispatch.job
    event = DeliveryEvent(
        job.job_id, job.flow_id, target.routine_id, target.slot.name, f"{job.job_id}:{seq}", attempt
    )
    return _guarded(tracer, tracer.attempt_started, event, dispatch.contexts.get(seq))


def enter(dispatch: HookDispatch, token: Any) -> tuple[Any, dict[str, str] | None]:
    """Enter the tracer's scope of the attempt of ``token``.

    Returns:
        The scope entered (``None`` if none), for :func:`leave`, and the
        context the deliveries the attempt adds will carry.
    """
    tracer = dispatch.tracer
    assert tracer is not None
    scope = _guarded(tracer, tracer.attempt_scope, token)
    if scope is not None:
        try:
            scope.__enter__()
        except Exception:
            logger.exception("Tracer %r raised entering its scope; the job goes on", tracer)
            scope = None
    return scope, _checked(tracer, _guarded(tracer, tracer.carrier, token))


def leave(dispatch: HookDispatch, scope: Any, exc: BaseException | None = None) -> None:
    """Leave the ``scope`` :func:`enter` entered (``None``: nothing to leave)."""
    if scope is None:
        return
    try:
        if exc is None:
            scope.__exit__(None, None, None)
        else:
            scope.__exit__(type(exc), exc, exc.__traceback__)
    except Exception:
        logger.exception("Tracer %r raised leaving its scope; the job goes on", dispatch.tracer)


def end_attempt(
    dispatch: HookDispatch,
    frame: Any,
    token: Any,
    carried: dict[str, str] | None,
    error: BaseException | None,
    duration: float,
    told_failed: bool = False,
) -> None:
    """Tell the tracer the attempt ended; on success, pass its context to what it added.

    ``frame`` is the delivery's frame, still holding what the handler
    staged (the engine commits it after the call returns).
    """
    tracer = dispatch.tracer
    assert tracer is not None
    _guarded(tracer, tracer.attempt_ended, token, error, duration)
    if error is not None or told_failed:
        return
    contexts = dispatch.contexts
    contexts.pop(frame.seq, None)
    if carried is None:
        return
    for seq in _added(frame):
        contexts[seq] = carried


def _added(frame: Any) -> Iterator[int]:
    """The numbers of the deliveries a handler staged in ``frame``."""
    yield from frame.staged[2::5]  # Five entries per delivery: see DeliveryFrame.staged.
    for _, item in frame.later:
        yield item.seq
    for op in frame.timer_ops:
        if op.item is not None:
            yield op.item.seq
