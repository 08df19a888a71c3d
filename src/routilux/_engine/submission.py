"""Building a job that a worker will run: ``flow.submit`` (see ``routilux.workers``).

A submitted job is recorded ``pending``, with no owner, its entry delivery
as its one pending delivery and its queue in its document, and is
enqueued in the same transaction; a worker then claims it and runs it
exactly as a resume from the store does. So a submitted job is, to
everything that reads a store, an unfinished job that no process runs
yet.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from routilux._engine.commit import ENTRY_SEQ
from routilux._model.durable import StoredDelivery
from routilux._model.job_state import JobState
from routilux._model.queueing import QueueingStore, Submission, check_queue_name
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._model.store import JobStore

__all__ = ["IDEMPOTENCY_NAMESPACE", "build_submission", "queueing_store", "submitted_job_id"]

#: The namespace of the job ids made from idempotency keys (``uuid5``).
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0e5f0e-8a5e-4d5e-9a6c-1d7d5e0f3c21")


def submitted_job_id(flow_id: str, idempotency_key: str | None) -> str | None:
    """The job id an idempotency key stands for, in ``flow_id``; ``None`` without a key.

    The same key of the same flow is always the same id, so a second
    submit finds the first job instead of making another.

    Raises:
        DefinitionError: The key is not a non-empty string.
    """
    if idempotency_key is None:
        return None
    if not isinstance(idempotency_key, str) or not idempotency_key:
        raise DefinitionError(
            f"idempotency_key must be a non-empty string, not {idempotency_key!r}."
        )
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{flow_id}\n{idempotency_key}"))


def queueing_store(store: JobStore | None) -> QueueingStore:
    """``store`` if it can hand jobs to workers.

    Raises:
        DefinitionError: There is no store, or it has no job queue.
    """
    if store is None:
        raise DefinitionError(
            "flow.submit needs a store that workers share: pass store=PostgresStore(...) "
            "or give the flow one (Flow(store=...))."
        )
    if not isinstance(store, QueueingStore):
        raise DefinitionError(
            f"{type(store).__name__} cannot hand jobs to workers: submitted jobs go through "
            "a job queue in PostgreSQL, which workers on other machines share. Use a "
            "PostgresStore (or run the job here with flow.execute or flow.start)."
        )
    return store


def build_submission(
    flow_id: str,
    routine_id: str,
    slot: str,
    params: dict[str, Any],
    *,
    queue: str,
    job_id: str | None,
    flow_document: dict[str, Any] | None,
) -> Submission:
    """The job to record and enqueue: ``pending``, its entry delivery waiting."""
    job = JobState(flow_id, job_id=job_id)
    document = job.serialize()
    document["queue"] = check_queue_name(queue)
    first = StoredDelivery(ENTRY_SEQ, routine_id, slot, params, 1, 0.0, 0)
    return Submission(document, [first], ENTRY_SEQ + 1, flow_document, queue)
