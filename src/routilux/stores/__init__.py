"""Job stores: where durable jobs, their checkpoints and dead letters are kept.

* :class:`MemoryStore` — in memory, for tests and short-lived runs;
* :class:`SqliteStore` — one SQLite file, the embedded default;
* :class:`PostgresStore` — PostgreSQL, with the ``postgres`` extra (psycopg),
  installed from a clone: ``pip install -e "/path/to/routilux[postgres]"``.

Every store implements :class:`JobStore` and passes the same conformance suite.
The value types of the protocol (:class:`Checkpoint`, :class:`StoredJob`,
...) are here for tools and custom stores; :func:`process_owner`,
:func:`owner_is_alive` and :func:`check_claimable` tell which process a
stored job belongs to and whether this one may claim it.
"""

from routilux._model.durable import (
    Checkpoint,
    DeadLetter,
    JobSummary,
    StoredDelivery,
    StoredJob,
    StoredLogRecord,
)
from routilux._model.ownership import check_claimable, owner_is_alive, process_owner
from routilux._model.store import FINISHED_STATUSES, JobStore
from routilux.stores.memory import MemoryStore
from routilux.stores.postgres import PostgresStore
from routilux.stores.sqlite import SqliteStore

__all__ = [
    "FINISHED_STATUSES",
    "Checkpoint",
    "DeadLetter",
    "JobStore",
    "JobSummary",
    "MemoryStore",
    "PostgresStore",
    "SqliteStore",
    "StoredDelivery",
    "StoredJob",
    "StoredLogRecord",
    "check_claimable",
    "owner_is_alive",
    "process_owner",
]
