"""The tools a routine's handlers use on their running job: job values and timers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from routilux._model.context import CURRENT_FRAME, Frame
from routilux.exceptions import DefinitionError, ExecutionError

if TYPE_CHECKING:
    from routilux._model.routine import Routine

__all__ = ["JobTools"]


class JobTools:
    """Per-job values, timers and delayed deliveries (a part of :class:`Routine`).

    Each works only while a flow runs one of the routine's handlers, and
    takes effect when that handler returns without raising.
    """

    _label: Callable[[], str]

    def _as_routine(self) -> Routine:
        return cast("Routine", self)  # JobTools is a base of Routine only.

    def deliver_later(self, delay: float, slot: str, **data: Any) -> None:
        """Deliver ``data`` to this routine's own slot ``slot`` after ``delay`` seconds.

        A timer of the job, on the flow's clock: like an emit, it is staged
        and only scheduled when the handler returns without raising; while
        it waits it keeps the job running; a durable job keeps it in its
        store, with what is left of the delay, across a resume. There is no
        cancel: a handler that no longer wants a timer ignores it when it
        fires (keep a token in a job value, say).

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: The routine has no slot ``slot``, or ``delay``
                is negative.
        """
        frame = self._frame_or_raise("deliver_later")
        frame.deliver_later(
            self._as_routine(), self._check_delay(delay, "deliver_later"), slot, data
        )

    def emit_deferred_event(self, event_name: str, **data: Any) -> None:
        """Emit the event ``event_name`` with ``data`` when the running job is resumed.

        Staged like an emit: if the handler returns without raising, the
        event is added to the job's deferred events
        (``job_state.add_deferred_event(routine_id, event_name, data)``).
        When ``flow.resume`` continues the paused job, before its pending
        deliveries, each deferred event is emitted as this routine's emit,
        through the flow's connections. A job that completes without being
        paused and resumed keeps them, and logs a warning.

        Raises:
            ExecutionError: Called outside of a running job (also a
                ``RuntimeError``).
            DefinitionError: The routine has no event ``event_name``.
        """
        frame = self._frame_or_raise("emit_deferred_event")
        routine = self._as_routine()
        if event_name not in routine._events:
            raise DefinitionError(routine.describe_missing("event", event_name))
        frame.defer(routine, event_name, data)

    # -- per-job values ---------------------------------------------------------

    def get_job_value(self, key: str, default: Any = None) -> Any:
        """A value this routine keeps for the running job (``default`` if unset).

        Unlike attributes, stats and config, which every job of the routine
        shares, job values belong to one job: kept with it (read them from
        outside with ``job_state.job_values(routine_id)``), saved with a
        durable job.
        Like emits, values set by a handler take effect when it returns:
        if it raises, none of them is kept (the handler itself reads what it
        has set so far).

        Raises:
            ExecutionError: Called outside of a running job.
        """
        return self._frame_or_raise("get_job_value").get_value(self._as_routine(), key, default)

    def set_job_value(self, key: str, value: Any) -> None:
        """Set a value this routine keeps for the running job; see :meth:`get_job_value`.

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: ``key`` is not a string.
        """
        self._frame_or_raise("set_job_value").set_value(
            self._as_routine(), self._check_key(key), value
        )

    def append_job_value(self, key: str, item: Any) -> None:
        """Append ``item`` to the list this routine keeps for the running job under ``key``.

        A key that is not set becomes a new list. Takes effect when the
        handler returns, as :meth:`set_job_value` does. For collecting
        items one message at a time, prefer it to setting a longer list:
        a durable job stores each appended item as one row of its own, so
        collecting ``n`` items costs time in proportion to ``n``, where
        setting the whole list again at every item costs ``n`` squared.

        Raises:
            ExecutionError: Called outside of a running job, or the key's
                value is not a list.
            DefinitionError: ``key`` is not a string.
        """
        self._frame_or_raise("append_job_value").append_value(
            self._as_routine(), self._check_key(key), item
        )

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise DefinitionError(
                f"{self._label()}: a job value's key must be a string, not {key!r}."
            )
        return key

    def set_timer(self, name: str, delay: float, slot: str, **data: Any) -> None:
        """Set the named timer ``name``: deliver ``data`` to the slot ``slot`` after ``delay``.

        Like :meth:`deliver_later`, but a routine has at most one pending
        timer of each name in a job: setting it again replaces the pending
        one, and :meth:`cancel_timer` drops it, so a timer that is no longer
        wanted does not keep the job running. Takes effect when the handler
        returns without raising.

        Raises:
            ExecutionError: Called outside of a running job.
            DefinitionError: The routine has no slot ``slot``, or ``delay``
                is negative.
        """
        frame = self._frame_or_raise("set_timer")
        frame.set_timer(self._as_routine(), name, self._check_delay(delay, "set_timer"), slot, data)

    def cancel_timer(self, name: str) -> None:
        """Cancel the named timer ``name`` of this routine in the running job, if set.

        Raises:
            ExecutionError: Called outside of a running job.
        """
        self._frame_or_raise("cancel_timer").cancel_timer(self._as_routine(), name)

    def _check_delay(self, delay: float, what: str) -> float:
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not delay >= 0:
            raise DefinitionError(
                f"{self._label()}: {what} needs a delay of zero or more seconds, not {delay!r}."
            )
        return float(delay)

    def _frame_or_raise(self, what: str) -> Frame:
        frame = CURRENT_FRAME.get()
        if frame is None:
            raise ExecutionError(
                f"{self._label()} called {what} outside of a job; it only works while a "
                "flow runs one of the routine's handlers."
            )
        return frame
