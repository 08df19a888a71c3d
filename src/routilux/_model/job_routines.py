"""What a job keeps of each routine: its state, and the engine's own records of it."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from routilux._model.records import RoutineStats

if TYPE_CHECKING:
    from routilux._model.durable import CheckpointMarks

__all__ = ["ROUTINE_OUTCOMES", "JobRoutines"]

#: The statuses the engine writes into a routine's state, as routilux 0.10
#: did, weakest first: an outcome replaces the status only if it ranks at
#: least as high, so a routine that failed once stays ``failed``.
ROUTINE_OUTCOMES = ("completed", "skipped", "error_continued", "failed")
_RANK = {status: rank for rank, status in enumerate(ROUTINE_OUTCOMES)}


class JobRoutines:
    """The per-routine parts of a :class:`JobState`.

    ``routine_states`` is what handlers stored, plus the ``status``,
    ``error`` and ``error_time`` that the engine writes there after an
    outcome routilux 0.10 recorded too. What the engine keeps for itself
    (delivery counts, job values, named timers) is kept apart, behind
    read-only views, so that a routine's state prints as its handlers left it.

    Attributes:
        routine_states: Per-routine state, by routine id.
    """

    job_id: str
    routine_states: dict[str, dict[str, Any]]
    _lock: threading.RLock
    checkpoint_marks: CheckpointMarks
    # The engine's own records, by routine id: counts, job values, and each
    # named timer's pending delivery number.
    _routine_stats: dict[str, RoutineStats]
    _job_values: dict[str, dict[str, Any]]
    _timers: dict[str, dict[str, int]]

    def update_routine_state(self, routine_id: str, state: dict[str, Any]) -> None:
        """Merge ``state`` into the state of ``routine_id``."""
        with self._lock:
            self.routine_states.setdefault(routine_id, {}).update(state)
            self.checkpoint_marks.states_dirty = True

    def get_routine_state(self, routine_id: str) -> dict[str, Any] | None:
        """A copy of the state of ``routine_id``, or ``None`` if it has none."""
        with self._lock:
            state = self.routine_states.get(routine_id)
            return None if state is None else dict(state)

    def routine_stats(self, routine_id: str) -> RoutineStats | None:
        """What the engine counted of ``routine_id``, or ``None`` if it received no delivery.

        Written when the job ends or pauses, and at each checkpoint of a
        durable job; ``flow.get_progress`` has the counts of a running job.
        """
        with self._lock:
            return self._routine_stats.get(routine_id)

    def all_routine_stats(self) -> dict[str, RoutineStats]:
        """:meth:`routine_stats` of every routine that received a delivery, by routine id."""
        with self._lock:
            return dict(self._routine_stats)

    def job_values(self, routine_id: str) -> dict[str, Any]:
        """A copy of the job values of ``routine_id`` (``set_job_value``); ``{}`` if none."""
        with self._lock:
            return dict(self._job_values.get(routine_id, {}))

    def routine_timers(self, routine_id: str) -> dict[str, str]:
        """The named timers of ``routine_id`` waiting to fire, each with its delivery's id.

        A timer set with ``set_timer(name, ...)`` is listed until it fires
        or is cancelled; the id is its pending delivery's
        (``"<job_id>:<n>"``).
        """
        with self._lock:
            names = self._timers.get(routine_id, {})
            return {name: f"{self.job_id}:{seq}" for name, seq in names.items()}

    @property
    def engine_values(self) -> dict[str, dict[str, Any]]:
        """The live job values, by routine id (engine use: changed under the job's lock)."""
        return self._job_values

    @property
    def engine_timer_names(self) -> dict[str, dict[str, int]]:
        """The live named timers, name to delivery number, by routine id (engine use)."""
        return self._timers

    def record_outcome(
        self, routine_id: str, status: str, error: str | None = None, when: float | None = None
    ) -> Any:
        """Write an outcome into the routine's state (engine use); return the status it replaced.

        ``status`` is one of :data:`ROUTINE_OUTCOMES`; it replaces a weaker
        one only. ``error`` (the failure's text) is written whatever the
        status, and ``error_time`` (``when``, seconds since the epoch, as ISO
        8601 UTC) with ``failed``. The returned value goes back with
        :meth:`restore_outcome` (``None`` when there was no status).
        """
        with self._lock:
            state = self.routine_states.setdefault(routine_id, {})
            old = state.get("status")
            if _RANK.get(old if isinstance(old, str) else "", -1) <= _RANK[status]:
                state["status"] = status
            if error is not None:
                state["error"] = error
                if status == "failed" and when is not None:
                    state["error_time"] = datetime.fromtimestamp(when, timezone.utc).isoformat()
            self.checkpoint_marks.states_dirty = True
            return old

    def restore_outcome(self, routine_id: str, old: Any) -> None:
        """Put back the status :meth:`record_outcome` replaced (engine use)."""
        with self._lock:
            state = self.routine_states.setdefault(routine_id, {})
            if old is None:
                state.pop("status", None)
            else:
                state["status"] = old
            if not state:
                del self.routine_states[routine_id]
