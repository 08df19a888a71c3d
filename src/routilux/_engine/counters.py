"""How many deliveries, failures and skips each routine had in one job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from routilux._model.records import RoutineStats

if TYPE_CHECKING:
    from routilux._engine.plan import FlowPlan
    from routilux._model.job_state import JobState

__all__ = ["RoutineCounters"]


class RoutineCounters:
    """Per-routine counters of one job, indexed by ``Target.index`` (one list each).

    Plain lists, so the hot path counts a delivery with one indexed add;
    they reach the job's ``routine_stats`` only when it pauses, ends or is
    checkpointed (:meth:`write_into`).

    Attributes:
        routine_ids: The flow's routine ids, in plan order.
        invocations: Deliveries started, by routine.
        failures: Deliveries whose failure the policy did not skip, by routine.
        skips: Failed deliveries the policy skipped, by routine.
    """

    __slots__ = ("failures", "invocations", "routine_ids", "skips")

    def __init__(self, plan: FlowPlan) -> None:
        self.routine_ids = list(plan.index)
        self.invocations = [0] * len(self.routine_ids)
        self.failures = [0] * len(self.routine_ids)
        self.skips = [0] * len(self.routine_ids)

    def write_into(self, job: JobState) -> None:
        """Copy the counters into ``job``'s routine stats (it ends, pauses, or is saved)."""
        ids, failures, skips = self.routine_ids, self.failures, self.skips
        stats = {
            ids[i]: RoutineStats(calls, failures[i], skips[i])
            for i, calls in enumerate(self.invocations)
            if calls
        }
        job.merge_routine_stats(stats)

    def seed_from(self, job: JobState) -> None:
        """Start from ``job``'s routine stats (a resumed job)."""
        for i, rid in enumerate(self.routine_ids):
            stats = job.routine_stats(rid)
            if stats is not None:
                self.invocations[i] = stats.deliveries
                self.failures[i] = stats.failures
                self.skips[i] = stats.skips

    def per_routine(self) -> dict[str, dict[str, int]]:
        """The counters of each routine that had a delivery (read without a lock)."""
        return {
            rid: {
                "deliveries": self.invocations[i],
                "failures": self.failures[i],
                "skips": self.skips[i],
            }
            for i, rid in enumerate(self.routine_ids)
            if self.invocations[i]
        }
