"""Workers: run submitted jobs on any of several processes and machines.

``flow.submit(...)`` records a job ``pending`` in a PostgreSQL store and
enqueues it, in one transaction; ``routilux worker`` (or
:func:`run_worker`) processes, on any machine that reaches the database,
take jobs from the queue, claim them in the store and run them. The
queue is `Procrastinate <https://procrastinate.readthedocs.io>`_ (the
``workers`` extra), its tables in the store's schema. See
``docs/scaling.md``.

Example::

    job_id = flow.submit("numbers", {"up_to": 3}, store=PostgresStore(dsn))
    # elsewhere: routilux worker --store postgresql://... --flows-dir flows/
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routilux._flow import Flow
from routilux._model.queueing import check_queue_name
from routilux._model.store import JobStore
from routilux.workers._worker import WorkerSettings, run_worker

__all__ = ["WorkerSettings", "check_queue_name", "run_worker", "submit"]


def submit(
    flow: Flow,
    entry: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    queue: str = "default",
    idempotency_key: str | None = None,
    store: JobStore | None = None,
) -> str:
    """:meth:`Flow.submit <routilux.Flow.submit>`, as a function (for a service that holds flows).

    Returns:
        The job's id.
    """
    return flow.submit(entry, params, queue=queue, idempotency_key=idempotency_key, store=store)
