"""How much of a job's history stays in memory (``Flow(history_limit=...)``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routilux._model.job_state import JobState

__all__ = ["DEFAULT_HISTORY_LIMIT", "HistoryLimit"]

#: How many of a job's latest history records a flow keeps by default
#: (``Flow(history_limit=...)``): a long job runs in memory proportional to
#: its pending work, not to its past.
DEFAULT_HISTORY_LIMIT = 10_000


class HistoryLimit:
    """Trims one job's flat history (four items a record) to its flow's limit.

    Trimmed to ``keep`` items once it holds more than ``cap`` (twice as
    many), so trimming costs O(1) a record. The engine compares the
    history's length with ``cap`` after each delivery that recorded; the
    job trims the records its handlers add themselves the same way.

    Attributes:
        keep: Items left after a trim (``None``: no limit).
        cap: Items that set off a trim (``sys.maxsize``: never).
    """

    __slots__ = ("cap", "keep")

    def __init__(self, job: JobState, limit: int | None) -> None:
        self.keep = None if limit is None else 4 * limit
        self.cap = sys.maxsize if limit is None else 8 * limit
        job.limit_history(limit)

    def trim(self, job: JobState) -> None:
        """Drop the oldest records beyond the limit (under the job's lock)."""
        if self.keep is not None:
            job.trim_history(self.keep)
