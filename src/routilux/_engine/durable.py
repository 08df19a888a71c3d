"""Writing a job's progress to its store: a checkpoint per delivery, or per batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from routilux._engine.ownership import process_owner
from routilux._model.durable import Checkpoint, DeadLetter, StoredDelivery
from routilux._model.records import ErrorRecord
from routilux._serde.values import encode_value, is_plain_json

if TYPE_CHECKING:
    from routilux._engine.job_run import Item, JobRun
    from routilux.stores.protocol import JobStore

__all__ = ["Durability"]

logger = logging.getLogger("routilux")

#: With batches, how many delivery numbers past the highest one in use the
#: store is told are taken (see :meth:`Durability.cover`).
SEQ_RESERVE = 4096


class Durability:
    """Turns what happens in a job into store checkpoints.

    Each method builds one :class:`Checkpoint` and hands it to the store,
    which commits it in one transaction. The engine calls them with the
    job's lock held, after the handler returned and before the outcome is
    applied in memory, so the store never holds a state the job did not
    reach; if the process dies between the handler's return and the
    commit, the delivery runs again on resume (at least once).

    With ``every`` > 1 (``Flow(checkpoint_every=n)``), successful deliveries
    are gathered into a batch, and the batch is committed as one checkpoint
    once it holds ``every`` of them, or with the next failure or status
    change (a pause, the job's end), whichever comes first. Each delivery's
    values are still checked as it finishes, so one that cannot be stored
    fails by itself under its policy, as without batching. The store never
    holds a state the job did not reach; after a crash, the deliveries of
    the batch that was not committed run again.

    Delivery numbers (the ``n`` of a delivery id ``"{job_id}:{n}"``) are never
    given to two deliveries, even across a crash: the store's ``next_seq``
    is always above the number of every delivery that has started. With
    batches, deliveries may start whose numbers no commit has recorded yet,
    so the store is told that :data:`SEQ_RESERVE` more are taken, and the
    batch is committed early whenever a new delivery would go past them.
    After a crash, a resumed job numbers its new deliveries from there:
    one that a lost batch had caused runs again under a new id.
    """

    def __init__(self, store: JobStore, run: JobRun, *, every: int = 1) -> None:
        self.store = store
        self.run = run
        self.max_seq = 0
        self.every = every
        self.reserve = 0 if every == 1 else SEQ_RESERVE
        self._batch = _Batch()

    # -- the job's start --------------------------------------------------------

    def create(self, entries: Sequence[Item], flow_document: dict[str, Any] | None) -> None:
        """Record the new job with its first deliveries."""
        pending = [self._stored(item) for item in entries]
        self.max_seq = max((item[2] for item in entries), default=0) + self.reserve
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
        values: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """A delivery succeeded: it is done, its emits are pending, its events recorded.

        ``values`` are the job values the delivery set (routine id to keys
        and values), already in the job's routine states.

        Raises:
            SerializationError: A message or shared value cannot be written.
            StoreError: The store failed.
        """
        now = time.time()
        added = [self._stored(new) for new in staged]
        added += [self._stored(new, not_before=now + delay) for delay, new in later]
        events = [
            (history[i], history[i + 1], history[i + 2], history[i + 3])
            for i in range(0, len(history), 4)
        ]
        top = max((item[2], *(new[2] for new in staged), *(new[2] for _, new in later)))
        if self.every > 1:
            self._stage([item[2], *cancelled], added, events, values or {}, top)
            return
        checkpoint = self._checkpoint(done=[item[2], *cancelled], added=added)
        checkpoint.history = events
        self._commit(checkpoint, top)

    def _stage(
        self,
        done: list[int],
        added: list[StoredDelivery],
        events: list[tuple[str, str, dict[str, Any], float]],
        values: Mapping[str, Mapping[str, Any]],
        top: int,
    ) -> None:
        """Add a successful delivery to the batch; commit the batch once it is full.

        Raises:
            SerializationError: Something the delivery wrote cannot be stored
                (nothing of it is in the batch).
            StoreError: The store failed.
        """
        job = self.run.job
        log = job.shared_log[job._log_saved :]
        shared = dict(job.shared_data) if job._shared_dirty else None
        for delivery in added:
            _check_storable(delivery.data, f"a message to {delivery.routine_id!r}")
        for event in events:
            _check_storable(event[2], f"the data of event {event[1]!r} of {event[0]!r}")
        for routine_id, kept in values.items():
            _check_storable(dict(kept), f"the job values of {routine_id!r}")
        _check_storable(log, "shared_log")
        if shared is not None:
            _check_storable(shared, "shared_data")
        batch = self._batch
        for seq in done:
            # Added in this batch: it never reaches the store. Deleting a seq
            # the store does not have does nothing, so it is deleted either way.
            batch.added.pop(seq, None)
            batch.done.append(seq)
        for delivery in added:
            batch.added[delivery.seq] = delivery
        batch.history += events
        batch.log += log
        job._log_saved += len(log)
        if shared is not None:
            batch.shared = shared
            job._shared_dirty = False
        batch.deliveries += 1
        if top > self.max_seq:
            # Past the numbers the store knows are taken: commit before any of
            # these deliveries starts, with a new reserve.
            self.max_seq = top + self.reserve
            self._commit(self._checkpoint(), 0)
        elif batch.deliveries >= self.every:
            self.flush()

    def cover(self, seq: int) -> None:
        """Make sure the store knows ``seq`` is taken before a delivery with it starts.

        For deliveries numbered outside a checkpoint (``on_drain`` rounds),
        with batches; without them, every started delivery's number is
        covered by a commit already.

        Raises:
            SerializationError: A value can no longer be stored.
            StoreError: The store failed.
        """
        if self.reserve and seq > self.max_seq:
            self.max_seq = seq + self.reserve
            self._commit(self._checkpoint(), 0)

    def flush(self) -> None:
        """Commit the batch of successful deliveries, if there is one.

        Raises:
            SerializationError: A value changed since its delivery and can no
                longer be stored.
            StoreError: The store failed.
        """
        if self._batch.deliveries:
            self._commit(self._checkpoint(), 0)

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
        self._commit(checkpoint, 0)

    def status(self, *, drop_pending: bool = False, errors: Iterable[ErrorRecord] = ()) -> None:
        """The job's status changed (it ended, paused or resumed).

        Raises:
            SerializationError: A shared value cannot be written.
            StoreError: The store failed.
        """
        checkpoint = self._checkpoint(errors=list(errors))
        checkpoint.drop_pending = drop_pending
        self._commit(checkpoint, 0)

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

    def _commit(self, checkpoint: Checkpoint, top: int) -> None:
        """Commit ``checkpoint`` with the batch before it; ``top``: the highest new seq."""
        if top > self.max_seq:
            checkpoint.next_seq = top + 1
        batch = self._batch
        logged = len(checkpoint.log_entries)
        if batch.deliveries:
            batch.merge_into(checkpoint)
        self.store.checkpoint(checkpoint)
        self._batch = _Batch()
        job = self.run.job
        self.max_seq = checkpoint.next_seq - 1
        if checkpoint.shared_data is not None:
            job._shared_dirty = False
        job._log_saved += logged

    def _stored(self, item: Item, not_before: float = 0.0) -> StoredDelivery:
        target, data, seq, attempt = item
        return StoredDelivery(seq, target.routine_id, target.slot.name, data, attempt, not_before)


@dataclass
class _Batch:
    """Successful deliveries waiting to be committed together."""

    deliveries: int = 0
    done: list[int] = field(default_factory=list)
    added: dict[int, StoredDelivery] = field(default_factory=dict)
    history: list[tuple[str, str, dict[str, Any], float]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, Any] | None = None

    def merge_into(self, checkpoint: Checkpoint) -> None:
        """Put the batch before what ``checkpoint`` holds, as if committed just before it."""
        # A cancelled job's pending deliveries are dropped: the batch's too.
        added = {} if checkpoint.drop_pending else dict(self.added)
        for seq in checkpoint.done:
            added.pop(seq, None)
        for delivery in checkpoint.added:
            added[delivery.seq] = delivery
        checkpoint.done = [*self.done, *checkpoint.done]
        checkpoint.added = list(added.values())
        checkpoint.history = [*self.history, *checkpoint.history]
        checkpoint.log_entries = [*self.log, *checkpoint.log_entries]
        if checkpoint.shared_data is None:
            checkpoint.shared_data = self.shared


def _check_storable(value: Any, where: str) -> None:
    """Raise :class:`SerializationError` if ``value`` cannot be written to a store."""
    if not is_plain_json(value):
        encode_value(value, where)
