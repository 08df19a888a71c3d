"""Writing a job's progress to its store: one checkpoint per delivery."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from routilux._engine.ownership import process_owner
from routilux._model.durable import Checkpoint, DeadLetter, StoredDelivery
from routilux._model.records import ErrorRecord

if TYPE_CHECKING:
    from routilux._engine.job_run import Item, JobRun
    from routilux.stores.protocol import JobStore

__all__ = ["Durability"]

logger = logging.getLogger("routilux")


class Durability:
    """Turns what happens in a job into store checkpoints.

    Each method builds one :class:`Checkpoint` and hands it to the store,
    which commits it in one transaction. The engine calls them with the
    job's lock held, after the handler returned and before the outcome is
    applied in memory, so the store never holds a state the job did not
    reach; if the process dies between the handler's return and the
    commit, the delivery runs again on resume (at least once).
    """

    def __init__(self, store: JobStore, run: JobRun) -> None:
        self.store = store
        self.run = run
        self.max_seq = 0

    # -- the job's start --------------------------------------------------------

    def create(self, entries: Sequence[Item], flow_document: dict[str, Any] | None) -> None:
        """Record the new job with its first deliveries."""
        pending = [self._stored(item) for item in entries]
        self.max_seq = max((item[2] for item in entries), default=0)
        self.store.create_job(
            self.run.job.serialize(),
            pending=pending,
            next_seq=self.max_seq + 1,
            flow_document=flow_document,
            owner=process_owner(),
        )
        self.run.job._log_saved = len(self.run.job.shared_log)

    # -- deliveries -------------------------------------------------------------

    def delivered(
        self,
        item: Item,
        staged: Sequence[Item],
        history: Sequence[Any],
        later: Sequence[tuple[float, Item]] = (),
        *,
        cancelled: Sequence[int] = (),
    ) -> None:
        """A delivery succeeded: it is done, its emits are pending, its events recorded.

        Raises:
            SerializationError: A message or shared value cannot be written.
            StoreError: The store failed.
        """
        now = time.time()
        added = [self._stored(new) for new in staged]
        added += [self._stored(new, not_before=now + delay) for delay, new in later]
        checkpoint = self._checkpoint(done=[item[2], *cancelled], added=added)
        checkpoint.history = [
            (history[i], history[i + 1], history[i + 2], history[i + 3])
            for i in range(0, len(history), 4)
        ]
        self._commit(checkpoint, [*staged, *(new for _, new in later)])

    def failed(
        self,
        item: Item,
        record: ErrorRecord,
        *,
        retry: Item | None,
        delay: float,
        letter: DeadLetter | None,
    ) -> None:
        """A delivery failed: record the error, and either its retry or its dead letter.

        Raises:
            SerializationError: A shared value cannot be written.
            StoreError: The store failed.
        """
        checkpoint = self._checkpoint(errors=[record])
        if retry is not None:
            checkpoint.added = [self._stored(retry, not_before=time.time() + delay)]
        else:
            checkpoint.done = [item[2]]
        if letter is not None:
            checkpoint.dead_letters = [letter]
        self._commit(checkpoint, ())

    def status(self, *, drop_pending: bool = False, errors: Iterable[ErrorRecord] = ()) -> None:
        """The job's status changed (it ended, paused or resumed).

        Raises:
            SerializationError: A shared value cannot be written.
            StoreError: The store failed.
        """
        checkpoint = self._checkpoint(errors=list(errors))
        checkpoint.drop_pending = drop_pending
        self._commit(checkpoint, ())

    # -- building and committing ------------------------------------------------

    def _checkpoint(self, **parts: Any) -> Checkpoint:
        run, job = self.run, self.run.job
        checkpoint = Checkpoint(
            job_id=job.job_id,
            status=job.status.value,
            updated_at=job.updated_at.isoformat(),
            current_routine_id=job.current_routine_id,
            error=job.error,
            deliveries=run.deliveries,
            next_seq=self.max_seq + 1,
            routine_states=run.routine_state_snapshot(),
            **parts,
        )
        if job._shared_dirty:
            checkpoint.shared_data = dict(job.shared_data)
        checkpoint.log_entries = job.shared_log[job._log_saved :]
        return checkpoint

    def _commit(self, checkpoint: Checkpoint, staged: Sequence[Item]) -> None:
        top = max((item[2] for item in staged), default=0)
        if top > self.max_seq:
            checkpoint.next_seq = top + 1
        self.store.checkpoint(checkpoint)
        job = self.run.job
        self.max_seq = checkpoint.next_seq - 1
        if checkpoint.shared_data is not None:
            job._shared_dirty = False
        job._log_saved += len(checkpoint.log_entries)

    def _stored(self, item: Item, not_before: float = 0.0) -> StoredDelivery:
        target, data, seq, attempt = item
        return StoredDelivery(seq, target.routine_id, target.slot.name, data, attempt, not_before)
