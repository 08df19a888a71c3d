"""MemoryStore: a job store in the process's memory, for tests and short-lived runs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from routilux._model.durable import (
    Checkpoint,
    DeadLetter,
    JobSummary,
    StoredDelivery,
    StoredJob,
    StoredLogRecord,
)
from routilux._model.store import FINISHED_STATUSES
from routilux.exceptions import DeadLetterNotFound, JobNotFound, StoreError
from routilux.stores import _decode, _rows
from routilux.stores._arguments import (
    check_before,
    check_claim,
    check_job_listing,
    check_lease,
    check_log_window,
    check_statuses,
    check_text,
    check_window,
)
from routilux.stores._statements import (
    JOB_COLUMNS,
    JOB_ROW,
    LEASE_COLUMNS,
    LETTER_COLUMNS,
    LOG_COUNT,
)

__all__ = ["MemoryStore"]

_SELECTED = [*JOB_COLUMNS.split(", "), LOG_COUNT, *LEASE_COLUMNS]
_LETTER = LETTER_COLUMNS.split(", ")
_COUNTS = ("history_count", "error_count", "log_count", "output_count", LOG_COUNT)
_SUMMARY = ("job_id", "flow_id", "status", "created_at", "updated_at", "error")


@dataclass(slots=True)
class _Job:
    """A job's row of the ``jobs`` table (by column) and its rows of the other tables."""

    row: dict[str, Any]
    pending: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # By seq.
    history: list[tuple[Any, ...]] = field(default_factory=list)  # By position, as all five.
    errors: list[tuple[Any, ...]] = field(default_factory=list)
    log: list[tuple[Any, ...]] = field(default_factory=list)
    outputs: list[tuple[Any, ...]] = field(default_factory=list)
    job_logs: list[tuple[Any, ...]] = field(default_factory=list)
    # ``job_values`` by (routine id, name), and ``job_value_items`` by those and position.
    values: dict[tuple[str, str], str] = field(default_factory=dict)
    items: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)

    def write_values(
        self, values: list[tuple[str, str, str, str]], items: list[tuple[str, str, str, int, str]]
    ) -> None:
        """Set job values (dropping their appended items), then append the new items."""
        for _, routine_id, name, text in values:
            self.values[(routine_id, name)] = text
            self.items.pop((routine_id, name), None)
        for _, routine_id, name, position, text in items:
            self.items.setdefault((routine_id, name), {})[position] = text

    def value_rows(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """The rows ``select_values`` and ``select_items`` read, in their order."""
        values = [(rid, name, text) for (rid, name), text in self.values.items()]
        items = [
            (rid, name, position, by_position[position])
            for (rid, name), by_position in sorted(self.items.items())
            for position in sorted(by_position)
        ]
        return values, items

    def append(self, rows: _rows.NewJobRows | _rows.CheckpointRows) -> None:
        """Add the appended texts of ``rows``, numbered to end at the counts of the job's row."""
        tables = (self.history, self.errors, self.log, self.outputs, self.job_logs)
        appended = (rows.history, rows.errors, rows.log, rows.outputs, rows.job_logs)
        for table, texts, count in zip(tables, appended, _COUNTS, strict=True):
            table.extend(_rows.numbered(self.row["job_id"], self.row[count], texts))

    def update(self, job: tuple[Any, ...]) -> None:
        """Change the row as ``update_job`` does, given its parameters (``CheckpointRows.job``).

        The caller has checked the claim.
        """
        status, updated_at, updated_us, routine_id, error, deliveries, next_seq, *rest = job
        shared_data, routine_states, deferred_events, engine_states, *added, _job_id, _claim = rest
        self.row.update(
            status=status,
            updated_at=updated_at,
            updated_us=updated_us,
            current_routine_id=routine_id,
            error=error,
            deliveries=deliveries,
            next_seq=next_seq,
        )
        if shared_data is not None:
            self.row["shared_data"] = shared_data
        if routine_states is not None:
            self.row["routine_states"] = routine_states
        if deferred_events is not None:
            self.row["deferred_events"] = deferred_events
        if engine_states is not None:
            self.row["engine_states"] = engine_states
        for count, n in zip(_COUNTS, added, strict=True):
            self.row[count] += n


class MemoryStore:
    """A :class:`~routilux.stores.JobStore` that keeps everything in memory.

    It keeps the rows the SQL stores keep in their tables, made by the same
    code, so values are encoded, and refused, exactly as the durable stores
    do: a job that runs on a MemoryStore also runs on SQLite and PostgreSQL.
    One lock makes each call atomic. Nothing survives the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        # Rows of ``dead_letters`` by column; a dict keeps its columns' order, so
        # ``tuple(letter.values())`` is the row ``_decode.dead_letter`` reads.
        self._letters: dict[str, dict[str, Any]] = {}
        self._closed = False

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock of an open store: what a transaction is to the SQL stores."""
        with self._lock:
            if self._closed:
                raise StoreError("The MemoryStore is closed.")
            yield

    # -- jobs -------------------------------------------------------------------

    def create_job(
        self,
        document: dict[str, Any],
        *,
        pending: Sequence[StoredDelivery],
        next_seq: int,
        flow_document: dict[str, Any] | None = None,
        owner: str | None = None,
        lease: float | None = None,
    ) -> None:
        """Record a new job; see :meth:`JobStore.create_job`.

        History, errors, shared log entries and outputs in ``document`` are kept.

        Raises:
            StoreError: A job with that id exists.
            SerializationError: A value cannot be stored; nothing is written.
        """
        rows = _rows.new_job_rows(document, pending, next_seq, flow_document, owner)
        seconds = check_lease(lease, optional=True)
        job = _Job(dict(zip(JOB_ROW, rows.job, strict=True)))
        job.row.update(claim=1, lease_until=None if seconds is None else time.time() + seconds)
        job.pending.update((row[1], row) for row in rows.pending)
        job.append(rows)
        job.write_values(rows.values, [])
        with self._locked():
            if job.row["job_id"] in self._jobs:
                raise StoreError(f"The store already has a job {job.row['job_id']!r}.")
            self._jobs[job.row["job_id"]] = job

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        """Apply one delivery's changes at once; see :meth:`JobStore.checkpoint`.

        Raises:
            JobNotFound: The job is not in the store.
            SerializationError: A value cannot be stored; nothing is written.
        """
        rows = _rows.checkpoint_rows(checkpoint)
        with self._locked():
            job = self._owned(checkpoint.job_id, checkpoint.claim)
            job.update(rows.job)
            if checkpoint.drop_pending:
                job.pending.clear()
            for _, seq in rows.done:
                job.pending.pop(seq, None)
            job.pending.update((row[1], row) for row in rows.added)
            job.append(rows)
            for letter in rows.letters:
                self._letters[letter[0]] = dict(zip(_LETTER, letter, strict=True))
            job.write_values(rows.values, rows.items)

    def load_job(self, job_id: str) -> StoredJob:
        """Load a job with its pending deliveries; see :meth:`JobStore.load_job`.

        Raises:
            JobNotFound: The job is not in the store.
            StoreError: A row of the job is damaged.
        """
        with self._locked():
            job = self._job(job_id)
            row = [*(job.row[column] for column in _SELECTED), time.time()]
            pending = [job.pending[seq][1:] for seq in sorted(job.pending)]
            tables = (job.history, job.errors, job.log, job.outputs)
            history, errors, log, outputs = ([r[2:] for r in t] for t in tables)
            values, items = job.value_rows()
        return _decode.stored_job(row, pending, history, errors, log, values, items, outputs)

    def read_job_logs(
        self, job_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredLogRecord]:
        """The kept log records from position ``after`` on; see :meth:`JobStore.read_job_logs`.

        Raises:
            JobNotFound: The job is not in the store.
            DefinitionError: ``after`` or ``limit`` is not an integer, or is negative.
        """
        check_log_window(after, limit)
        end = None if limit is None else after + limit
        with self._locked():
            # Rows are (job_id, position, record), position being the index.
            rows = [row[1:] for row in self._job(job_id).job_logs[after:end]]
        return _decode.job_log_records(job_id, rows)

    def list_jobs(
        self,
        *,
        flow_id: str | None = None,
        status: str | Iterable[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobSummary]:
        """Jobs, newest (by ``created_at``) first; see :meth:`JobStore.list_jobs`.

        Raises:
            DefinitionError: An argument is not of its type, ``limit`` or
                ``offset`` is negative, or a status is not a job status.
            StoreError: A listed job's row is damaged.
        """
        statuses = check_job_listing(flow_id, status, limit, offset)
        with self._locked():
            chosen = [
                job
                for job in self._jobs.values()
                if (flow_id is None or job.row["flow_id"] == flow_id)
                and (statuses is None or job.row["status"] in statuses)
            ]
            chosen.sort(key=lambda job: (job.row["created_at"], job.row["job_id"]), reverse=True)
            chosen = chosen[offset : offset + limit]
            letters = Counter(letter["job_id"] for letter in self._letters.values())
            lines = [
                (*(job.row[c] for c in _SUMMARY), len(job.pending), letters[job.row["job_id"]])
                for job in chosen
            ]
        return [_decode.summary(line) for line in lines]

    def delete_job(self, job_id: str) -> bool:
        """Delete a job and its dead letters; see :meth:`JobStore.delete_job`."""
        with self._locked():
            return self._delete({job_id}) == 1

    def delete_jobs(
        self, *, updated_before: datetime, statuses: Iterable[str] = FINISHED_STATUSES
    ) -> int:
        """Delete old jobs and their dead letters; see :meth:`JobStore.delete_jobs`.

        Raises:
            DefinitionError: ``updated_before`` is not a datetime, or a status
                is not a job status.
        """
        wanted = check_statuses("statuses", statuses)
        before = _rows.micros(check_before(updated_before))
        with self._locked():
            old = {
                job_id
                for job_id, job in self._jobs.items()
                if job.row["status"] in wanted and job.row["updated_us"] < before
            }
            return self._delete(old)

    def _delete(self, job_ids: Collection[str]) -> int:
        """Delete jobs and every dead letter of theirs; return how many jobs there were."""
        for letter_id in [k for k, letter in self._letters.items() if letter["job_id"] in job_ids]:
            del self._letters[letter_id]
        return sum(self._jobs.pop(job_id, None) is not None for job_id in job_ids)

    # -- ownership --------------------------------------------------------------

    def claim_job(self, job_id: str, *, owner: str, expected_claim: int, lease: float) -> int:
        """Make ``owner`` the job's owner if its claim is still ``expected_claim``.

        See :meth:`JobStore.claim_job`.

        Raises:
            JobNotFound: The job is not in the store.
            JobOwnedError: Its claim is no longer ``expected_claim``.
        """
        _rows.plain(owner)
        seconds = check_lease(lease)
        check_claim(expected_claim)
        with self._locked():
            job = self._job(job_id)
            if job.row["claim"] != expected_claim:
                raise self._claim_row(job).taken()
            job.row.update(owner=owner, claim=expected_claim + 1, lease_until=time.time() + seconds)
            return expected_claim + 1

    def renew_lease(self, job_id: str, *, claim: int, lease: float) -> None:
        """Extend the lease of the job's owner; see :meth:`JobStore.renew_lease`.

        Raises:
            JobNotFound: The job is not in the store.
            OwnershipLostError: ``claim`` is no longer the job's claim.
        """
        seconds = check_lease(lease)
        with self._locked():
            self._owned(job_id, check_claim(claim)).row["lease_until"] = time.time() + seconds

    def release_job(self, job_id: str, *, claim: int) -> None:
        """End the lease of ``claim`` now, if it is the job's; see :meth:`JobStore.release_job`."""
        check_claim(claim)
        with self._locked():
            job = self._jobs.get(job_id)
            if job is not None and job.row["claim"] == claim and job.row["lease_until"] is not None:
                job.row["lease_until"] = time.time()

    def _owned(self, job_id: str, claim: int | None) -> _Job:
        """The job, if ``claim`` is its claim (or is ``None``)."""
        job = self._job(job_id)
        if claim is not None and job.row["claim"] != claim:
            raise self._claim_row(job).lost(claim)
        return job

    @staticmethod
    def _claim_row(job: _Job) -> _decode.ClaimRow:
        row = job.row
        line = (row["owner"], row["claim"], row["lease_until"], time.time())
        return _decode.claim_row(row["job_id"], line)

    # -- dead letters -----------------------------------------------------------

    def list_dead_letters(
        self,
        *,
        job_id: str | None = None,
        flow_id: str | None = None,
        include_replayed: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DeadLetter]:
        """Dead letters, oldest first; see :meth:`JobStore.list_dead_letters`.

        Raises:
            DefinitionError: An argument is not of its type, or ``limit`` or
                ``offset`` is negative.
            StoreError: A listed dead letter's row is damaged.
        """
        check_window(limit, offset)
        check_text("job_id", job_id)
        check_text("flow_id", flow_id)
        with self._locked():
            chosen = [
                letter
                for letter in self._letters.values()
                if (include_replayed or letter["replayed_by"] is None)
                and (job_id is None or letter["job_id"] == job_id)
                and (flow_id is None or letter["flow_id"] == flow_id)
            ]
            chosen.sort(key=lambda letter: (letter["created_at"], letter["letter_id"]))
            rows = [tuple(letter.values()) for letter in chosen[offset : offset + limit]]
        return [_decode.dead_letter(row) for row in rows]

    def get_dead_letter(self, letter_id: str) -> DeadLetter:
        """One dead letter; see :meth:`JobStore.get_dead_letter`.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
            StoreError: Its row is damaged.
        """
        with self._locked():
            letter = self._letters.get(letter_id)
            row = None if letter is None else tuple(letter.values())
        if row is None:
            raise DeadLetterNotFound(f"The store has no dead letter {letter_id!r}.")
        return _decode.dead_letter(row)

    def mark_replayed(self, letter_id: str, replay_job_id: str) -> None:
        """Record a replay; see :meth:`JobStore.mark_replayed`.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
        """
        _rows.plain(replay_job_id)
        with self._locked():
            letter = self._letters.get(letter_id)
            if letter is None:
                raise DeadLetterNotFound(f"The store has no dead letter {letter_id!r}.")
            letter["replayed_by"] = replay_job_id

    def mark_replayed_if(
        self, letter_id: str, replay_job_id: str | None, *, expected: str | None
    ) -> None:
        """Set ``replayed_by`` if it is still ``expected``; see :meth:`JobStore.mark_replayed_if`.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
            DeadLetterReplayedError: Its ``replayed_by`` is not ``expected``.
        """
        _rows.plain(replay_job_id, expected)
        with self._locked():
            letter = self._letters.get(letter_id)
            if letter is None:
                raise DeadLetterNotFound(f"The store has no dead letter {letter_id!r}.")
            if letter["replayed_by"] != expected:
                raise _decode.replayed(_decode.dead_letter(tuple(letter.values())), expected)
            letter["replayed_by"] = replay_job_id

    # -- housekeeping -----------------------------------------------------------

    def close(self) -> None:
        """Forget everything; the store is unusable afterwards."""
        with self._lock:
            self._closed = True
            self._jobs.clear()
            self._letters.clear()

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"The store has no job {job_id!r}.")
        return job

    def __repr__(self) -> str:
        return f"<MemoryStore jobs={len(self._jobs)}>"
