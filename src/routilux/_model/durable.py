"""What the engine hands to a job store: deliveries, dead letters, checkpoints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from routilux._model.records import ErrorRecord

__all__ = [
    "Checkpoint",
    "CheckpointMarks",
    "DeadLetter",
    "JobSummary",
    "StoredDelivery",
    "StoredJob",
    "StoredLogRecord",
]

#: A history record as the job keeps it: routine id, event name, data, time.
HistoryRecord = tuple[str, str, dict[str, Any], float]


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A delivery waiting to run, as a store keeps it.

    Attributes:
        seq: The delivery's number within its job (its id is ``"{job_id}:{seq}"``).
        routine_id: The receiving routine's id in the flow.
        slot: The receiving slot's name.
        data: The message.
        attempt: The attempt it will be (1 unless it is a retry).
        not_before: Wall-clock time (seconds since the epoch) before which it
            must not run; 0 when it is ready.
        hops: How many deliveries led to it (0 for the job's entry
            delivery), so that a resumed job still tells a runaway cycle.
        context: What is propagated with the delivery (a W3C trace
            context, say: see ``routilux.hooks.Tracer``), text to text;
            opaque to the store, which keeps it as given (``None``: none).
    """

    seq: int
    routine_id: str
    slot: str
    data: dict[str, Any]
    attempt: int = 1
    not_before: float = 0.0
    hops: int = 0
    context: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that failed for good, kept with its message so it can be replayed.

    Attributes:
        letter_id: The failed delivery's id, ``"{job_id}:{seq}"``.
        job_id: The job it failed in.
        flow_id: That job's flow.
        routine_id: The routine whose handler failed.
        slot: The slot whose handler failed.
        data: The message.
        attempt: The last attempt made.
        error: The last failure.
        created_at: When it was dead-lettered (seconds since the epoch).
        replayed_by: The id of the job that replayed it, once replayed.
    """

    letter_id: str
    job_id: str
    flow_id: str
    routine_id: str
    slot: str
    data: dict[str, Any]
    attempt: int
    error: ErrorRecord
    created_at: float
    replayed_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The letter as a plain dict."""
        return asdict(self)


@dataclass(slots=True)
class Checkpoint:
    """Everything one finished delivery changed, for a store to commit at once.

    A store applies a checkpoint in one transaction: either all of it is
    durable, or none of it.

    Attributes:
        job_id: The job.
        status: The job's status after the delivery.
        updated_at: The job's ``updated_at``, ISO 8601.
        current_routine_id: The routine that ran.
        error: The job's ``error``.
        deliveries: How many deliveries the job has run.
        next_seq: The next delivery number the job will use.
        done: Deliveries that finished (removed from the pending ones).
        added: Deliveries scheduled (added, or replaced for a retry).
        history: Emitted events (and records of ``JobState.record_execution``):
            ``(routine_id, event_name, data, timestamp)``, the timestamp in
            seconds since the epoch.
        errors: New error records.
        dead_letters: New dead letters.
        shared_data: The whole shared data, if it changed; else ``None``.
        routine_states: The whole routine states (``JobState.routine_states``),
            if they changed; else ``None``.
        engine_states: What the engine keeps of the job's routines besides
            job values, as the job document's two fields
            ``{"routine_stats": ..., "timers": ...}``, if it changed; else
            ``None``.
        job_values: Job values set: ``(routine_id, key, value)``. A value
            set replaces the key's value and the items appended to it.
        job_value_items: Items appended to list job values:
            ``(routine_id, key, position, item)``, ``position`` being the
            item's index in the list. A key's list is its value set (``[]``
            if none) followed by its items in order of position.
        log_entries: Entries appended to the shared log.
        outputs: Entries appended to the output log (``JobState.output_log``).
        job_logs: Log records appended to the job's kept logs
            (``Flow(keep_logs=...)``; see :mod:`routilux.logs`), each a
            JSON-compatible dict, in the order they were made.
        deferred_events: The job's whole list of deferred events
            (``JobState.deferred_events``), if it changed; else ``None``.
        drop_pending: Whether every pending delivery of the job is dropped
            (the job was cancelled); a failed job keeps them for inspection.
        claim: The claim (fencing token) of the writer: the store refuses the
            checkpoint with :class:`~routilux.OwnershipLostError`, writing
            nothing, unless it is still the job's claim. ``None`` writes
            whatever the claim (for tools acting on a job nobody runs).
    """

    job_id: str
    status: str
    updated_at: str
    current_routine_id: str | None
    error: str | None
    deliveries: int
    next_seq: int
    done: list[int] = field(default_factory=list)
    added: list[StoredDelivery] = field(default_factory=list)
    history: list[tuple[str, str, dict[str, Any], float]] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    shared_data: dict[str, Any] | None = None
    routine_states: dict[str, dict[str, Any]] | None = None
    engine_states: dict[str, Any] | None = None
    job_values: list[tuple[str, str, Any]] = field(default_factory=list)
    job_value_items: list[tuple[str, str, int, Any]] = field(default_factory=list)
    log_entries: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    job_logs: list[dict[str, Any]] = field(default_factory=list)
    deferred_events: list[dict[str, Any]] | None = None
    drop_pending: bool = False
    claim: int | None = None


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One line of a job listing.

    Attributes:
        job_id: The job.
        flow_id: Its flow.
        status: Its status value.
        created_at: ISO 8601.
        updated_at: ISO 8601.
        error: Why it failed, if it did.
        pending: How many deliveries wait.
        dead_letters: How many dead letters it has (replayed or not).
    """

    job_id: str
    flow_id: str
    status: str
    created_at: str
    updated_at: str
    error: str | None
    pending: int
    dead_letters: int


@dataclass(frozen=True, slots=True)
class StoredJob:
    """A job as loaded from a store, with what a resume needs.

    Attributes:
        document: The job as a JobState document (``JobState.deserialize`` reads it).
        pending: The deliveries that had not finished, in delivery order.
        deliveries: How many deliveries had run.
        next_seq: The next delivery number to use.
        flow_document: The flow's document saved with the job, if any.
        owner: The process that last claimed the job (``host:pid``), if recorded.
        claim: The job's claim (fencing token): 1 when created, one more at
            each claim (a resume, a cancel from the command line). A write
            carrying an older claim is refused.
        lease_expires_at: When the owner's lease expires, in seconds since the
            epoch on the store's clock; ``None`` if the owner holds no lease
            (a job of a store written before leases, or one nobody claimed).
        lease_remaining: Seconds the lease had left when the job was read,
            on the store's clock (negative once expired); ``None`` without a
            lease.
        job_log_count: How many log records the store keeps for the job
            (read them with ``JobStore.read_job_logs``).
    """

    document: dict[str, Any]
    pending: list[StoredDelivery]
    deliveries: int
    next_seq: int
    flow_document: dict[str, Any] | None
    owner: str | None
    claim: int = 0
    lease_expires_at: float | None = None
    # Changes as time passes: two loads of an unchanged job are still equal.
    lease_remaining: float | None = field(default=None, compare=False)
    job_log_count: int = 0

    @property
    def lease_live(self) -> bool:
        """Whether the owner's lease had not expired when the job was read."""
        return self.lease_remaining is not None and self.lease_remaining > 0


class StoredLogRecord(NamedTuple):
    """One log record a store keeps for a job, with its place among the job's records.

    Attributes:
        position: Its index among the job's records, from 0, in the order they
            were made: a reader that has read up to ``position`` goes on with
            ``read_job_logs(job_id, after=position + 1)``.
        record: The record, a JSON-compatible dict (see :mod:`routilux.logs`).
    """

    position: int
    record: dict[str, Any]


@dataclass(slots=True)
class CheckpointMarks:
    """What changed in a durable job since its last checkpoint.

    The job holds one (``JobState.checkpoint_marks``) and marks it as it
    changes; the engine reads and resets it when it writes a checkpoint. A
    job that no store keeps marks it all the same, and nothing reads it.

    Attributes:
        shared_dirty: ``shared_data`` changed.
        states_dirty: A routine state changed.
        deferred_dirty: ``deferred_events`` changed.
        log_saved: How many ``shared_log`` entries the store has.
        outputs_saved: How many ``output_log`` entries the store has.
        unsaved_records: The history records that handlers added themselves
            (``record_execution``) since the last checkpoint; ``None`` when
            the job is not durable (nothing collects them then).
        unsaved_logs: The log records kept (``Flow(keep_logs=...)``) since the
            last checkpoint, all of them, even those the job's bounded
            ``logs`` dropped already; ``None`` when the job is not durable.
    """

    shared_dirty: bool = False
    states_dirty: bool = False
    deferred_dirty: bool = False
    log_saved: int = 0
    outputs_saved: int = 0
    unsaved_records: list[HistoryRecord] | None = None
    unsaved_logs: list[dict[str, Any]] | None = None

    def saved_all(self, shared_log: int, output_log: int) -> None:
        """The store has everything up to these lengths of the logs, and every record."""
        self.log_saved = shared_log
        self.outputs_saved = output_log
        self.unsaved_records = []
        self.deferred_dirty = False
