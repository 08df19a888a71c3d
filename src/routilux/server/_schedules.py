"""The cron schedules of the service's store: listed, added for a served flow, removed.

Schedules are kept in a PostgreSQL store and fired by the workers
(``routilux worker``; see :mod:`routilux.schedules`); the service only
edits them. A schedule is added for a flow this service serves, so its
entry is checked against the flow.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from routilux import DefinitionError, Flow
from routilux.flow_files import entry_routine
from routilux.schedules import Schedule, add_schedule, list_schedules, next_tick, remove_schedule
from routilux.server._problems import bad_request, conflict, not_found
from routilux.stores import JobStore

__all__ = ["ServedSchedules", "schedule_view"]


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def schedule_view(schedule: Schedule) -> dict[str, Any]:
    """A schedule as the API shows it: its fields, its last and next tick in ISO-8601."""
    return {
        "schedule_id": schedule.schedule_id,
        "flow_id": schedule.flow_id,
        "cron": schedule.cron,
        "entry": schedule.entry,
        "params": dict(schedule.params),
        "queue": schedule.queue,
        "missed": schedule.missed,
        "last_tick": _iso(schedule.last_tick),
        "next_tick": _iso(next_tick(schedule, time.time())),
    }


class ServedSchedules:
    """List, add and remove the schedules of ``store`` (409 if it cannot keep any)."""

    def __init__(self, store: JobStore, flows: Mapping[str, Flow]) -> None:
        self.store = store
        self.flows = flows

    def _refused(self, exc: DefinitionError) -> Exception:
        """409 for a store without schedules: the request is fine, the service's store is not."""
        return conflict(str(exc))

    def list(self) -> list[Schedule]:
        try:
            return list_schedules(self.store)
        except DefinitionError as exc:
            raise self._refused(exc) from None

    def add(self, flow_id: str, body: Mapping[str, Any]) -> Schedule:
        flow = self.flows.get(flow_id)
        if flow is None:
            raise not_found(f"No flow {flow_id!r} is served here.")
        known = {schedule.schedule_id for schedule in self.list()}  # 409 if no schedules.
        if body.get("schedule_id") in known:
            raise conflict(f"The store already has a schedule {body['schedule_id']!r}.")
        try:
            entry = entry_routine(flow, body.get("entry"), option="entry")
            if "trigger" not in flow.routines[entry].slots:
                raise DefinitionError(
                    f"entry: routine {entry!r} has no 'trigger' slot to start the jobs."
                )
            return add_schedule(
                self.store,
                flow_id,
                body["cron"],
                entry=entry,
                params=body.get("params") or {},
                queue=body.get("queue") or "default",
                missed=body.get("missed") or "skip",
                schedule_id=body.get("schedule_id"),
            )
        except (DefinitionError, ImportError) as exc:
            raise bad_request(str(exc)) from None

    def remove(self, schedule_id: str) -> None:
        self.list()
        if not remove_schedule(self.store, schedule_id):
            raise not_found(f"The store has no schedule {schedule_id!r}.")
