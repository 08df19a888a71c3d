"""What the engine reads from the flow whose jobs it runs: its settings, and a port back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from routilux._engine.clock import Clock

if TYPE_CHECKING:
    from routilux._engine.plan import FlowPlan
    from routilux._flow import Flow
    from routilux._model.error_policy import ErrorHandler
    from routilux._model.job_state import JobState

__all__ = ["EngineSettings", "FlowPort"]


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The flow's settings, as a job reads them when it starts.

    A snapshot: the flow's attributes may change afterwards (as
    ``set_execution_strategy`` does), and only the jobs started later see
    that. The flow has validated every field.

    Attributes:
        flow_id: The flow's id.
        strategy: The name of the flow's strategy (``"sequential"``,
            ``"concurrent"``); a job may be given its own.
        max_workers: Threads of the concurrent strategy's pool.
        timeout: The flow's default job timeout in seconds (``None``: none).
        max_deliveries: Deliveries one job may run (``None``: no cap).
        max_hops: How far a delivery may be from its job's entry delivery.
        record_history: Whether jobs record their emitted events.
        history_limit: History records kept in memory (``None``: all).
        checkpoint_every: Deliveries of a durable job per checkpoint.
        max_async_in_flight: ``async def`` handlers run at once (``None``: no bound).
        lease_seconds: How long a durable job owner's lease lasts.
        clock: Where the engine reads time and waits.
        ray_address: The Ray cluster of the ``"ray"`` strategy (``None``: a
            local one, started on first use, or the one this process is
            connected to already).
    """

    flow_id: str
    strategy: str
    max_workers: int
    timeout: float | None
    max_deliveries: int | None
    max_hops: int
    record_history: bool
    history_limit: int | None
    checkpoint_every: int
    max_async_in_flight: int | None
    lease_seconds: float
    clock: Clock
    ray_address: str | None = None


class FlowPort(Protocol):
    """What the engine may ask of the flow whose jobs it runs (and nothing else)."""

    @property
    def flow(self) -> Flow:
        """The flow itself, as handlers see it (``ExecutionContext.flow``)."""

    def settings(self) -> EngineSettings:
        """The flow's settings now."""

    def plan(self) -> FlowPlan:
        """The flow's compiled plan (compiled again after the flow changed)."""

    def error_handler(self) -> ErrorHandler | None:
        """The flow-wide error policy now, for routines that have none."""

    def remember(self, job: JobState) -> None:
        """Keep ``job`` among the flow's jobs (``Flow.get_execution``)."""

    def remembers(self, job_id: str) -> bool:
        """Whether the flow still keeps the job ``job_id``."""

    def document_for(self, job_id: str) -> dict[str, Any] | None:
        """The flow's document to store with the durable job ``job_id``, if it can be written."""
