"""Everything one app serves with: the store, the flows, the jobs, the events, the keys."""

from __future__ import annotations

from dataclasses import dataclass

from routilux import Flow
from routilux.server._events import EventHub
from routilux.server._jobs import ServedJobs
from routilux.server._limits import RateLimiter
from routilux.server._metrics import ServerMetrics
from routilux.server._tables import ServerTables
from routilux.stores import JobStore, MemoryStore, PostgresStore, SqliteStore

__all__ = ["Service", "store_kind"]


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
    hub: EventHub
    metrics: ServerMetrics
    tables: ServerTables
    auth: bool
    limiter: RateLimiter | None
    heartbeat: float
