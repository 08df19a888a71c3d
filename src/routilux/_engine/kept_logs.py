"""A durable job's kept log records on their way to its store (``Flow(keep_logs=...)``).

:meth:`JobState.keep_log` holds each record in the job's
``checkpoint_marks.unsaved_logs`` as well as in its bounded ``logs``; the
next checkpoint takes them all, so the store gets every record, even one
that more than :data:`~routilux.logs.MAX_KEPT_LOGS` newer ones pushed out of
memory before the checkpoint. Records are only ever appended to the
unsaved list, so a committed checkpoint forgets its first ones.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState

__all__ = ["drop_saved_logs", "storable_record", "unsaved_logs"]


def unsaved_logs(job: JobState) -> list[dict[str, Any]]:
    """The job's log records kept since its last checkpoint (a copy).

    Raises:
        SerializationError: One cannot be stored (they stay to be written).
    """
    with job.lock:
        taken = list(job.checkpoint_marks.unsaved_logs or ())
    for entry in taken:
        if not storable_record(entry):
            raise SerializationError(
                f"Cannot store the kept log record {entry!r} of job {job.job_id}: a record is "
                "a JSON object."
            )
    return taken


def drop_saved_logs(job: JobState, count: int) -> None:
    """Forget the first ``count`` unsaved log records: the store has them now."""
    if count:
        with job.lock:
            unsaved = job.checkpoint_marks.unsaved_logs
            if unsaved is not None:
                del unsaved[:count]


def storable_record(entry: Any) -> bool:
    """Whether a store can write ``entry`` as a kept log record (a JSON object)."""
    if not isinstance(entry, dict):
        return False
    try:
        json.dumps(entry, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
