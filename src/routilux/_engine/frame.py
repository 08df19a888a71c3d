"""The frame a handler runs in: where its emits are staged."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from routilux._engine.delivery import Delivery
from routilux._engine.timers import TimerOp
from routilux._model.context import ExecutionContext
from routilux.exceptions import ExecutionError

if TYPE_CHECKING:
    from routilux._engine.job_run import JobRun
    from routilux._engine.plan import Target
    from routilux._model.job_state import JobState
    from routilux._model.routine import Routine

__all__ = ["DeliveryFrame"]

_now = time.time
#: Builds a Delivery from a tuple at C speed (no Python-level ``__new__``).
_delivery = partial(tuple.__new__, Delivery)
_UNSET = object()


def _not_a_list(rid: str, key: str, value: Any) -> ExecutionError:
    return ExecutionError(
        f"append_job_value({key!r}) of routine {rid!r}: the job value {key!r} is "
        f"{type(value).__name__} {value!r}, not a list; set it to a list first."
    )


class DeliveryFrame:
    """Collects what one running handler emits.

    Emits are staged, not scheduled: the engine commits them when the
    handler returns and discards them when it raises, so a failed or
    retried delivery never leaves half of its output behind.

    Attributes:
        run: The job being run.
        target: The slot whose handler is running.
        seq: The number of the delivery running.
        hops: The hops of the delivery running (see ``Delivery``); what
            its handler emits or schedules is one hop further.
        staged: Deliveries emitted by the running handler, flat: five
            entries (target, data, sequence number, attempt, hops) per delivery,
            as the sequential strategy's ready queue keeps them (see
            :meth:`staged_items` for tuples).
        history: History records of the running handler's emits.
        later: Deliveries the running handler scheduled with a delay.
        values: Job values the running handler set, by routine id.
        appends: Items the running handler appended to list job values (after
            its last set of the key, if any), by routine id and key.
        timer_ops: Named timers the running handler set or cancelled.
        deferred: Deferred events of the running handler, ``(routine_id,
            event_name, data)``, added to the job when it succeeds.
        extra: Whether ``values``, ``timer_ops`` or ``deferred`` hold
            anything (one check on the hot path instead of three).
    """

    __slots__ = (
        "appends",
        "deferred",
        "extra",
        "history",
        "hops",
        "later",
        "record_history",
        "run",
        "seq",
        "staged",
        "target",
        "timer_ops",
        "values",
    )

    def __init__(self, run: JobRun, target: Target | None, record_history: bool) -> None:
        self.run = run
        # Set before every delivery; None only while the frame is idle.
        self.target: Target = target  # type: ignore[assignment]
        self.seq = 0
        self.hops = 0
        self.record_history = record_history
        self.staged: list[Any] = []
        self.history: list[Any] = []
        self.later: list[tuple[float, Delivery]] = []
        self.values: dict[str, dict[str, Any]] = {}
        self.appends: dict[str, dict[str, list[Any]]] = {}
        self.timer_ops: list[TimerOp] = []
        self.deferred: list[tuple[str, str, dict[str, Any]]] = []
        self.extra = False

    def emit(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Stage ``data`` for every slot connected to ``routine``'s event."""
        target = self.target
        if routine is target.routine:
            rid, out = target.routine_id, target.out
        else:
            rid, out = self.run.plan.lookup(routine)
        targets = out.get(event_name)
        if targets is None:
            targets = self.run.plan.unconnected(rid, routine, event_name)
        if self.record_history:
            self.history += (rid, event_name, data, _now())
        counter = self.run.counter
        staged = self.staged
        hops = self.hops + 1
        for t in targets:
            staged += (t, data if t.mapping is None else t.remap(data), next(counter), 1, hops)

    def staged_items(self) -> list[Delivery]:
        """The staged deliveries, one :class:`Delivery` each."""
        flat = iter(self.staged)
        return list(map(_delivery, zip(flat, flat, flat, flat, flat, strict=True)))

    def _routine_id(self, routine: Routine) -> str:
        target = self.target
        return target.routine_id if routine is target.routine else self.run.plan.lookup(routine)[0]

    def _own_item(self, rid: str, slot_name: str, data: dict[str, Any]) -> Delivery:
        target = self.run.plan.target(rid, slot_name)
        return Delivery(target, data, next(self.run.counter), 1, self.hops + 1)

    def send_to(self, routine: Routine, slot_name: str, data: dict[str, Any]) -> None:
        """Stage ``data`` for ``routine``'s slot ``slot_name``, ready as an emit's deliveries are.

        No connection is involved, so no mapping applies and no history is
        recorded; like an emit, it is discarded if the handler raises.
        """
        self.staged += self._own_item(self._routine_id(routine), slot_name, data)

    def deliver_later(
        self, routine: Routine, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        """Stage a delivery of ``data`` to ``routine``'s own slot, due after ``delay``."""
        self.later.append((delay, self._own_item(self._routine_id(routine), slot_name, data)))

    def set_timer(
        self, routine: Routine, name: str, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        """Stage the named timer ``name`` of ``routine`` (replacing one of that name)."""
        rid = self._routine_id(routine)
        self.timer_ops.append(TimerOp(rid, name, delay, self._own_item(rid, slot_name, data)))
        self.extra = True

    def cancel_timer(self, routine: Routine, name: str) -> None:
        """Stage the cancelling of the named timer ``name`` of ``routine``."""
        self.timer_ops.append(TimerOp(self._routine_id(routine), name))
        self.extra = True

    def defer(self, routine: Routine, event_name: str, data: dict[str, Any]) -> None:
        """Stage ``routine``'s deferred event, added to the job when the handler succeeds."""
        self.deferred.append((self._routine_id(routine), event_name, data))
        self.extra = True

    def get_value(self, routine: Routine, key: str, default: Any) -> Any:
        """``routine``'s job value ``key``, as this handler has staged it so far."""
        rid = self._routine_id(routine)
        staged = self.values.get(rid)
        if staged is not None and key in staged:
            return staged[key]
        kept = self._kept(rid, key)
        appended = self.appends.get(rid, {}).get(key)
        if appended is not None:
            return [*(kept if isinstance(kept, list) else []), *appended]
        return default if kept is _UNSET else kept

    def _kept(self, rid: str, key: str) -> Any:
        return self.run.job.engine_values.get(rid, {}).get(key, _UNSET)

    def set_value(self, routine: Routine, key: str, value: Any) -> None:
        """Stage ``routine``'s job value ``key`` (it replaces the items appended so far)."""
        rid = self._routine_id(routine)
        self.values.setdefault(rid, {})[key] = value
        self.appends.get(rid, {}).pop(key, None)
        self.extra = True

    def append_value(self, routine: Routine, key: str, item: Any) -> None:
        """Stage ``item`` appended to ``routine``'s list job value ``key``.

        Raises:
            ExecutionError: The key's value is not a list.
        """
        rid = self._routine_id(routine)
        staged = self.values.get(rid)
        if staged is not None and key in staged:
            base = staged[key]
            if not isinstance(base, list):
                raise _not_a_list(rid, key, base)
            staged[key] = [*base, item]  # Set in this handler: the set carries it.
        else:
            kept = self._kept(rid, key)
            if kept is not _UNSET and not isinstance(kept, list):
                raise _not_a_list(rid, key, kept)
            self.appends.setdefault(rid, {}).setdefault(key, []).append(item)
        self.extra = True

    def slot_name(self) -> str:
        """The slot whose handler is running."""
        return self.target.slot.name

    def adopt(self, other: DeliveryFrame) -> None:
        """Take what ``other`` (a frame of the same delivery) staged."""
        self.staged.extend(other.staged)
        self.history.extend(other.history)
        self.later.extend(other.later)
        for rid, values in other.values.items():
            self.values.setdefault(rid, {}).update(values)
            for key in values:
                self.appends.get(rid, {}).pop(key, None)
        for rid, keyed in other.appends.items():
            for key, items in keyed.items():
                staged = self.values.get(rid)
                if staged is not None and key in staged:
                    staged[key] = [*staged[key], *items]
                else:
                    self.appends.setdefault(rid, {}).setdefault(key, []).extend(items)
        self.timer_ops.extend(other.timer_ops)
        self.deferred.extend(other.deferred)
        self.extra = self.extra or other.extra
        other.clear()

    def clear(self) -> None:
        """Forget what the running handler staged (it failed)."""
        self.staged.clear()
        self.history.clear()
        self.later.clear()
        self.values.clear()
        self.appends.clear()
        self.timer_ops.clear()
        self.deferred.clear()
        self.extra = False

    def delivery_id(self) -> str:
        """The stable id of the delivery running in this frame."""
        return self.run.delivery_id(self.seq)

    def job(self) -> JobState:
        """The state of the job running."""
        return self.run.job

    def context_for(self, routine: Routine) -> ExecutionContext:
        """The execution context of ``routine`` in this job."""
        target = self.target
        rid = target.routine_id if routine is target.routine else self.run.plan.lookup(routine)[0]
        return ExecutionContext(self.run.port.flow, self.run.job, rid)
