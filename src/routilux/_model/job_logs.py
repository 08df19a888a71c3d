"""The records a job keeps of what its handlers logged (``Flow(keep_logs=...)``)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routilux._model.durable import CheckpointMarks

__all__ = ["MAX_KEPT_LOGS", "JobLogs"]

#: Records one job keeps; past it, the oldest is dropped (``JobState.logs_dropped``).
MAX_KEPT_LOGS = 1000


class JobLogs:
    """The log records kept with a job (a part of :class:`JobState`).

    Filled while the job runs when its flow has ``keep_logs`` on; each entry
    is a JSON-compatible dict (see :mod:`routilux.logs`). At most
    :data:`MAX_KEPT_LOGS` are kept: each one past it drops the oldest and
    adds one to :attr:`logs_dropped`. Job documents do not keep them; a
    durable job's store keeps every one (each record is also held for the
    job's next checkpoint, dropped from memory or not), and a job resumed
    from its store starts with the last :data:`MAX_KEPT_LOGS` of them.

    Attributes:
        logs_dropped: How many of the oldest records were dropped.
    """

    logs_dropped: int
    _logs: deque[dict[str, Any]]
    _lock: threading.RLock
    checkpoint_marks: CheckpointMarks

    def _init_logs(self) -> None:
        self._logs = deque(maxlen=MAX_KEPT_LOGS)
        self.logs_dropped = 0

    def keep_log(self, entry: dict[str, Any]) -> None:
        """Keep ``entry`` (a log record's fields), dropping the oldest past the bound.

        A durable job also holds it for its next checkpoint, which stores it.
        """
        with self._lock:
            if len(self._logs) == MAX_KEPT_LOGS:
                self.logs_dropped += 1
            self._logs.append(entry)
            unsaved = self.checkpoint_marks.unsaved_logs
            if unsaved is not None:
                unsaved.append(entry)

    def restore_logs(self, entries: Iterable[dict[str, Any]], dropped: int) -> None:
        """Keep ``entries`` instead of the records kept so far (a resume from the store).

        Args:
            entries: The records, oldest first; only the last
                :data:`MAX_KEPT_LOGS` are kept.
            dropped: How many older records there are (the store's, not read).
        """
        with self._lock:
            self._logs = deque(entries, maxlen=MAX_KEPT_LOGS)
            self.logs_dropped = dropped

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The kept log records, oldest first (a copy)."""
        with self._lock:
            return list(self._logs)

    def get_logs(self, min_level: int = 0) -> list[dict[str, Any]]:
        """The kept log records of ``min_level`` (a :mod:`logging` level) or above, oldest first."""
        with self._lock:
            return [entry for entry in self._logs if entry["levelno"] >= min_level]
