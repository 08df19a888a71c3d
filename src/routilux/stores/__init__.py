"""Job stores: where durable jobs, their checkpoints and dead letters are kept.

* :class:`MemoryStore` — in memory, for tests and short-lived runs;
* :class:`SqliteStore` — one SQLite file, the embedded default;
* :class:`PostgresStore` — PostgreSQL, with ``pip install "routilux[postgres]"``.

Every store implements :class:`JobStore` and passes the same conformance suite.
"""

from routilux.stores.memory import MemoryStore
from routilux.stores.postgres import PostgresStore
from routilux.stores.protocol import FINISHED_STATUSES, JobStore
from routilux.stores.sqlite import SqliteStore

__all__ = ["FINISHED_STATUSES", "JobStore", "MemoryStore", "PostgresStore", "SqliteStore"]
