"""Telling a runaway job by its hops, and naming the cycle that drives it."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from routilux.exceptions import RunawayJobError

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.job_run import JobRun
    from routilux._engine.plan import FlowPlan, Target

__all__ = ["DEFAULT_MAX_HOPS", "cycle_through", "hops_exceeded"]

#: How many hops a delivery may be from its job's entry delivery by default
#: (``Flow(max_hops=...)``): far beyond any chain a flow is drawn with, and
#: reached in a fraction of a second by a cycle.
DEFAULT_MAX_HOPS = 10_000


def hops_exceeded(run: JobRun, emitter: Target, item: Delivery) -> RunawayJobError:
    """The error of a job whose routine ``emitter`` scheduled ``item``, past ``max_hops``."""
    target, hops = item.target, item.hops
    cycle = cycle_through(run.plan, emitter.routine_id, target.routine_id)
    if cycle:
        where = f"the flow has a cycle: {' -> '.join(repr(rid) for rid in cycle)}"
    else:
        where = (
            f"no connection leads from {target.routine_id!r} back to {emitter.routine_id!r}, "
            "so the chain of deliveries is longer than the limit"
        )
    return RunawayJobError(
        f"Job {run.job.job_id} of flow {run.job.flow_id!r} exceeded its limit of "
        f"{run.max_hops} hops: routine {emitter.routine_id!r} sent a delivery to "
        f"{target.routine_id!r}.{target.slot.name!r} at hop {hops}; {where}. Raise "
        "Flow(max_hops=...) if messages really travel that far.",
        routine_id=target.routine_id,
        slot_name=target.slot.name,
        job_id=run.job.job_id,
    )


def cycle_through(plan: FlowPlan, source: str, target: str) -> list[str]:
    """The shortest cycle of connections ``source -> target -> ... -> source``, or ``[]``.

    A delivery a routine schedules for itself (a timer) is a cycle of one:
    ``[source, source]``. Otherwise the cycle goes through the connection
    from ``source`` to ``target``, if ``target`` leads back to ``source``.
    """
    if source == target:
        return [source, source]
    before: dict[str, str] = {target: source}
    waiting = deque([target])
    while waiting:
        rid = waiting.popleft()
        for targets in plan.outgoing.get(rid, {}).values():
            for following in targets:
                nxt = following.routine_id
                if nxt in before:
                    continue
                before[nxt] = rid
                if nxt == source:
                    return _path(before, source, target)
                waiting.append(nxt)
    return []


def _path(before: dict[str, str], source: str, target: str) -> list[str]:
    """The cycle found by :func:`cycle_through`, from ``source`` round to it again."""
    path = [source]
    rid = before[source]
    while rid != target:
        path.append(rid)
        rid = before[rid]
    path += [target, source]
    path.reverse()
    return path
