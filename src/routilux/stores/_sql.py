"""What the SQL job stores share: the protocol's methods, over a DB-API cursor.

:class:`SqlJobStore` implements every :class:`~routilux.stores.JobStore`
method with portable SQL (SQLite 3.35+ and PostgreSQL both have ``ON
CONFLICT`` and ``RETURNING``). A subclass supplies the connection: a
``_write()`` transaction, a ``_read()`` snapshot, and ``close()``; it may
replace a method with one tuned for its database.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

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
from routilux.stores._statements import LETTER_COLUMNS, Statements

__all__ = ["Cursor", "SqlJobStore"]

_Store = TypeVar("_Store", bound="SqlJobStore")


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use (sqlite3's and psycopg's both fit)."""

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ..., /) -> Any:
        """Run one statement."""

    def executemany(self, query: str, params: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement once per parameter row."""

    def fetchone(self) -> Any:
        """The next result row, or ``None``."""

    def fetchall(self) -> list[Any]:
        """The remaining result rows."""


class SqlJobStore(abc.ABC):
    """The :class:`~routilux.stores.JobStore` methods, over a subclass's connection.

    Args:
        prefix: Put before every table name (a schema, say ``routilux.``).
        mark: The driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg).
        now: An SQL expression of the database's time in seconds since the
            epoch, for leases.
    """

    def __init__(self, *, prefix: str, mark: str, now: str) -> None:
        self._prefix = prefix
        self._mark = mark
        self._sql = Statements.build(prefix, mark, now=now)

    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Cursor]:
        """A write transaction: committed when the block ends, rolled back if it raises."""

    @abc.abstractmethod
    def _read(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction that sees one consistent snapshot."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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
        leased = check_lease(lease, optional=True)
        with self._write() as cur:
            if not self._insert_job(cur, rows, leased):
                raise StoreError(f"The store already has a job {rows.job[0]!r}.")

    def _insert_job(self, cur: Cursor, rows: _rows.NewJobRows, lease: float | None) -> bool:
        """Insert a new job's rows; return ``False`` (inserting nothing) if its id is taken."""
        job_id = rows.job[0]
        appended = (rows.history, rows.errors, rows.log, rows.outputs, rows.job_logs)
        cur.execute(self._sql.insert_job, (*rows.job, lease))
        if cur.fetchone() is None:
            return False
        self._append(cur, job_id, appended, rows.job[-len(appended) :])
        if rows.pending:
            _run(cur, self._sql.upsert_pending, rows.pending)
        if rows.values:
            _run(cur, self._sql.upsert_value, rows.values)
        return True

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        """Apply one delivery's changes in one transaction; see :meth:`JobStore.checkpoint`.

        Raises:
            JobNotFound: The job is not in the store.
            SerializationError: A value cannot be stored; nothing is written.
        """
        rows = _rows.checkpoint_rows(checkpoint)
        job_id = checkpoint.job_id
        with self._write() as cur:
            cur.execute(self._sql.update_job, rows.job)
            counts = cur.fetchone()
            if counts is None:
                raise self._refusal(cur, job_id, checkpoint.claim)
            if checkpoint.drop_pending:
                cur.execute(self._sql.clear_pending, (job_id,))
            elif rows.done:
                _run(cur, self._sql.delete_pending, rows.done)
            if rows.added:
                _run(cur, self._sql.upsert_pending, rows.added)
            appended = (rows.history, rows.errors, rows.log, rows.outputs, rows.job_logs)
            self._append(cur, job_id, appended, counts)
            if rows.letters:
                _run(cur, self._sql.upsert_letter, rows.letters)
            self._write_values(cur, rows)

    def _write_values(self, cur: Cursor, rows: _rows.CheckpointRows) -> None:
        """Set job values (dropping their appended items), then append the new items."""
        if rows.values:
            _run(cur, self._sql.upsert_value, rows.values)
            _run(cur, self._sql.clear_items, [row[:3] for row in rows.values])
        if rows.items:
            _run(cur, self._sql.upsert_item, rows.items)

    def _append(
        self, cur: Cursor, job_id: str, appended: Sequence[list[str]], counts: Sequence[int]
    ) -> None:
        """Insert appended rows: history, errors, log entries, outputs and kept log records.

        ``counts`` are the job's totals of each, including them.
        """
        statements = (
            self._sql.insert_history,
            self._sql.insert_error,
            self._sql.insert_log,
            self._sql.insert_output,
            self._sql.insert_job_log,
        )
        for statement, texts, end in zip(statements, appended, counts, strict=True):
            if texts:
                _run(cur, statement, _rows.numbered(job_id, end, texts))

    def load_job(self, job_id: str) -> StoredJob:
        """Load a job with its pending deliveries; see :meth:`JobStore.load_job`.

        Raises:
            JobNotFound: The job is not in the store.
            StoreError: A row of the job is damaged.
        """
        key = (job_id,)
        with self._read() as cur:
            job = cur.execute(self._sql.select_job, key).fetchone()
            if job is None:
                raise JobNotFound(f"The store has no job {job_id!r}.")
            pending = cur.execute(self._sql.select_pending, key).fetchall()
            history = cur.execute(self._sql.select_history, key).fetchall()
            errors = cur.execute(self._sql.select_errors, key).fetchall()
            log = cur.execute(self._sql.select_log, key).fetchall()
            values = cur.execute(self._sql.select_values, key).fetchall()
            items = cur.execute(self._sql.select_items, key).fetchall()
            outputs = cur.execute(self._sql.select_outputs, key).fetchall()
        return _decode.stored_job(job, pending, history, errors, log, values, items, outputs)

    def read_job_logs(
        self, job_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredLogRecord]:
        """The kept log records from position ``after`` on; see :meth:`JobStore.read_job_logs`.

        Raises:
            JobNotFound: The job is not in the store.
            DefinitionError: ``after`` or ``limit`` is not an integer, or is negative.
            StoreError: A record's row is damaged.
        """
        check_log_window(after, limit)
        query = self._sql.select_job_logs
        params: list[Any] = [job_id, after]
        if limit is not None:
            query += self._marked(" LIMIT ?")
            params.append(limit)
        with self._read() as cur:
            if cur.execute(self._sql.select_log_count, (job_id,)).fetchone() is None:
                raise JobNotFound(f"The store has no job {job_id!r}.")
            rows = cur.execute(query, params).fetchall()
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
        where, params = self._job_filter(flow_id, statuses)
        p = self._prefix
        query = (
            "SELECT j.job_id, j.flow_id, j.status, j.created_at, j.updated_at, j.error, "
            f"(SELECT COUNT(*) FROM {p}pending_deliveries d WHERE d.job_id = j.job_id), "
            f"(SELECT COUNT(*) FROM {p}dead_letters l WHERE l.job_id = j.job_id) "
            f"FROM {p}jobs j{where} ORDER BY j.created_at DESC, j.job_id DESC LIMIT ? OFFSET ?"
        )
        with self._read() as cur:
            rows = cur.execute(self._marked(query), [*params, limit, offset]).fetchall()
        return [_decode.summary(row) for row in rows]

    def _job_filter(self, flow_id: str | None, statuses: list[str] | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if flow_id is not None:
            clauses.append("j.flow_id = ?")
            params.append(flow_id)
        if statuses is not None:
            clauses.append(_in_clause("j.status", statuses))
            params.extend(statuses)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def delete_job(self, job_id: str) -> bool:
        """Delete a job and its dead letters; see :meth:`JobStore.delete_job`."""
        with self._write() as cur:
            cur.execute(self._sql.delete_job_letters, (job_id,))
            return cur.execute(self._sql.delete_job, (job_id,)).fetchone() is not None

    def delete_jobs(
        self, *, updated_before: datetime, statuses: Iterable[str] = FINISHED_STATUSES
    ) -> int:
        """Delete old jobs and their dead letters; see :meth:`JobStore.delete_jobs`.

        Raises:
            DefinitionError: ``updated_before`` is not a datetime, or a status
                is not a job status.
        """
        wanted = check_statuses("statuses", statuses)
        condition = f"{_in_clause('status', wanted)} AND updated_us < ?"
        params = [*wanted, _rows.micros(check_before(updated_before))]
        p = self._prefix
        with self._write() as cur:
            cur.execute(
                self._marked(
                    f"DELETE FROM {p}dead_letters WHERE job_id IN "
                    f"(SELECT job_id FROM {p}jobs WHERE {condition})"
                ),
                params,
            )
            deleted = f"DELETE FROM {p}jobs WHERE {condition} RETURNING job_id"
            return len(cur.execute(self._marked(deleted), params).fetchall())

    # -- ownership --------------------------------------------------------------

    def claim_job(self, job_id: str, *, owner: str, expected_claim: int, lease: float) -> int:
        """Make ``owner`` the job's owner if its claim is still ``expected_claim``.

        See :meth:`JobStore.claim_job`.

        Raises:
            JobNotFound: The job is not in the store.
            JobOwnedError: Its claim is no longer ``expected_claim``.
        """
        _rows.plain(owner)
        params = (owner, check_lease(lease), job_id, check_claim(expected_claim))
        with self._write() as cur:
            row = cur.execute(self._sql.claim_job, params).fetchone()
            if row is None:
                raise self._taken(cur, job_id)
        return int(row[0])

    def renew_lease(self, job_id: str, *, claim: int, lease: float) -> None:
        """Extend the lease of the job's owner; see :meth:`JobStore.renew_lease`.

        Raises:
            JobNotFound: The job is not in the store.
            OwnershipLostError: ``claim`` is no longer the job's claim.
        """
        params = (check_lease(lease), job_id, check_claim(claim))
        with self._write() as cur:
            if cur.execute(self._sql.renew_lease, params).fetchone() is None:
                raise self._refusal(cur, job_id, claim)

    def release_job(self, job_id: str, *, claim: int) -> None:
        """End the lease of ``claim`` now, if it is the job's; see :meth:`JobStore.release_job`."""
        with self._write() as cur:
            cur.execute(self._sql.release_job, (job_id, check_claim(claim)))

    def _claim_row(self, cur: Cursor, job_id: str) -> _decode.ClaimRow:
        row = cur.execute(self._sql.select_claim, (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"The store has no job {job_id!r}.")
        return _decode.claim_row(job_id, row)

    def _refusal(self, cur: Cursor, job_id: str, claim: int | None) -> StoreError:
        """Why a write carrying ``claim`` changed nothing: no such job, or a newer claim."""
        return self._claim_row(cur, job_id).lost(claim)

    def _taken(self, cur: Cursor, job_id: str) -> StoreError:
        """Why a claim changed nothing: no such job, or another claim came first."""
        return self._claim_row(cur, job_id).taken()

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
        clauses = [] if include_replayed else ["replayed_by IS NULL"]
        params: list[Any] = []
        for column, value in (("job_id", job_id), ("flow_id", flow_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        query = (
            f"SELECT {LETTER_COLUMNS} FROM {self._prefix}dead_letters{where} "
            "ORDER BY created_at, letter_id LIMIT ? OFFSET ?"
        )
        with self._read() as cur:
            rows = cur.execute(self._marked(query), [*params, limit, offset]).fetchall()
        return [_decode.dead_letter(row) for row in rows]

    def get_dead_letter(self, letter_id: str) -> DeadLetter:
        """One dead letter; see :meth:`JobStore.get_dead_letter`.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
            StoreError: Its row is damaged.
        """
        with self._read() as cur:
            row = cur.execute(self._sql.select_letter, (letter_id,)).fetchone()
        if row is None:
            raise DeadLetterNotFound(f"The store has no dead letter {letter_id!r}.")
        return _decode.dead_letter(row)

    def mark_replayed(self, letter_id: str, replay_job_id: str) -> None:
        """Record a replay; see :meth:`JobStore.mark_replayed`.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
        """
        _rows.plain(replay_job_id)
        with self._write() as cur:
            if cur.execute(self._sql.mark_replayed, (replay_job_id, letter_id)).fetchone() is None:
                raise DeadLetterNotFound(f"The store has no dead letter {letter_id!r}.")

    def mark_replayed_if(
        self, letter_id: str, replay_job_id: str | None, *, expected: str | None
    ) -> None:
        """Set ``replayed_by`` if it is still ``expected``; see :meth:`JobStore.mark_replayed_if`.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
            DeadLetterReplayedError: Its ``replayed_by`` is not ``expected``.
        """
        _rows.plain(replay_job_id, expected)
        params = (replay_job_id, letter_id, expected, expected)
        with self._write() as cur:
            if cur.execute(self._sql.mark_replayed_if, params).fetchone() is not None:
                return
            row = cur.execute(self._sql.select_letter, (letter_id,)).fetchone()
        if row is None:
            raise DeadLetterNotFound(f"The store has no dead letter {letter_id!r}.")
        raise _decode.replayed(_decode.dead_letter(row), expected)

    def _marked(self, query: str) -> str:
        return query if self._mark == "?" else query.replace("?", self._mark)


def _run(cur: Cursor, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    # One row is the usual case, and a plain execute is cheaper for it than
    # executemany (which psycopg runs in pipeline mode).
    if len(rows) == 1:
        cur.execute(statement, rows[0])
    elif rows:
        cur.executemany(statement, rows)


def _in_clause(column: str, values: list[str]) -> str:
    # An empty list matches nothing (PostgreSQL refuses ``IN ()``).
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "1 = 0"
