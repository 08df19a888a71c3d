"""Everything one app serves with: the store, the flows, the jobs, the events, the keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from routilux import Flow
from routilux.hooks import Hooks
from routilux.server._events import EventHub
from routilux.server._jobs import ServedJobs
from routilux.server._limits import RateLimiter
from routilux.server._metrics import ServerMetrics
from routilux.server._schedules import ServedSchedules
from routilux.server._tables import ServerTables
from routilux.stores import JobStore, MemoryStore, PostgresStore, SqliteStore

__all__ = ["Service", "store_kind"]

logger = logging.getLogger("routilux.server")

#: How long stopping waits for each running job to pause.
PAUSE_TIMEOUT = 10.0


def store_kind(store: JobStore) -> str:
    """``sqlite``, ``postgres``, ``memory``, or the class name of another store."""
    kinds = {SqliteStore: "sqlite", PostgresStore: "postgres", MemoryStore: "memory"}
    for cls, kind in kinds.items():
        if isinstance(store, cls):
            return kind
    return type(store).__name__


@dataclass(eq=False, slots=True)
class Service:
    """The state of one app (``app.state.service``)."""

    store: JobStore
    flows: dict[str, Flow]
    jobs: ServedJobs
    schedules: ServedSchedules
    hub: EventHub
    metrics: ServerMetrics
    tables: ServerTables
    auth: bool
    limiter: RateLimiter | None
    heartbeat: float
    counting: Hooks

    def stop(self) -> None:
        """Pause the jobs still running here (resumable later) and end the open streams.

        The app's lifespan calls it when the server stops; the app still
        answers afterwards (a server may run its lifespan again).
        """
        for job_id in self.jobs.pause_for_stop(PAUSE_TIMEOUT):
            logger.warning("Job %s paused as the server stopped.", job_id)
        self.hub.close_all()

    def close(self) -> None:
        """:meth:`stop`, then detach the hooks from the flows and close the server's tables."""
        self.stop()
        for flow in self.flows.values():
            flow.remove_hooks(self.hub)
            flow.remove_hooks(self.counting)
        self.tables.close()
