"""Writing a job's progress to its store: a checkpoint per delivery, or per batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from routilux._engine.job_values import ValueChanges
from routilux._engine.kept_logs import drop_saved_logs, storable_record, unsaved_logs
from routilux._model.durable import Checkpoint, DeadLetter, StoredDelivery
from routilux._model.ownership import DEFAULT_LEASE, process_owner
from routilux._model.records import ErrorRecord
from routilux._serde.values import encode_value, is_plain_json
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._engine.delivery import Delivery
    from routilux._engine.job_run import JobRun
    from routilux._model.job_state import JobState
    from routilux._model.store import JobStore

__all__ = ["Durability"]

logger = logging.getLogger("routilux")

#: With batches, how many delivery numbers past the highest one in use the
#: store is told are taken (see :meth:`Durability.cover`).
SEQ_RESERVE = 4096
#: The share of a lease, counted from when its renewal was sent, during which
#: the run takes it as held without asking the store. Past it (the renewal
#: thread fell behind: a stopped process, a long pause of the interpreter),
#: the run renews the lease itself before it starts another delivery.
LEASE_TRUST = 0.75


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

    Every write carries the run's ``claim`` (fencing token), which the store
    checks: once another process has claimed the job, the store refuses
    the write with :class:`~routilux.OwnershipLostError` and the run stops.
    The owner's lease is renewed by the engine's lease thread
    (:meth:`renew`); before each delivery the run checks, without asking
    the store, that the lease is still within :data:`LEASE_TRUST` of its
    length since the last renewal was sent, and renews it itself if not.
    """

    def __init__(
        self, store: JobStore, run: JobRun, *, every: int = 1, lease: float = DEFAULT_LEASE
    ) -> None:
        self.store = store
        self.run = run
        self.max_seq = 0
        self.every = every
        self.reserve = 0 if every == 1 else SEQ_RESERVE
        self._batch = _Batch()
        self.lease = lease
        self.claim = 1
        # On time.monotonic(): until when the lease is taken as held, and
        # when the lease thread renews it next.
        self.trusted_until = 0.0
        self.renew_at = 0.0
        # The shared data as the store has it (or as the batch will write it).
        self.saved_shared: dict[str, Any] = {}
        # Called once the run has ended (the engine's lease thread stops renewing).
        self.on_end: Callable[[], None] | None = None
        # How many of the job's unsaved records (JobState.record_execution)
        # the checkpoint being committed holds.
        self._records_taken = 0
        run.job.checkpoint_marks.unsaved_records = []
        # The same for the job's kept log records (JobState.keep_log).
        self._logs_taken = 0
        run.job.checkpoint_marks.unsaved_logs = []

    # -- ownership --------------------------------------------------------------

    def adopt(self, claim: int, sent: float) -> None:
        """Write as ``claim`` from now on; its lease was granted by a request sent at ``sent``."""
        self.claim = claim
        self._leased(sent)

    def _leased(self, sent: float) -> None:
        self.trusted_until = sent + self.lease * LEASE_TRUST
        self.renew_at = sent + self.lease / 3

    def lease_doubtful(self) -> bool:
        """Whether the lease must be renewed before another delivery starts."""
        return time.monotonic() >= self.trusted_until

    def renew(self) -> BaseException | None:
        """Renew the lease; return why it failed, if it did.

        An :class:`~routilux.OwnershipLostError` means another process owns
        the job now; anything else, that the store failed.
        """
        sent = time.monotonic()
        try:
            self.store.renew_lease(self.run.job.job_id, claim=self.claim, lease=self.lease)
        except Exception as exc:  # Any failure of the store's code: the caller decides.
            return exc
        self._leased(sent)
        return None

    def release(self) -> None:
        """Give the lease up now, so that another process may resume the job at once."""
        try:
            self.store.release_job(self.run.job.job_id, claim=self.claim)
        except Exception as exc:  # Any failure of the store's code: the lease just expires.
            logger.warning(
                "Job %s: its lease could not be released (%s); it expires in at most %g s.",
                self.run.job.job_id,
                exc,
                self.lease,
            )

    # -- the job's start --------------------------------------------------------

    def create(self, entries: Sequence[Delivery], flow_document: dict[str, Any] | None) -> None:
        """Record the new job with its first deliveries."""
        pending = [self._stored(item) for item in entries]
        self.max_seq = max((item.seq for item in entries), default=0) + self.reserve
        sent = time.monotonic()
        self.store.create_job(
            self.run.job.serialize(),
            pending=pending,
            next_seq=self.max_seq + 1,
            flow_document=flow_document,
            owner=process_owner(),
            lease=self.lease,
        )
        self.adopt(1, sent)
        job = self.run.job  # Everything is in the document just written,
        job.checkpoint_marks.saved_all(len(job.shared_log), len(job.output_log))
        # but log records, which documents do not carry: the first checkpoint writes them.
        job.checkpoint_marks.unsaved_logs = job.logs
        self.saved_shared = dict(self.run.job.shared_data)

    # -- deliveries -------------------------------------------------------------

    def delivered(
        self,
        item: Delivery,
        staged: Sequence[Delivery],
        history: Sequence[Any],
        later: Sequence[tuple[float, Delivery]] = (),
        *,
        cancelled: Sequence[int] = (),
        values: ValueChanges | None = None,
    ) -> None:
        """A delivery succeeded: it is done, its emits are pending, its events recorded.

        ``values`` are the job values the delivery set and the items it
        appended, already in the job's routine states; only they are
        written, not every job value again.

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
        top = max((item.seq, *(new.seq for new in staged), *(new.seq for _, new in later)))
        changes = values or ValueChanges()
        if self.every > 1:
            self._stage([item.seq, *cancelled], added, events, changes, top)
            return
        checkpoint = self._checkpoint(done=[item.seq, *cancelled], added=added)
        checkpoint.history += events
        checkpoint.job_values = changes.sets
        checkpoint.job_value_items = changes.items
        self._commit(checkpoint, top)

    def _stage(
        self,
        done: list[int],
        added: list[StoredDelivery],
        events: list[tuple[str, str, dict[str, Any], float]],
        values: ValueChanges,
        top: int,
    ) -> None:
        """Add a successful delivery to the batch; commit the batch once it is full.

        Raises:
            SerializationError: Something the delivery wrote cannot be stored
                (nothing of it is in the batch).
            StoreError: The store failed.
        """
        job = self.run.job
        log = job.shared_log[job.checkpoint_marks.log_saved :]
        outputs = job.output_log[job.checkpoint_marks.outputs_saved :]
        records = list(job.checkpoint_marks.unsaved_records or ())
        events = [*records, *events]
        shared = dict(job.shared_data) if job.checkpoint_marks.shared_dirty else None
        _check_delivery(added, events, values, log, outputs, shared)
        logs = unsaved_logs(job)
        deferred = _take_deferred(job)
        batch = self._batch
        for seq in done:
            # Added in this batch: it never reaches the store. Deleting a seq
            # the store does not have does nothing, so it is deleted either way.
            batch.added.pop(seq, None)
            batch.done.append(seq)
        for delivery in added:
            batch.added[delivery.seq] = delivery
        batch.history += events
        batch.take_values(values.sets, values.items)
        batch.log += log
        job.checkpoint_marks.log_saved += len(log)
        batch.outputs += outputs
        job.checkpoint_marks.outputs_saved += len(outputs)
        if records and job.checkpoint_marks.unsaved_records is not None:
            del job.checkpoint_marks.unsaved_records[: len(records)]
        batch.job_logs += logs
        drop_saved_logs(job, len(logs))
        if shared is not None:
            batch.shared = self.saved_shared = shared
            job.checkpoint_marks.shared_dirty = False
        if deferred is not None:
            batch.deferred = deferred
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
        item: Delivery,
        record: ErrorRecord,
        *,
        retry: Delivery | None,
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
            checkpoint.done = [item.seq]
        if letter is not None:
            checkpoint.dead_letters = [letter]
        self._commit(checkpoint, 0)

    def status(
        self,
        *,
        drop_pending: bool = False,
        errors: Iterable[ErrorRecord] = (),
        final: tuple[str, str | None] | None = None,
        added: Sequence[Delivery] = (),
    ) -> None:
        """The job's status changed (it ended, paused or resumed).

        ``final`` is the status and error the job is about to end with,
        written before they are the job's own in memory: if the store
        refuses them, the job can end otherwise. ``added`` are deliveries
        made with the change (a resume's deferred events), ready to run.

        Raises:
            SerializationError: A shared value cannot be written.
            OwnershipLostError: Another process owns the job.
            StoreError: The store failed.
        """
        checkpoint = self._checkpoint(errors=list(errors))
        checkpoint.drop_pending = drop_pending
        if final is not None:
            checkpoint.status = final[0]
            checkpoint.error = final[1] if final[1] is not None else checkpoint.error
            checkpoint.updated_at = datetime.now(timezone.utc).isoformat()
        checkpoint.added = [self._stored(item) for item in added]
        self._commit(checkpoint, max((item.seq for item in added), default=0))

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
            engine_states=run.engine_state_snapshot(),
            claim=self.claim,
            **parts,
        )
        if job.checkpoint_marks.shared_dirty:
            checkpoint.shared_data = dict(job.shared_data)
        checkpoint.log_entries = job.shared_log[job.checkpoint_marks.log_saved :]
        checkpoint.outputs = job.output_log[job.checkpoint_marks.outputs_saved :]
        checkpoint.deferred_events = _take_deferred(job)
        records = job.checkpoint_marks.unsaved_records or ()
        # Recorded before the engine's events of a delivery (its handler ran first).
        checkpoint.history = list(records)
        self._records_taken = len(checkpoint.history)
        checkpoint.job_logs = unsaved_logs(job)
        self._logs_taken = len(checkpoint.job_logs)
        return checkpoint

    def _commit(self, checkpoint: Checkpoint, top: int) -> None:
        """Commit ``checkpoint`` with the batch before it; ``top``: the highest new seq."""
        if top > self.max_seq:
            checkpoint.next_seq = top + 1
        batch = self._batch
        logged, sent = len(checkpoint.log_entries), len(checkpoint.outputs)
        taken, logs_taken = self._records_taken, self._logs_taken
        if batch.deliveries:
            batch.merge_into(checkpoint)
        self.store.checkpoint(checkpoint)
        self._batch = _Batch()
        job = self.run.job
        self.max_seq = checkpoint.next_seq - 1
        if checkpoint.shared_data is not None:
            job.checkpoint_marks.shared_dirty = False
            self.saved_shared = checkpoint.shared_data
        job.checkpoint_marks.log_saved += logged
        job.checkpoint_marks.outputs_saved += sent
        if taken and job.checkpoint_marks.unsaved_records is not None:
            del job.checkpoint_marks.unsaved_records[:taken]
        drop_saved_logs(job, logs_taken)

    def drop_unstorable(self) -> list[str]:
        """Take out of the job what no store can write; return what was taken.

        A delivery whose checkpoint was refused for a value that cannot be
        stored fails under its policy; for the job to go on, what it left in
        the job's shared data, shared log, output log and recorded history
        must not be written by the next checkpoint either. A shared value
        that cannot be stored goes back to its value in the store (or goes,
        if the store has none that can be); an unsaved log entry or output
        that cannot be stored is dropped, and so is an unsaved record of
        ``record_execution`` (from the store: the job's history keeps it).
        """
        job = self.run.job
        dropped: list[str] = []
        with job.lock:
            for key, value in list(job.shared_data.items()):
                if _storable(value):
                    continue
                dropped.append(f"shared_data[{key!r}]")
                saved = self.saved_shared.get(key, _MISSING)
                if saved is _MISSING or not _storable(saved):
                    del job.shared_data[key]
                else:
                    job.shared_data[key] = saved
            unsaved_lists: list[tuple[list[Any], int, str]] = [
                (job.shared_log, job.checkpoint_marks.log_saved, "shared_log entries"),
                (job.output_log, job.checkpoint_marks.outputs_saved, "output_log entries"),
                (job.checkpoint_marks.unsaved_records or [], 0, "recorded history entries"),
                (job.deferred_events, 0, "deferred events"),
            ]
            for entries, start, what in unsaved_lists:
                unsaved = entries[start:]
                kept = [entry for entry in unsaved if _storable(entry)]
                if len(kept) != len(unsaved):
                    dropped.append(f"{len(unsaved) - len(kept)} {what}")
                    entries[start:] = kept
            unsaved = job.checkpoint_marks.unsaved_logs or []
            kept_logs = [entry for entry in unsaved if storable_record(entry)]
            if len(kept_logs) != len(unsaved):
                dropped.append(f"{len(unsaved) - len(kept_logs)} kept log records")
                unsaved[:] = kept_logs
            # The refused checkpoint may have held the whole list: the next writes it.
            job.checkpoint_marks.deferred_dirty = True
        return dropped

    def _stored(self, item: Delivery, not_before: float = 0.0) -> StoredDelivery:
        target, data, seq, attempt, hops = item
        hooks = self.run.hooks
        context = None if hooks is None else hooks.contexts.get(seq)
        return StoredDelivery(
            seq, target.routine_id, target.slot.name, data, attempt, not_before, hops, context
        )


@dataclass
class _Batch:
    """Successful deliveries waiting to be committed together."""

    deliveries: int = 0
    done: list[int] = field(default_factory=list)
    added: dict[int, StoredDelivery] = field(default_factory=dict)
    history: list[tuple[str, str, dict[str, Any], float]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    job_logs: list[dict[str, Any]] = field(default_factory=list)
    shared: dict[str, Any] | None = None
    deferred: list[dict[str, Any]] | None = None
    # Job values set, and items appended since, by (routine id, key).
    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    items: dict[tuple[str, str], list[tuple[str, str, int, Any]]] = field(default_factory=dict)

    def take_values(
        self, sets: Iterable[tuple[str, str, Any]], items: Iterable[tuple[str, str, int, Any]]
    ) -> None:
        """Add a delivery's job values; a value set replaces the key's items before it."""
        for routine_id, key, value in sets:
            # A list is copied: later deliveries of the batch append to the job's
            # list in place, and those items are written as items of their own.
            self.values[(routine_id, key)] = list(value) if isinstance(value, list) else value
            self.items.pop((routine_id, key), None)
        for entry in items:
            self.items.setdefault((entry[0], entry[1]), []).append(entry)

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
        checkpoint.outputs = [*self.outputs, *checkpoint.outputs]
        checkpoint.job_logs = [*self.job_logs, *checkpoint.job_logs]
        if checkpoint.shared_data is None:
            checkpoint.shared_data = self.shared
        if checkpoint.deferred_events is None:
            checkpoint.deferred_events = self.deferred
        if self.values or self.items:
            later = _Batch()
            later.values, later.items = self.values, self.items
            later.take_values(checkpoint.job_values, checkpoint.job_value_items)
            checkpoint.job_values = [(rid, key, v) for (rid, key), v in later.values.items()]
            checkpoint.job_value_items = [e for entries in later.items.values() for e in entries]


def _check_delivery(
    added: list[StoredDelivery],
    events: list[tuple[str, str, dict[str, Any], float]],
    values: ValueChanges,
    log: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    shared: dict[str, Any] | None,
) -> None:
    """Raise :class:`SerializationError` if anything a delivery wrote cannot be stored."""
    for delivery in added:
        _check_storable(delivery.data, f"a message to {delivery.routine_id!r}")
    for event in events:
        _check_storable(event[2], f"the data of event {event[1]!r} of {event[0]!r}")
    for routine_id, key, value in values.sets:
        _check_storable(value, f"the job value {key!r} of {routine_id!r}")
    for routine_id, key, _, value in values.items:
        _check_storable(value, f"an item of the job value {key!r} of {routine_id!r}")
    _check_storable(log, "shared_log")
    _check_storable(outputs, "output_log")
    if shared is not None:
        _check_storable(shared, "shared_data")


def _take_deferred(job: JobState) -> list[dict[str, Any]] | None:
    """The job's deferred events for a checkpoint, if they changed since the last one.

    Raises:
        SerializationError: One cannot be stored (the list stays to be written).
    """
    with job.lock:
        if not job.checkpoint_marks.deferred_dirty:
            return None
        deferred = list(job.deferred_events)
        _check_storable(deferred, "deferred_events")
        job.checkpoint_marks.deferred_dirty = False
        return deferred


_MISSING = object()


def _storable(value: Any) -> bool:
    try:
        _check_storable(value, "")
    except SerializationError:
        return False
    return True


def _check_storable(value: Any, where: str) -> None:
    """Raise :class:`SerializationError` if ``value`` cannot be written to a store."""
    if not is_plain_json(value):
        encode_value(value, where)
