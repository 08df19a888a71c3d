"""A scheduled delivery, named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from routilux._engine.plan import Target

__all__ = ["Delivery"]


class Delivery(NamedTuple):
    """One message scheduled for one slot of one job.

    A tuple underneath, so it costs what the bare tuple it replaces cost; the
    sequential strategy's ready queue keeps its five fields flat instead (see
    ``sequential.ReadyQueue``), and ``DeliveryFrame.staged`` stages them so.

    Attributes:
        target: The slot it goes to.
        message: The data the slot's handler receives.
        seq: Its number in the job: ``"{job_id}:{seq}"`` is its delivery id.
        attempt: 1 for a first try, one more for each retry.
        hops: How many deliveries led to it: 0 for a job's entry delivery,
            the emitting delivery's plus one for what a handler emits or
            schedules (a retry keeps its delivery's).
    """

    target: Target
    message: dict[str, Any]
    seq: int
    attempt: int
    hops: int
