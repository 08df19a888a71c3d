"""How a job's deliveries are run: the interface every strategy implements."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.job_run import JobRun
    from routilux._engine.plan import FlowPlan
    from routilux._engine.services import EngineServices
    from routilux._engine.settings import EngineSettings, FlowPort
    from routilux._model.job_state import JobState

__all__ = ["RunStrategy", "StrategyFactory"]


class RunStrategy(Protocol):
    """Where and in which order the deliveries of the jobs given to it run.

    One instance per engine and strategy name, made on first use by
    :func:`make_strategy`; it owns the threads only it needs (the
    concurrent strategy's worker pool) and shares the engine's
    :class:`~routilux._engine.services.EngineServices`. The engine holds
    each run's strategy and never asks which one it is.
    """

    def new_run(
        self,
        port: FlowPort,
        settings: EngineSettings,
        plan: FlowPlan,
        job: JobState,
        *,
        timeout: float | None,
    ) -> JobRun:
        """A run of ``job`` under this strategy (not started), timed out after ``timeout``."""

    def run_inline(self, run: JobRun, entry: Delivery) -> bool:
        """Run a new job to its end or pause on the calling thread, if this strategy does that.

        Returns:
            False if it does not (the engine then launches the job and waits).
        """

    def launch(self, run: JobRun, deliveries: list[tuple[Delivery, float]]) -> None:
        """Run ``deliveries`` (each with the delay before it may run) in the background."""

    def pause(self, run: JobRun) -> None:
        """Hold the run's deliveries not yet started (caller holds ``run.lock``)."""

    def resume(
        self, run: JobRun, deferred: list[Delivery], settings: EngineSettings
    ) -> Callable[[], None]:
        """Release a paused run, ``deferred`` first (caller holds ``run.lock``).

        Returns:
            What starts the deliveries again, called once the lock is released.
        """

    def cancelled(self, run: JobRun) -> None:
        """Clean up after ``run`` was cancelled (its lock released)."""

    def idle(self) -> bool:
        """Whether none of the deliveries this strategy runs is queued or running."""

    def shutdown(self, wait: bool) -> None:
        """Stop this strategy's own threads (started again on next use)."""


#: Makes a strategy for one engine from the engine's shared services.
StrategyFactory = Callable[["EngineServices"], RunStrategy]
