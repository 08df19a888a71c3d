"""JobState: everything one job knows about itself."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from os import PathLike
from typing import Any

from routilux._model.durable import DeadLetter
from routilux._model.records import ErrorRecord, ExecutionRecord, PendingDelivery
from routilux._model.status import JobStatus

__all__ = ["JobState"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class JobState:
    """The state of one job: its status, history, shared data and errors.

    One is created per execution and returned by ``Flow.execute``. The
    engine updates it while the job runs; handlers reach it through
    ``self.get_execution_context().job_state``.

    Attributes:
        job_id: A uuid4 string.
        flow_id: The id of the flow that runs the job.
        status: A :class:`JobStatus`; prints as its bare value.
        created_at: When the job was created (UTC).
        updated_at: When the status last changed (UTC).
        current_routine_id: The routine whose handler ran last.
        routine_states: Per-routine state, by routine id.
        execution_history: One :class:`ExecutionRecord` per emitted event, in
            order (a snapshot list, built on each access).
        shared_data: Data any handler of the job may read and write.
        shared_log: Entries handlers appended, each with a ``timestamp``.
        errors: One :class:`ErrorRecord` per failure, in order.
        history_dropped: How many of the oldest history records were dropped
            to keep within the flow's ``history_limit``.
        dead_letters: Deliveries that failed for good, with their messages
            (:class:`DeadLetter`), so they can be inspected and replayed.
        error: Why the job failed or was cancelled, if it did.
        pending_deliveries: Deliveries not yet run when the job stopped.
    """

    def __init__(self, flow_id: str, *, job_id: str | None = None) -> None:
        now = _utcnow()
        self.job_id: str = job_id or str(uuid.uuid4())
        self.flow_id: str = flow_id
        self.status: JobStatus = JobStatus.PENDING
        self.created_at: datetime = now
        self.updated_at: datetime = now
        self.current_routine_id: str | None = None
        self.routine_states: dict[str, dict[str, Any]] = {}
        # A flat list, four items per record (routine id, event, data, time):
        # a record object per emit would be one more container the garbage
        # collector scans on every full collection, which for long jobs costs
        # more than the rest of the delivery.
        self._history: list[Any] = []
        self.shared_data: dict[str, Any] = {}
        self.shared_log: list[dict[str, Any]] = []
        self.errors: list[ErrorRecord] = []
        self.error: str | None = None
        self.pending_deliveries: list[PendingDelivery] = []
        self.dead_letters: list[DeadLetter] = []
        self.history_dropped = 0
        self._lock = threading.RLock()
        self._finished = threading.Event()
        # What changed since the last checkpoint of a durable job.
        self._shared_dirty = False
        self._states_dirty = False
        self._log_saved = 0

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
    def wait_for_completion(flow: Any, job_state: JobState, timeout: float | None = None) -> bool:
        """Block until ``job_state`` ends or ``timeout`` seconds pass.

        Args:
            flow: The flow running the job (kept for compatibility; unused).
            job_state: The job to wait for.
            timeout: Seconds to wait at most; ``None`` waits for ever.

        Returns:
            Whether the job has ended.
        """
        return job_state.wait(timeout)

    # -- routine states -----------------------------------------------------

    def update_routine_state(self, routine_id: str, state: dict[str, Any]) -> None:
        """Merge ``state`` into the state of ``routine_id``."""
        with self._lock:
            self.routine_states.setdefault(routine_id, {}).update(state)
            self._states_dirty = True

    def get_routine_state(self, routine_id: str) -> dict[str, Any] | None:
        """A copy of the state of ``routine_id``, or ``None`` if it has none."""
        with self._lock:
            state = self.routine_states.get(routine_id)
            return None if state is None else dict(state)

    # -- history ------------------------------------------------------------

    @property
    def execution_history(self) -> list[ExecutionRecord]:
        """One record per event emitted in this job, in emission order."""
        return self.get_execution_history()

    @execution_history.setter
    def execution_history(self, records: list[ExecutionRecord]) -> None:
        flat: list[Any] = []
        for r in records:
            flat += (r.routine_id, r.event_name, r.data, r.timestamp)
        self._history = flat

    def get_execution_history(self, routine_id: str | None = None) -> list[ExecutionRecord]:
        """The emitted events, in order; only those of ``routine_id`` if given."""
        flat = self._history[:]
        make = ExecutionRecord._make
        records = [make(flat[i : i + 4]) for i in range(0, len(flat) - 3, 4)]
        if routine_id is None:
            return records
        return [r for r in records if r.routine_id == routine_id]

    # -- shared data and log --------------------------------------------------

    def update_shared_data(self, key: str, value: Any) -> None:
        """Set ``key`` in the job's shared data."""
        with self._lock:
            self.shared_data[key] = value
            self._shared_dirty = True

    def get_shared_data(self, key: str, default: Any = None) -> Any:
        """The shared value of ``key``, or ``default``."""
        return self.shared_data.get(key, default)

    def append_to_shared_log(self, entry: Mapping[str, Any]) -> None:
        """Append a copy of ``entry`` to the shared log, adding a ``timestamp``.

        Raises:
            TypeError: ``entry`` is not a mapping.
        """
        if not isinstance(entry, Mapping):
            raise TypeError(
                f"JobState.append_to_shared_log expects a mapping (a dict of log fields), "
                f"not {type(entry).__name__} {entry!r}; wrap text as {{'message': ...}}."
            )
        record = dict(entry)
        record.setdefault("timestamp", time.time())
        with self._lock:
            self.shared_log.append(record)

    def get_shared_log(self) -> list[dict[str, Any]]:
        """A copy of the shared log."""
        with self._lock:
            return list(self.shared_log)

    # -- documents ----------------------------------------------------------

    def serialize(self) -> dict[str, Any]:
        """The job as a versioned, JSON-compatible document.

        Raises:
            SerializationError: A value in the job cannot be written.
        """
        from routilux._serde.job_state_doc import job_state_to_doc

        with self._lock:
            return job_state_to_doc(self)

    @classmethod
    def deserialize(cls, document: dict[str, Any]) -> JobState:
        """Rebuild a job from :meth:`serialize`'s document.

        Raises:
            SerializationError: The document is malformed or of another version.
        """
        from routilux._serde.job_state_doc import job_state_from_doc

        return job_state_from_doc(cls, document)

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
