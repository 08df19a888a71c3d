"""The seam between submitting a job and the queue that carries it to a worker.

A store that can also enqueue (the PostgreSQL store, with the ``workers``
extra) records a new job and puts a queue entry naming it in one
transaction: a rollback leaves neither. The core builds the job; the store
only writes it and enqueues it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from routilux._model.durable import StoredDelivery
from routilux.exceptions import DefinitionError

__all__ = ["QUEUE_NAME", "QueueingStore", "Submission", "check_queue_name"]

#: The queue a job goes to when none is named.
QUEUE_NAME = "default"


@dataclass(frozen=True, slots=True)
class Submission:
    """A new job, ready to be recorded and enqueued.

    Attributes:
        document: The job's document (status ``pending``, no owner), with its
            ``queue``.
        pending: Its first delivery.
        next_seq: The number its next delivery gets.
        flow_document: The flow's document, if it could be written.
        queue: The queue that carries it to a worker.
    """

    document: dict[str, Any]
    pending: Sequence[StoredDelivery]
    next_seq: int
    flow_document: dict[str, Any] | None
    queue: str

    @property
    def job_id(self) -> str:
        """The job's id."""
        return str(self.document["job_id"])


@runtime_checkable
class QueueingStore(Protocol):
    """A job store that can also hand jobs to workers (see ``routilux.workers``)."""

    def submit_job(self, submission: Submission) -> bool:
        """Record the job and enqueue it for a worker, in one transaction.

        Returns:
            Whether the job is new: ``False`` when the store already had a
            job of that id (nothing is written or enqueued then).

        Raises:
            StoreError: The store or its queue failed; nothing is written.
            SerializationError: A value cannot be stored; nothing is written.
        """


def check_queue_name(queue: object) -> str:
    """``queue`` if it is a usable queue name.

    Raises:
        DefinitionError: It is not a non-empty string of at most 63
            printable characters.
    """
    if not isinstance(queue, str) or not queue or len(queue) > 63 or not queue.isprintable():
        raise DefinitionError(
            f"queue must be a non-empty string of at most 63 printable characters, not {queue!r}."
        )
    return queue
