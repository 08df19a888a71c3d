"""Schedules: a flow's job submitted to the workers at every tick of a cron expression.

A schedule is kept in a PostgreSQL store (``add_schedule``, or
``routilux schedule add``); every worker (``routilux worker``) runs a
:class:`Scheduler` that, about once a second, fires the ticks that are
due: it submits the schedule's job exactly as ``flow.submit`` does. Each
tick fires exactly once however many schedulers run: the tick is claimed
by inserting a ``(schedule, tick)`` row that is never deleted, in the
transaction that records the job and enqueues it.

Times are cron ticks in UTC, computed by `croniter
<https://github.com/pallets-eco/croniter>`_, against the scheduler's
clock (the wall clock, or a :class:`~routilux.testing.FakeClock` in
tests). Ticks that passed while no scheduler ran follow the schedule's
``missed`` policy: ``skip`` fires only the most recent one, ``catch-up``
fires each of them, oldest first (at most :data:`MAX_CATCH_UP`, the most
recent ones).

Example::

    add_schedule(store, "reports", "*/5 * * * *", params={"kind": "daily"})
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from routilux._engine.clock import Clock, SystemClock
from routilux._engine.submission import build_submission, submitted_job_id
from routilux._flow import Flow
from routilux._model.schedules import MAX_CATCH_UP, MISSED_POLICIES, Schedule
from routilux._model.store import JobStore
from routilux.exceptions import DefinitionError

__all__ = [
    "MAX_CATCH_UP",
    "MISSED_POLICIES",
    "Schedule",
    "Scheduler",
    "add_schedule",
    "due_ticks",
    "list_schedules",
    "next_tick",
    "remove_schedule",
]

logger = logging.getLogger("routilux.schedules")


def _croniter() -> Any:
    try:
        from croniter import croniter  # type: ignore[import-untyped]  # croniter has no types.
    except ImportError as exc:
        from routilux._install import install_command

        raise ImportError(f"Schedules need croniter: {install_command('workers')}.") from exc
    return croniter


def _schedules_of(store: JobStore) -> Any:
    """``store`` if it keeps schedules (a PostgreSQL store)."""
    if not callable(getattr(store, "add_schedule", None)):
        raise DefinitionError(
            f"{type(store).__name__} cannot keep schedules: schedules fire jobs for the "
            "workers, which share a PostgreSQL store. Use a PostgresStore."
        )
    return store


def add_schedule(
    store: JobStore,
    flow_id: str,
    cron: str,
    *,
    entry: str | None = None,
    params: Mapping[str, Any] | None = None,
    queue: str = "default",
    missed: str = "skip",
    schedule_id: str | None = None,
    start: float | None = None,
) -> Schedule:
    """Keep a new schedule in ``store``: a job of ``flow_id`` at every tick of ``cron``.

    Args:
        store: A PostgreSQL store (the workers').
        flow_id: The flow (the workers know it by this id).
        cron: A five-field cron expression, in UTC (``"*/5 * * * *"``).
        entry: The routine that starts each job (default: the flow's only
            one with a ``trigger`` slot).
        params: The data of each job's entry (plain JSON values).
        queue: The queue of its jobs.
        missed: ``"skip"`` or ``"catch-up"``: see the module's docstring.
        schedule_id: Its id (default: a new one).
        start: Only ticks after this time (seconds since the epoch) fire
            (default: now).

    Raises:
        DefinitionError: An argument is invalid (the cron expression, say),
            or the store cannot keep schedules.
        StoreError: A schedule of that id exists.
    """
    keeper = _schedules_of(store)
    if not isinstance(cron, str) or not _croniter().is_valid(cron):
        raise DefinitionError(f"{cron!r} is not a valid cron expression (such as '*/5 * * * *').")
    schedule = Schedule(
        schedule_id or uuid.uuid4().hex[:12],
        flow_id,
        cron,
        entry,
        dict(params or {}),
        queue,
        missed,
        time.time() if start is None else start,
    )
    keeper.add_schedule(schedule)
    return schedule


def list_schedules(store: JobStore) -> list[Schedule]:
    """The schedules ``store`` keeps, by id."""
    result: list[Schedule] = _schedules_of(store).list_schedules()
    return result


def remove_schedule(store: JobStore, schedule_id: str) -> bool:
    """Remove a schedule; return whether ``store`` had it. Jobs it fired are kept."""
    return bool(_schedules_of(store).remove_schedule(schedule_id))


def due_ticks(schedule: Schedule, now: float) -> list[float]:
    """The ticks of ``schedule`` to fire at ``now``, oldest first, under its ``missed`` policy."""
    croniter = _croniter()
    if schedule.missed == "skip":
        # The latest tick at or before now: ticks fall on whole seconds, and
        # get_prev is strictly before its start.
        latest = float(croniter(schedule.cron, _utc(math.floor(now) + 1)).get_prev(float))
        return [latest] if schedule.last_tick < latest <= now else []
    ticks: deque[float] = deque(maxlen=MAX_CATCH_UP)
    walker = croniter(schedule.cron, _utc(schedule.last_tick))
    tick = float(walker.get_next(float))
    while tick <= now:
        ticks.append(tick)
        tick = float(walker.get_next(float))
    return list(ticks)


def next_tick(schedule: Schedule, now: float) -> float:
    """The next tick of ``schedule`` a scheduler fires: after ``now`` and after its last tick."""
    after = max(schedule.last_tick, math.floor(now))
    return float(_croniter()(schedule.cron, _utc(after)).get_next(float))


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


class Scheduler:
    """Fires the due ticks of a store's schedules whose flows it knows.

    Args:
        store: The PostgreSQL store that keeps the schedules and the jobs.
        flows: The flows it may submit jobs of, by id (a worker's flows).
        clock: Its clock: the wall clock by default. With another clock
            (a :class:`~routilux.testing.FakeClock`), the time is ``epoch``
            plus how far that clock has moved since the scheduler was made.
        epoch: With ``clock``, the wall time it starts at (default: now).
    """

    def __init__(
        self,
        store: JobStore,
        flows: Iterable[Flow] | Mapping[str, Flow],
        *,
        clock: Clock | None = None,
        epoch: float | None = None,
    ) -> None:
        self.store = _schedules_of(store)
        items = flows.values() if isinstance(flows, Mapping) else flows
        self.flows = {flow.flow_id: flow for flow in items}
        self._now: Callable[[], float] = time.time
        if clock is not None and not isinstance(clock, SystemClock):
            origin, base = clock.monotonic(), time.time() if epoch is None else epoch
            self._now = lambda: base + clock.monotonic() - origin

    def now(self) -> float:
        """The scheduler's time, in seconds since the epoch."""
        return self._now()

    def fire_due(self) -> list[str]:
        """Fire every due tick of the schedules whose flows it knows; return the new jobs' ids."""
        now = self.now()
        fired: list[str] = []
        for schedule in self.store.list_schedules():
            flow = self.flows.get(schedule.flow_id)
            if flow is None:
                continue  # Another worker's flow.
            ticks = due_ticks(schedule, now)
            fired += [job for job in (self._fire(flow, schedule, t) for t in ticks) if job]
        return fired

    def _fire(self, flow: Flow, schedule: Schedule, tick: float) -> str | None:
        """Submit the tick's job unless another scheduler did; return its id if this one did."""
        key = f"schedule {schedule.schedule_id} {tick!r}"
        job_id = submitted_job_id(flow.flow_id, key)
        assert job_id is not None
        entry = schedule.entry or _only_entry(flow)
        routine = flow.routines.get(entry)
        if routine is None or "trigger" not in routine.slots:
            logger.warning(
                "schedule %s: flow %r has no entry %r", schedule.schedule_id, flow.flow_id, entry
            )
            self.store.pass_ticks(schedule.schedule_id, tick)
            return None
        submission = build_submission(
            flow.flow_id,
            entry,
            "trigger",
            dict(schedule.params),
            queue=schedule.queue,
            job_id=job_id,
            flow_document=flow.serialize(),
        )
        if self.store.fire_tick(schedule.schedule_id, tick, submission):
            return job_id
        return None


def _only_entry(flow: Flow) -> str:
    starts = [rid for rid, routine in flow.routines.items() if "trigger" in routine.slots]
    return starts[0] if len(starts) == 1 else ""
