"""The job queue of a PostgreSQL store: Procrastinate's tables, in the store's own schema.

Workers (``routilux.workers``) take jobs from a Procrastinate queue. Its
tables and functions live in the store's schema, beside the store's own
tables, so that two stores in one database have two queues; every
connection that uses the queue has the store's schema as its
``search_path`` (Procrastinate names its objects without a schema).

The queue's schema is applied on first use (the first submit, or a
worker's start), under an advisory lock, and only if its table is missing:
applying it is idempotent, and a store that never hands jobs to workers
never needs Procrastinate installed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from routilux._install import install_command
from routilux._model.queueing import Submission

__all__ = [
    "RUN_TASK",
    "defer_job",
    "ensure_queue_schema",
    "import_procrastinate",
    "search_path",
]

#: The name of the one Procrastinate task: run the routilux job ``job_id``.
RUN_TASK = "routilux.run_job"


def import_procrastinate() -> ModuleType:
    """The procrastinate package.

    Raises:
        ImportError: It is not installed; the message names the extra.
    """
    try:
        import procrastinate
    except ImportError as exc:
        raise ImportError(
            f"Workers and submitted jobs need Procrastinate: {install_command('workers')}."
        ) from exc
    return procrastinate


def search_path(schema: str) -> str:
    """The ``options`` of a connection whose unqualified names are those of ``schema``."""
    return f'-c search_path="{schema}"'


def ensure_queue_schema(conn: Any, schema: str) -> bool:
    """Create the queue's tables in ``schema`` unless they are there; return whether it did.

    Runs in a transaction of its own on ``conn`` (an autocommit psycopg
    connection), holding an advisory lock so that two processes starting
    at once do not both create it.
    """
    import_procrastinate()
    from procrastinate.schema import SchemaManager

    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"routilux-queue:{schema}",))
        cur.execute("SELECT to_regclass(%s)", (f'"{schema}".procrastinate_jobs',))
        if cur.fetchone()[0] is not None:
            return False
        cur.execute(f'SET LOCAL search_path TO "{schema}"')
        cur.execute(SchemaManager.get_schema())
    return True


def defer_job(conn: Any, schema: str, submission: Submission) -> None:
    """Put a queue entry for the submitted job, in the transaction open on ``conn``."""
    procrastinate = import_procrastinate()
    with conn.cursor() as cur:
        cur.execute(f'SET LOCAL search_path TO "{schema}"')
    app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
    deferrer = app.configure_task(RUN_TASK, queue=submission.queue, connection=conn)
    deferrer.defer(job_id=submission.job_id)
