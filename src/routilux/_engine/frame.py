"""The frame a handler runs in: where its emits are staged."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from routilux._model.context import ExecutionContext

if TYPE_CHECKING:
    from routilux._engine.job_run import Item, JobRun
    from routilux._engine.plan import Target
    from routilux._model.routine import Routine

__all__ = ["DeliveryFrame"]

_now = time.time


class DeliveryFrame:
    """Collects what one running handler emits.

    Emits are staged, not scheduled: the engine commits them when the
    handler returns and discards them when it raises, so a failed or
    retried delivery never leaves half of its output behind.

    Attributes:
        run: The job being run.
        target: The slot whose handler is running.
        seq: The number of the delivery running.
        staged: Deliveries emitted by the running handler.
        history: History records of the running handler's emits.
        later: Deliveries the running handler scheduled with a delay.
    """

    __slots__ = ("history", "later", "record_history", "run", "seq", "staged", "target")

    def __init__(self, run: JobRun, target: Target | None, record_history: bool) -> None:
        self.run = run
        # Set before every delivery; None only while the frame is idle.
        self.target: Target = target  # type: ignore[assignment]
        self.seq = 0
        self.record_history = record_history
        self.staged: list[Item] = []
        self.history: list[Any] = []
        self.later: list[tuple[float, Item]] = []

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
        append = self.staged.append
        for t in targets:
            append((t, data if t.mapping is None else t.remap(data), next(counter), 1))

    def deliver_later(
        self, routine: Routine, delay: float, slot_name: str, data: dict[str, Any]
    ) -> None:
        """Stage a delivery of ``data`` to ``routine``'s own slot, due after ``delay``."""
        target = self.target
        rid = target.routine_id if routine is target.routine else self.run.plan.lookup(routine)[0]
        own = self.run.plan.target(rid, slot_name)
        self.later.append((delay, (own, data, next(self.run.counter), 1)))

    def clear(self) -> None:
        """Forget what the running handler staged (it failed)."""
        self.staged.clear()
        self.history.clear()
        self.later.clear()

    def delivery_id(self) -> str:
        """The stable id of the delivery running in this frame."""
        return self.run.delivery_id(self.seq)

    def context_for(self, routine: Routine) -> ExecutionContext:
        """The execution context of ``routine`` in this job."""
        target = self.target
        rid = target.routine_id if routine is target.routine else self.run.plan.lookup(routine)[0]
        return ExecutionContext(self.run.flow, self.run.job, rid)
