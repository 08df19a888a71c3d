"""Reading the log records a store keeps for a job, once or as they come.

A durable job of a flow with ``keep_logs`` on appends the records its
handlers log to its store with each checkpoint (see
:mod:`routilux.logs`). These functions read them back by position, from
any process: the one running the job, or another following it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from routilux._model.durable import StoredLogRecord
from routilux._model.status import JobStatus
from routilux._model.store import JobStore, check_store
from routilux.exceptions import DefinitionError, JobNotFound

__all__ = ["follow_job_logs", "read_job_logs"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def read_job_logs(
    store: JobStore, job_id: str, *, after: int = 0, min_level: int | str = 0
) -> list[StoredLogRecord]:
    """The log records ``store`` keeps for a job, oldest first, from position ``after`` on.

    Each record comes with its position (from 0, in the order the job kept
    them), so that a reader can go on later from where it stopped:
    ``read_job_logs(store, job_id, after=records[-1].position + 1)``.

    Args:
        store: The job's store.
        job_id: The job.
        after: How many of the job's first records to skip.
        min_level: Only records of this :mod:`logging` level or above (an
            int, or a name such as ``"WARNING"``).

    Returns:
        The records, each a :class:`~routilux.stores.StoredLogRecord`
        ``(position, record)``.

    Raises:
        JobNotFound: The store has no such job.
        DefinitionError: ``store`` is not a job store, or ``after`` or
            ``min_level`` is not valid.
        StoreError: The store failed, or a record's row is damaged.
    """
    level = _level(min_level)
    records = _read(check_store(store, "read_job_logs' store"), job_id, after)
    return [entry for entry in records if _at_least(entry, level)]


def follow_job_logs(
    store: JobStore,
    job_id: str,
    *,
    after: int = 0,
    min_level: int | str = 0,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StoredLogRecord]:
    """Yield a job's stored log records as they come, until the job has ended.

    Reads the records from position ``after`` on, then polls the store
    every ``interval`` seconds for new ones. Once the job has ended
    (completed, failed or cancelled) and every record it stored has been
    yielded, the iteration ends. A paused job is followed until it ends;
    a job whose process died is followed until someone resumes or cancels
    it (stop iterating to give up). The job's status is read only after a
    poll found no new record.

    Args:
        store: The job's store.
        job_id: The job.
        after: How many of the job's first records to skip.
        min_level: Only records of this :mod:`logging` level or above.
        interval: Seconds between two polls.
        sleep: How to wait between polls.

    Raises:
        JobNotFound: The store has no such job.
        DefinitionError: ``store`` is not a job store, or an argument is not valid.
        StoreError: The store failed, or a row is damaged.
    """
    level = _level(min_level)
    checked = check_store(store, "follow_job_logs' store")
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not interval > 0:
        raise DefinitionError(f"interval must be a number of seconds > 0, not {interval!r}.")
    while True:
        # The status first: a job that had ended had stored its last record already.
        ended = _ended(checked, job_id)
        records = _read(checked, job_id, after)
        while records:
            after = records[-1].position + 1
            yield from (entry for entry in records if _at_least(entry, level))
            records = _read(checked, job_id, after)
        if ended:
            return
        sleep(interval)


def _read(store: JobStore, job_id: str, after: int) -> list[StoredLogRecord]:
    try:
        return store.read_job_logs(job_id, after=after)
    except JobNotFound:
        raise JobNotFound(
            f"The store {store!r} has no job {job_id!r}: check the id (routilux jobs list "
            "shows the jobs of a store), or whether it was deleted."
        ) from None


def _ended(store: JobStore, job_id: str) -> bool:
    try:
        status = store.load_job(job_id).document["status"]
    except JobNotFound:
        _read(store, job_id, 0)  # Raises JobNotFound naming the store.
        raise
    return JobStatus(status).is_terminal


def _level(min_level: object) -> int:
    if isinstance(min_level, str) and min_level.upper() in _LEVELS:
        return int(getattr(logging, min_level.upper()))
    if isinstance(min_level, int) and not isinstance(min_level, bool) and min_level >= 0:
        return min_level
    raise DefinitionError(
        f"min_level must be a logging level (an int >= 0) or a level name "
        f"({', '.join(_LEVELS)}), not {min_level!r}."
    )


def _at_least(entry: StoredLogRecord, level: int) -> bool:
    levelno = entry.record.get("levelno", 0)
    return level == 0 or (isinstance(levelno, int) and levelno >= level)
