"""The records a job keeps of what its handlers logged (``Flow(keep_logs=...)``)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

__all__ = ["MAX_KEPT_LOGS", "JobLogs"]

#: Records one job keeps; past it, the oldest is dropped (``JobState.logs_dropped``).
MAX_KEPT_LOGS = 1000


class JobLogs:
    """The log records kept with a job (a part of :class:`JobState`).

    Filled while the job runs when its flow has ``keep_logs`` on; each entry
    is a JSON-compatible dict (see :mod:`routilux.logs`). At most
    :data:`MAX_KEPT_LOGS` are kept: each one past it drops the oldest and
    adds one to :attr:`logs_dropped`. In memory only: documents and stores
    do not keep them.

    Attributes:
        logs_dropped: How many of the oldest records were dropped.
    """

    logs_dropped: int
    _logs: deque[dict[str, Any]]
    _lock: threading.RLock

    def _init_logs(self) -> None:
        self._logs = deque(maxlen=MAX_KEPT_LOGS)
        self.logs_dropped = 0

    def keep_log(self, entry: dict[str, Any]) -> None:
        """Keep ``entry`` (a log record's fields), dropping the oldest past the bound."""
        with self._lock:
            if len(self._logs) == MAX_KEPT_LOGS:
                self.logs_dropped += 1
            self._logs.append(entry)

    @property
    def logs(self) -> list[dict[str, Any]]:
        """The kept log records, oldest first (a copy)."""
        with self._lock:
            return list(self._logs)

    def get_logs(self, min_level: int = 0) -> list[dict[str, Any]]:
        """The kept log records of ``min_level`` (a :mod:`logging` level) or above, oldest first."""
        with self._lock:
            return [entry for entry in self._logs if entry["levelno"] >= min_level]
