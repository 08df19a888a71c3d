"""The job queue and the schedules of a PostgreSQL store.

See ``routilux.workers`` and ``routilux.schedules``.

:class:`QueueMethods` is a part of :class:`~routilux.stores.PostgresStore`:
submitting a job (its rows and its queue entry in one transaction), firing
a schedule's tick, and keeping schedules. The queue's and the schedules'
tables are created on first use (see ``_queue`` and ``_schedules``).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from types import ModuleType
from typing import TYPE_CHECKING, Any

from routilux._model.queueing import Submission
from routilux._model.schedules import Schedule
from routilux.exceptions import StoreError
from routilux.stores import _queue, _rows, _schedules
from routilux.stores._sql import Cursor

if TYPE_CHECKING:
    import psycopg

__all__ = ["QueueMethods"]


class QueueMethods:
    """The queue and schedule methods of the PostgreSQL store, over its connection."""

    schema: str
    _lock: threading.Lock
    _psycopg: ModuleType
    _queue_ready: bool

    if TYPE_CHECKING:  # What the store provides (only declared: the store's own are used).

        def _connection(self) -> psycopg.Connection[Any]: ...

        def _write(self) -> AbstractContextManager[Cursor]: ...

        def _read(self) -> AbstractContextManager[Cursor]: ...

        def _insert_job(self, cur: Cursor, rows: _rows.NewJobRows, lease: float | None) -> bool: ...

    def prepare_queue(self) -> None:
        """Create the job queue's tables in the store's schema unless they are there.

        Submitting a job does it too; a worker calls it as it starts. See
        ``routilux.workers``.

        Raises:
            ImportError: Procrastinate (the ``workers`` extra) is not installed.
            StoreError: The database failed.
        """
        with self._lock:
            self._prepare_queue()

    def _prepare_queue(self) -> None:
        if self._queue_ready:
            return
        conn = self._connection()
        try:
            _queue.ensure_queue_schema(conn, self.schema)
            conn.execute(_schedules.SCHEDULE_TABLES.format(s=f'"{self.schema}"'))
        except self._psycopg.Error as exc:
            raise StoreError(
                f"The PostgresStore (schema {self.schema}) could not create its job queue: {exc}"
            ) from exc
        self._queue_ready = True

    def submit_job(self, submission: Submission) -> bool:
        """Record a new job and enqueue it for a worker, in one transaction; see :meth:`_submit`."""
        return self._submit(submission, None)

    def fire_tick(self, schedule_id: str, tick: float, submission: Submission) -> bool:
        """Claim a schedule's tick and submit its job, in one transaction.

        Returns:
            Whether this call fired it: ``False`` if the tick had been fired
            already (by another scheduler: nothing is written then).

        Raises:
            StoreError: The database or the queue failed; nothing is written.
        """
        return self._submit(submission, (schedule_id, float(tick)))

    def add_schedule(self, schedule: Schedule) -> None:
        """Keep a new schedule (see ``routilux.schedules``).

        Raises:
            StoreError: A schedule of that id exists, or the database failed.
        """
        row = _schedules.schedule_row(schedule)
        marks = ", ".join(["%s"] * len(row))
        with self._lock:
            self._prepare_queue()
        with self._write() as cur:
            cur.execute(
                f'INSERT INTO "{self.schema}".schedules ({_schedules.COLUMNS}) VALUES ({marks}) '
                "ON CONFLICT DO NOTHING RETURNING schedule_id",
                row,
            )
            if cur.fetchone() is None:
                raise StoreError(f"The store already has a schedule {schedule.schedule_id!r}.")

    def list_schedules(self) -> list[Schedule]:
        """The store's schedules, by id."""
        with self._lock:
            self._prepare_queue()
        with self._read() as cur:
            cur.execute(
                f'SELECT {_schedules.COLUMNS} FROM "{self.schema}".schedules ORDER BY schedule_id'
            )
            return [_schedules.schedule_from_row(tuple(row)) for row in cur.fetchall()]

    def remove_schedule(self, schedule_id: str) -> bool:
        """Remove a schedule (its fired ticks stay); return whether it existed."""
        with self._lock:
            self._prepare_queue()
        with self._write() as cur:
            cur.execute(
                f'DELETE FROM "{self.schema}".schedules WHERE schedule_id = %s RETURNING 1',
                (schedule_id,),
            )
            return cur.fetchone() is not None

    def pass_ticks(self, schedule_id: str, tick: float) -> None:
        """Move a schedule's last tick to ``tick`` (ticks skipped under ``missed="skip"``)."""
        with self._write() as cur:
            cur.execute(
                f'UPDATE "{self.schema}".schedules SET last_tick = %s '
                "WHERE schedule_id = %s AND last_tick < %s",
                (tick, schedule_id, tick),
            )

    def _submit(self, submission: Submission, tick: tuple[str, float] | None) -> bool:
        """Record a new job and enqueue it for a worker, in one transaction.

        A rollback (an error anywhere) leaves neither the job nor its queue
        entry. See :class:`~routilux._model.queueing.QueueingStore`.

        Returns:
            Whether the job is new: ``False`` if the store already had a job
            of that id (nothing is written or enqueued then).

        Raises:
            ImportError: Procrastinate (the ``workers`` extra) is not installed.
            StoreError: The database or the queue failed; nothing is written.
            SerializationError: A value cannot be stored; nothing is written.
        """
        rows = _rows.new_job_rows(
            submission.document,
            submission.pending,
            submission.next_seq,
            submission.flow_document,
            None,
        )
        with self._lock:
            self._prepare_queue()
            conn = self._connection()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    if tick is not None and not _schedules.claim_tick(
                        cur, self.schema, tick[0], tick[1], submission.job_id
                    ):
                        return False
                    if not self._insert_job(cur, rows, None):
                        return False
                    _queue.defer_job(conn, self.schema, submission)
            except self._psycopg.Error as exc:
                raise StoreError(f"The PostgresStore (schema {self.schema}) failed: {exc}") from exc
            except Exception as exc:
                if type(exc).__module__.startswith("procrastinate"):
                    raise StoreError(
                        f"The job queue of the PostgresStore (schema {self.schema}) failed: {exc}"
                    ) from exc
                raise
        return True
