"""The job store protocol: what the engine needs to keep jobs durably."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from routilux._model.durable import (
    Checkpoint,
    DeadLetter,
    JobSummary,
    StoredDelivery,
    StoredJob,
    StoredLogRecord,
)
from routilux.exceptions import DefinitionError

__all__ = ["FINISHED_STATUSES", "JobStore", "check_store"]

#: The statuses of jobs that have ended.
FINISHED_STATUSES = ("completed", "failed", "cancelled")


@runtime_checkable
class JobStore(Protocol):
    """Keeps jobs, their pending deliveries, history and dead letters.

    Every store passes the same conformance suite (``tests/stores``). A
    store must be safe to use from several threads of one process; the
    SQLite and PostgreSQL stores are also safe for several processes.

    The three stores keep the same rows, built and checked by the same code,
    so they accept, refuse and return the same things:

    * Values are written as JSON through routilux's value codec, so a value
      the codec refuses raises :class:`~routilux.SerializationError` and
      nothing of that call is written.
    * Ids, names, statuses, owners and a job's ``error`` are text columns:
      one with a NUL character or a lone surrogate raises
      :class:`~routilux.SerializationError`, and nothing is written.
    * A status that is not a :class:`~routilux.JobStatus` value is refused:
      written, with :class:`~routilux.SerializationError`; as an argument
      (``status``, ``statuses``), with :class:`~routilux.DefinitionError`.
    * A naive time (a document's ``updated_at``, a checkpoint's, or
      :meth:`delete_jobs`'s ``updated_before``) is taken as UTC.
    * An argument of the wrong type (``limit="10"``, ``updated_before="yesterday"``)
      or a negative ``limit`` or ``offset`` raises
      :class:`~routilux.DefinitionError` (a :class:`ValueError`) naming it.
    * Every row read back is checked: a damaged one (a disk fault, a hand
      edit) raises :class:`~routilux.StoreError` naming the job or dead
      letter, the table, the column and what was expected.
    * A job has one owner at a time. Each job has a **claim** (a fencing
      token): 1 when created, one more at each :meth:`claim_job`, which is
      one compare-and-set. A checkpoint or lease renewal carrying an older
      claim is refused with :class:`~routilux.OwnershipLostError` and
      writes nothing. Lease times are on the store's clock (the database
      server's, for PostgreSQL), so processes on several machines agree.
    """

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
        """Record a new job: its JobState document and its first deliveries.

        The job's claim is 1. With ``lease``, its ``owner`` holds a lease of
        that many seconds from now (see :meth:`renew_lease`); without, the
        job has no lease.

        The document's ``execution_history``, ``errors``, ``shared_log`` and
        ``output_log`` are kept, and checkpoints append to them (a
        checkpoint's ``history`` times are seconds since the epoch; a loaded
        document has every history time as ISO 8601 text, in UTC, as
        ``JobState.serialize`` writes it). Fields no checkpoint changes
        (``pending_deliveries`` and ``dead_letters`` among them) are kept as
        written; the pending deliveries are ``pending``, of which the last
        of several with one seq wins. A job starts with no kept log records
        (a document has none): checkpoints append them (``job_logs``).

        Raises:
            StoreError: A job with that id exists.
            SerializationError: A value cannot be stored; nothing is written.
        """

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        """Apply everything one delivery changed, in one transaction.

        Only while ``checkpoint.claim`` is the job's claim (or is ``None``).
        ``done`` deliveries (or all of them, with ``drop_pending``) are removed,
        then ``added`` ones are added or replace the pending ones of their seq;
        of several added deliveries with one seq, the last wins. A dead letter
        replaces any of its id; of several with one id, the last wins.
        ``history``, ``errors``, ``log_entries``, ``outputs`` and ``job_logs``
        are appended to what the job has.

        Raises:
            JobNotFound: The job is not in the store.
            OwnershipLostError: ``checkpoint.claim`` is not the job's claim;
                nothing is written.
            SerializationError: A value cannot be stored; nothing is written.
        """

    def load_job(self, job_id: str) -> StoredJob:
        """Load a job with its pending deliveries.

        :attr:`StoredJob.pending` is authoritative, as :meth:`list_dead_letters`
        is for dead letters: the document's ``pending_deliveries`` and
        ``dead_letters`` fields are whatever was written when the job was
        created.

        Raises:
            JobNotFound: The job is not in the store.
            StoreError: A row of the job is damaged.
        """

    def read_job_logs(
        self, job_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredLogRecord]:
        """The job's kept log records from position ``after`` on, oldest first.

        A job's records are numbered from 0 in the order checkpoints appended
        them. ``after`` is how many of the first ones to skip (0: from the
        first), so that a reader that follows a running job passes the
        position of the last record it read plus one; at most ``limit`` are
        returned (``None``: all the rest).

        Raises:
            JobNotFound: The job is not in the store.
            DefinitionError: ``after`` or ``limit`` is not an integer, or is
                negative.
            StoreError: A record's row is damaged.
        """

    def list_jobs(
        self,
        *,
        flow_id: str | None = None,
        status: str | Iterable[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[JobSummary]:
        """Jobs, newest first, optionally of one flow and of given statuses.

        Jobs are ordered by the text of ``created_at``, then by ``job_id``, both
        descending; ``offset`` of them are skipped, then at most ``limit`` are
        returned. A summary counts the job's pending deliveries and all its
        dead letters, replayed or not.

        Raises:
            DefinitionError: An argument is not of its type, ``limit`` or
                ``offset`` is negative, or a status is not a job status.
            StoreError: A listed job's row is damaged.
        """

    def delete_job(self, job_id: str) -> bool:
        """Delete a job, its dead letters and everything kept with it; return whether it existed."""

    def delete_jobs(
        self, *, updated_before: datetime, statuses: Iterable[str] = FINISHED_STATUSES
    ) -> int:
        """Delete jobs of ``statuses`` updated before ``updated_before``; return the count.

        Their dead letters are deleted with them. A naive ``updated_before``,
        and a naive ``updated_at`` of a job, is taken as UTC.

        Raises:
            DefinitionError: ``updated_before`` is not a datetime, or a status
                is not a job status.
        """

    def list_dead_letters(
        self,
        *,
        job_id: str | None = None,
        flow_id: str | None = None,
        include_replayed: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DeadLetter]:
        """Dead letters, oldest first, optionally of one job or flow.

        The store's dead letters are authoritative (the job document's
        ``dead_letters`` field is whatever was written at its creation).
        Letters are ordered by ``created_at``, then by ``letter_id``; replayed
        ones are left out unless ``include_replayed``; ``offset`` of them are
        skipped, then at most ``limit`` are returned.

        Raises:
            DefinitionError: An argument is not of its type, or ``limit`` or
                ``offset`` is negative.
            StoreError: A listed dead letter's row is damaged.
        """

    def get_dead_letter(self, letter_id: str) -> DeadLetter:
        """One dead letter.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
            StoreError: Its row is damaged.
        """

    def mark_replayed(self, letter_id: str, replay_job_id: str) -> None:
        """Record that the job ``replay_job_id`` replayed the letter.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
        """

    def mark_replayed_if(
        self, letter_id: str, replay_job_id: str | None, *, expected: str | None
    ) -> None:
        """Set the letter's ``replayed_by`` to ``replay_job_id`` if it is still ``expected``.

        One compare-and-set: of two replays of a letter claiming it at once
        (``expected=None``), exactly one succeeds. ``replay_job_id=None``
        marks the letter as not replayed.

        Raises:
            DeadLetterNotFound: No dead letter has that id.
            DeadLetterReplayedError: Its ``replayed_by`` is not ``expected``;
                nothing is written.
        """

    def claim_job(self, job_id: str, *, owner: str, expected_claim: int, lease: float) -> int:
        """Make ``owner`` the job's owner, atomically, if its claim is still ``expected_claim``.

        One compare-and-set: the claim becomes ``expected_claim + 1`` and
        ``owner`` holds a lease of ``lease`` seconds from now. Whether the
        job may be claimed at all (its lease) is the caller's decision,
        taken on the claim it loaded; if anyone claimed it since, this fails.

        Returns:
            The new claim, which the owner's writes carry.

        Raises:
            JobNotFound: The job is not in the store.
            JobOwnedError: The job's claim is no longer ``expected_claim``
                (another process claimed it first); nothing is written.
        """

    def renew_lease(self, job_id: str, *, claim: int, lease: float) -> None:
        """Extend the owner's lease to ``lease`` seconds from now, if ``claim`` is the job's.

        Raises:
            JobNotFound: The job is not in the store.
            OwnershipLostError: ``claim`` is no longer the job's claim.
        """

    def release_job(self, job_id: str, *, claim: int) -> None:
        """End the lease of ``claim`` now, if it is still the job's; else do nothing.

        The owner keeps its name in the job; another process may claim the
        job at once.
        """

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""


def check_store(store: object, what: str) -> JobStore:
    """``store`` if it is a job store (it has every method of one).

    Args:
        store: What was given.
        what: Names the argument in the message (``"Flow store"``).

    Raises:
        DefinitionError: It is not; for a URL, the message says how to open it.
    """
    if isinstance(store, JobStore):
        return store
    hint = (
        " A URL names a store but is not one: open it first, as "
        "SqliteStore.from_url(url) (or PostgresStore(dsn))."
        if isinstance(store, str)
        else ""
    )
    raise DefinitionError(
        f"{what} must be a job store (SqliteStore, PostgresStore, MemoryStore, or an object "
        f"with every method of routilux.stores.JobStore), not {type(store).__name__} "
        f"{store!r}.{hint}"
    )
