"""JobState: everything one job knows about itself."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from os import PathLike
from typing import TYPE_CHECKING, Any

from routilux._model.dual_method import ClassOrInstanceMethod
from routilux._model.durable import CheckpointMarks, DeadLetter, HistoryRecord
from routilux._model.job_deferred import JobDeferred
from routilux._model.job_logs import JobLogs
from routilux._model.job_output import JobOutput, OutputHandlerLike, check_text, copied
from routilux._model.job_routines import JobRoutines
from routilux._model.records import ErrorRecord, ExecutionRecord, PendingDelivery, RoutineStats
from routilux._model.status import JobStatus
from routilux.exceptions import DefinitionError, InvalidLogEntryError

if TYPE_CHECKING:
    from routilux.execution_tracker import ExecutionTracker

__all__ = ["JobState"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _job_from_document(
    cls: type[JobState], job: JobState | None, document: dict[str, Any]
) -> JobState:
    """Rebuild a job from :meth:`JobState.serialize`'s document.

    Called on the class (``JobState.deserialize(document)``), returns a new
    job. Called on a job (``job.deserialize(document)``), as the published
    routilux 0.10 documents, rebuilds into that job and returns it; the job
    must be new (``pending``, with no history), and is left unchanged if
    the document is refused. The job's output handler is kept.

    Raises:
        SerializationError: The document is malformed or of another version.
        DefinitionError: Called on a job that is not new.
    """
    from routilux._serde.job_state_doc import job_state_from_doc

    if job is None:
        return job_state_from_doc(cls, document)
    if job.status is not JobStatus.PENDING or job._history:
        raise DefinitionError(
            f"job.deserialize(document) rebuilds into a new job, but job {job.job_id} is "
            f"{job.status.value} with {len(job._history) // 4} history records; call "
            "JobState.deserialize(document) to get a new job instead."
        )
    job._adopt(job_state_from_doc(type(job), document))
    return job


#: What a job resumed from its store takes of the stored state (``JobState.resume_as``).
_STORED_FIELDS = (
    "flow_id",
    "created_at",
    "routine_states",
    "_routine_stats",
    "_job_values",
    "_timers",
    "_history",
    "shared_data",
    "shared_log",
    "output_log",
    "pause_points",
    "deferred_events",
    "errors",
    "dead_letters",
)


class JobState(JobOutput, JobDeferred, JobRoutines, JobLogs):
    """The state of one job: its status, history, shared data and errors.

    One is created per execution and returned by ``Flow.execute``. The
    engine updates it while the job runs; handlers reach it through
    ``self.get_execution_context().job_state``.

    Args:
        flow_id: The id of the flow that runs the job; ``""`` for a job made
            by hand (``JobState()``).
        job_id: The job's id; a new uuid4 string if omitted.

    Attributes:
        job_id: A uuid4 string.
        flow_id: The id of the flow that runs the job.
        status: A :class:`JobStatus`; prints as its bare value.
        created_at: When the job was created (UTC).
        updated_at: When the status last changed (UTC).
        current_routine_id: The routine whose handler ran last.
        routine_states: Per-routine state, by routine id: what handlers
            stored, and the ``status``, ``error`` and ``error_time`` of
            their outcomes (see :class:`JobRoutines`).
        execution_history: One :class:`ExecutionRecord` per emitted event, in
            order (a snapshot list, built on each access).
        shared_data: Data any handler of the job may read and write.
        shared_log: Entries handlers appended, each with a ``timestamp``.
        output_log: The outputs routines sent (:meth:`send_output`), in order.
        output_handler: Where outputs go as they are sent, or ``None``.
        errors: One :class:`ErrorRecord` per failure, in order.
        history_dropped: How many of the oldest history records were dropped
            to keep within the flow's ``history_limit``.
        dead_letters: Deliveries that failed for good, with their messages
            (:class:`DeadLetter`), so they can be inspected and replayed.
        error: Why the job failed or was cancelled, if it did.
        pending_deliveries: Deliveries not yet run when the job stopped.
        pause_points: One dict per pause that ``Flow.pause`` made:
            ``timestamp`` (ISO-8601, UTC), ``reason``, ``checkpoint``,
            ``current_routine_id`` and ``pending_count``.
        deferred_events: Events to emit when the job is resumed
            (:meth:`add_deferred_event`), oldest first.
        logs: The records its handlers logged, when its flow has
            ``keep_logs`` on (see :class:`JobLogs`; a durable job's store
            keeps them too, documents do not).
        execution_tracker: The job's :class:`~routilux.execution_tracker.ExecutionTracker`
            when its flow has ``track_execution`` on, else ``None``. In memory
            only: documents and stores do not keep it.
    """

    def __init__(self, flow_id: str = "", *, job_id: str | None = None) -> None:
        now = _utcnow()
        self.job_id: str = job_id or str(uuid.uuid4())
        self.flow_id: str = flow_id
        self.status: JobStatus = JobStatus.PENDING
        self.created_at: datetime = now
        self.updated_at: datetime = now
        self.current_routine_id: str | None = None
        self.routine_states: dict[str, dict[str, Any]] = {}
        self._routine_stats: dict[str, RoutineStats] = {}
        self._job_values: dict[str, dict[str, Any]] = {}
        self._timers: dict[str, dict[str, int]] = {}
        # A flat list, four items per record (routine id, event, data, time):
        # a record object per emit would be one more container the garbage
        # collector scans on every full collection, which for long jobs costs
        # more than the rest of the delivery.
        self._history: list[Any] = []
        self.shared_data: dict[str, Any] = {}
        self.shared_log: list[dict[str, Any]] = []
        self.output_log: list[dict[str, Any]] = []
        self.output_handler: OutputHandlerLike | None = None
        self.errors: list[ErrorRecord] = []
        self.error: str | None = None
        self.pending_deliveries: list[PendingDelivery] = []
        self.dead_letters: list[DeadLetter] = []
        self.pause_points: list[dict[str, Any]] = []
        self.deferred_events: list[dict[str, Any]] = []
        self.execution_tracker: ExecutionTracker | None = None
        # The number the job's next new delivery takes, as of its last pause
        # (kept in documents, so that a job resumed from one never reuses one).
        self._next_delivery: int | None = None
        self.history_dropped = 0
        self._lock = threading.RLock()
        self._init_logs()
        self._finished = threading.Event()
        self._status_changed = threading.Condition(self._lock)
        # What changed since the last checkpoint of a durable job.
        self.checkpoint_marks = CheckpointMarks()
        # Set by the engine: the flow's history_limit, which record_execution keeps too.
        self._history_limit: int | None = None

    # -- status -------------------------------------------------------------

    def _transition(self, new: JobStatus, *, error: str | None = None, notify: bool = True) -> None:
        """Change the status, checking the transition table (engine use).

        With ``notify=False`` the caller sets ``_finished`` itself, later.
        """
        with self._lock:
            self.status.check_transition(new)
            self.status = new
            self.updated_at = _utcnow()
            if error is not None:
                self.error = error
            if new.is_terminal and notify:
                self._finished.set()
            self._status_changed.notify_all()

    # -- engine side ----------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The job's (re-entrant) lock: the engine holds it to change several fields at once."""
        return self._lock

    @property
    def history_items(self) -> list[Any]:
        """The live flat history, four items a record (engine use, under its run's lock)."""
        return self._history

    def add_engine_record(self, record: HistoryRecord) -> None:
        """Add a record of the engine's own to the history; a durable job saves it next."""
        with self._lock:
            self._history += record
            unsaved = self.checkpoint_marks.unsaved_records
            if unsaved is not None:
                unsaved.append(record)

    @property
    def next_delivery_hint(self) -> int | None:
        """The number the job's next new delivery takes, as of its last pause (if known)."""
        return self._next_delivery

    def note_next_delivery(self, seq: int) -> None:
        """Remember that the job's next new delivery takes number ``seq`` (it pauses)."""
        self._next_delivery = seq

    def resume_as(self, stored: JobState) -> None:
        """Take the state of ``stored`` (its store's) and run again, as stored (engine use).

        Keeps this object's id, lock, waiters and output handler; the store
        has every log entry, output, record and deferred event it took.
        """
        with self._lock:
            for name in _STORED_FIELDS:
                setattr(self, name, getattr(stored, name))
        self.running_as_stored()

    def running_as_stored(self) -> None:
        """Mark the job running again, with nothing unsaved (a resume from its store)."""
        with self._lock:
            self.status = JobStatus.RUNNING
            self.error = None
            self.pending_deliveries = []
            self._finished.clear()
            marks = self.checkpoint_marks
            marks.log_saved = len(self.shared_log)
            marks.outputs_saved = len(self.output_log)
            marks.deferred_dirty = False  # As the store has them.

    def set_status(self, new: JobStatus) -> None:
        """Change the status, checking the transition table (the engine runs, pauses the job)."""
        self._transition(new)

    def end(self, status: JobStatus, error: str | None) -> None:
        """Give the job its final ``status`` and ``error``; waiters wake at :meth:`announce_end`."""
        self._transition(status, error=error, notify=False)

    def announce_end(self) -> None:
        """Wake whoever waits for the job (:meth:`wait`): it has ended, and its store knows."""
        self._finished.set()

    @property
    def is_finished(self) -> bool:
        """Whether the job has ended (completed, failed or cancelled)."""
        return self.status.is_terminal

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends or ``timeout`` seconds pass.

        Returns:
            Whether the job has ended.
        """
        return self._finished.wait(timeout)

    @staticmethod
    def wait_for_completion(
        flow: Any,
        job_state: JobState,
        timeout: float | None = None,
        stability_checks: int = 5,
        check_interval: float = 0.1,
        stability_delay: float = 0.05,
        progress_callback: Callable[[int, int, str], Any] | None = None,
    ) -> bool:
        """Block until ``job_state`` ends or pauses, or ``timeout`` seconds pass.

        Unlike :meth:`wait`, a paused job counts as done waiting for. The
        three stability arguments of the published routilux 0.10 (which
        polled the job's queue) are checked and otherwise ignored: the job
        says itself when its status changes.

        Args:
            flow: The flow running the job; its ``get_progress`` feeds
                ``progress_callback`` (``None`` is allowed).
            job_state: The job to wait for.
            timeout: Seconds to wait at most; ``None`` waits for ever.
            stability_checks: Ignored; a positive integer.
            check_interval: Ignored; a positive number of seconds.
            stability_delay: Ignored; zero or more seconds.
            progress_callback: Called as ``progress_callback(pending, running,
                status)`` (deliveries waiting, deliveries running, the status
                value) when the wait starts and every 5 seconds after.

        Returns:
            Whether the job has ended or is paused.

        Raises:
            DefinitionError: An argument is not of its type or range.
        """
        from routilux._model.job_wait import check_wait_arguments, wait_ended_or_paused

        check_wait_arguments(
            job_state, timeout, stability_checks, check_interval, stability_delay, progress_callback
        )
        return wait_ended_or_paused(flow, job_state, timeout, progress_callback)

    # -- history ------------------------------------------------------------

    @property
    def execution_history(self) -> list[ExecutionRecord]:
        """One record per event emitted in this job, in emission order."""
        return self.get_execution_history()

    @execution_history.setter
    def execution_history(self, records: list[ExecutionRecord]) -> None:
        flat: list[Any] = []
        for r in records:
            flat += (r.routine_id, r.event_name, r.data, _as_time(r.timestamp))
        self._history = flat

    def get_execution_history(self, routine_id: str | None = None) -> list[ExecutionRecord]:
        """The emitted events, in order; only those of ``routine_id`` if given."""
        flat = self._history[:]
        records = [_record(*flat[i : i + 4]) for i in range(0, len(flat) - 3, 4)]
        if routine_id is None:
            return records
        return [r for r in records if r.routine_id == routine_id]

    def record_execution(
        self, routine_id: str, event_name: str, data: Mapping[str, Any] | None
    ) -> None:
        """Add a record to the history, stamped now, after those already there.

        For events of your own (an action that emits nothing, say). The record
        is added at once, even if the calling handler then fails, and even
        with ``Flow(record_history=False)`` (which only stops the engine
        recording emits). It counts against the flow's ``history_limit`` as
        emits do, and a durable job saves it with its next checkpoint.
        Safe to call from several threads.

        Args:
            routine_id: The routine the record is about.
            event_name: What happened.
            data: The record's data (copied); ``None`` for none.

        Raises:
            DefinitionError: ``routine_id`` or ``event_name`` is not a
                string, or ``data`` is not a mapping.
        """
        check_text("record_execution", "routine_id", routine_id)
        check_text("record_execution", "event_name", event_name)
        record = (routine_id, event_name, copied("record_execution", data), time.time())
        with self._lock:
            self._history += record
            unsaved = self.checkpoint_marks.unsaved_records
            if unsaved is not None:
                unsaved.append(record)
            limit = self._history_limit
            # Trimmed as the engine trims: to the limit, once twice the limit is held.
            if limit is not None and len(self._history) > 8 * limit:
                self.trim_history(4 * limit)

    def limit_history(self, limit: int | None) -> None:
        """Keep ``limit`` records at least (``None``: all), as the engine does for its flow."""
        self._history_limit = limit

    def trim_history(self, keep: int) -> None:
        """Drop the oldest records of the flat history beyond ``keep`` items (4 a record)."""
        with self._lock:
            history = self._history
            if len(history) > keep:
                dropped = len(history) - keep
                del history[:dropped]
                self.history_dropped += dropped // 4

    def merge_routine_stats(self, stats: dict[str, RoutineStats]) -> None:
        """Set the engine's counts: ``stats`` first, then those of routines not in it (a resume)."""
        with self._lock:
            others = self._routine_stats.items()
            self._routine_stats = {**stats, **{k: v for k, v in others if k not in stats}}

    # -- pause points and dead letters ------------------------------------------

    def add_pause_point(self, point: dict[str, Any]) -> None:
        """Append ``point`` to ``pause_points`` (the flow records each pause that takes)."""
        with self._lock:
            self.pause_points.append(point)

    def mark_letter_replayed(self, letter_id: str, replay_job_id: str) -> None:
        """Record in ``dead_letters`` that the letter ``letter_id`` was replayed by that job."""
        with self._lock:
            self.dead_letters = [
                replace(kept, replayed_by=replay_job_id) if kept.letter_id == letter_id else kept
                for kept in self.dead_letters
            ]

    # -- shared data and log --------------------------------------------------

    def update_shared_data(self, key: str, value: Any) -> None:
        """Set ``key`` in the job's shared data."""
        with self._lock:
            self.shared_data[key] = value
            self.checkpoint_marks.shared_dirty = True

    def get_shared_data(self, key: str, default: Any = None) -> Any:
        """The shared value of ``key``, or ``default``."""
        return self.shared_data.get(key, default)

    def append_to_shared_log(self, entry: Mapping[str, Any]) -> None:
        """Append a copy of ``entry`` to the shared log, adding a ``timestamp``.

        The timestamp is the time now as ISO 8601 text in UTC
        (``"2024-05-01T12:00:00.123456+00:00"``); an entry that has a
        ``timestamp`` key keeps its own.

        Raises:
            InvalidLogEntryError: ``entry`` is not a mapping (also a
                ``TypeError`` and a ``ValueError``).
        """
        if not isinstance(entry, Mapping):
            raise InvalidLogEntryError(
                f"JobState.append_to_shared_log expects a mapping (a dict of log fields), "
                f"not {type(entry).__name__} {entry!r}; wrap text as {{'message': ...}}."
            )
        record = dict(entry)
        if "timestamp" not in record:
            record["timestamp"] = _utcnow().isoformat()
        with self._lock:
            self.shared_log.append(record)

    def get_shared_log(
        self, filter_func: Callable[[dict[str, Any]], Any] | None = None
    ) -> list[dict[str, Any]]:
        """A copy of the shared log; only the entries ``filter_func`` is true for, if given."""
        with self._lock:
            entries = list(self.shared_log)
        if filter_func is None:
            return entries
        return [entry for entry in entries if filter_func(entry)]

    # -- documents ----------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """The job as a versioned, JSON-compatible document.

        Raises:
            SerializationError: A value in the job cannot be written.
        """
        from routilux._serde.job_state_doc import job_state_to_doc

        with self._lock:
            return job_state_to_doc(self)

    def _adopt(self, other: JobState) -> None:
        """Take every field of ``other``, a job just rebuilt from a document."""
        kept = {"_lock", "_finished", "_status_changed", "output_handler"}
        with self._lock:
            for name, value in vars(other).items():
                if name not in kept:
                    setattr(self, name, value)
            if self.status.is_terminal:
                self._finished.set()
            self._status_changed.notify_all()

    def save(self, path: str | PathLike[str]) -> None:
        """Write the job to ``path`` atomically (temporary file, fsync, rename).

        Raises:
            SerializationError: A value in the job cannot be written.
            OSError: The file cannot be written.
        """
        from routilux._serde.files import write_json_atomic

        write_json_atomic(path, self.serialize())

    @classmethod
    def load(cls, path: str | PathLike[str]) -> JobState:
        """Read a job that :meth:`save` wrote.

        Raises:
            SerializationError: The file is not a valid job document.
            OSError: The file cannot be read.
        """
        from routilux._serde.files import read_json

        return cls.deserialize(read_json(path))

    def __repr__(self) -> str:
        return f"<JobState {self.job_id} flow={self.flow_id!r} status={self.status.value}>"

    #: ``JobState.deserialize(document)`` builds a new job;
    #: ``job.deserialize(document)`` rebuilds into a new ``job`` and returns it.
    deserialize = ClassOrInstanceMethod(_job_from_document)


def _as_time(timestamp: Any) -> Any:
    """A record's timestamp as the flat history keeps it: a datetime, or seconds (a float).

    Raises:
        DefinitionError: It is neither, or a number of seconds beyond any datetime.
    """
    if isinstance(timestamp, datetime):
        return timestamp
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        try:
            datetime.fromtimestamp(timestamp, timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
        else:
            return float(timestamp)
    raise DefinitionError(
        f"An ExecutionRecord's timestamp must be a datetime (or seconds since the epoch), "
        f"not {timestamp!r}."
    )


def _record(routine_id: str, event_name: str, data: Any, timestamp: Any) -> ExecutionRecord:
    # The engine stamps records with time.time(), which is cheaper than a
    # datetime; they become datetimes only here, when someone reads them.
    if not isinstance(timestamp, datetime):
        timestamp = datetime.fromtimestamp(timestamp, timezone.utc)
    return ExecutionRecord._make((routine_id, event_name, data, timestamp))
