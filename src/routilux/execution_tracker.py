"""ExecutionTracker: what each routine of a job ran, when, and what it emitted.

With ``Flow(track_execution=True)``, every job gets a tracker of its own,
``job_state.execution_tracker`` (and ``flow.execution_tracker`` is the
newest job's). The engine then records, for every delivery attempt, a
start and an end under the routine's id in the flow, and, for every emit
of an attempt that succeeded, an event. A tracker can also be filled by
hand with the ``record_*`` methods, as in the published routilux 0.10.

Times are ISO-8601 text in UTC (``2024-05-01T12:00:00.123456+00:00``);
durations are seconds. A tracker lives in memory only: job documents and
job stores do not keep it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = ["ExecutionTracker"]

_UTC = timezone.utc


@lru_cache(maxsize=2)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, _UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _iso(moment: float) -> str:
    """``moment`` (seconds since the epoch) as ISO-8601 text in UTC, to the microsecond.

    About half the cost of ``datetime.isoformat``, which the engine would
    otherwise pay three times per delivery: the date and time of day change
    once a second.
    """
    second = int(moment)
    return f"{_second_text(second)}.{int((moment - second) * 1_000_000):06d}+00:00"


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


class _Attempt(NamedTuple):
    """A delivery attempt the engine is recording: its record, and when it started."""

    record: dict[str, Any]
    start: float


class ExecutionTracker:
    """The executions of each routine of one job, and the events between them.

    An execution record is a dict: ``routine_id``, ``start_time``,
    ``params`` (the message delivered) and ``status`` (``"running"`` until
    it ends); an ended one also has ``end_time``, ``execution_time`` (in
    seconds), and ``result`` or ``error`` when one was given. The engine
    ends each delivery attempt with one of these statuses:

    - ``"completed"``: the handler returned;
    - ``"failed"``: it raised, and the error policy retries the delivery
      (the retry is a record of its own) or stops the job;
    - ``"skipped"``: it raised, under a ``SKIP`` policy;
    - ``"error_continued"``: it raised, under a ``CONTINUE`` policy.

    An event record is a dict: ``timestamp``, ``source_routine_id``,
    ``event_name``, ``target_routine_id`` (the first connected routine, or
    ``None``) and ``data``; the engine's also have ``target_routine_ids``,
    every connected routine once, in connection order.

    Its methods may be called from several threads at once.

    Attributes:
        flow_id: The id of the flow whose job this is.
        routine_executions: The execution records of each routine, by
            routine id, oldest first.
        event_flow: The event records, oldest first.
        performance_metrics: Kept for programs written for routilux 0.10;
            nothing fills it (see :meth:`get_routine_performance` and
            :meth:`get_flow_performance`).
    """

    def __init__(self, flow_id: str = "") -> None:
        self.flow_id = flow_id
        self.routine_executions: dict[str, list[dict[str, Any]]] = {}
        self.event_flow: list[dict[str, Any]] = []
        self.performance_metrics: dict[str, Any] = {}
        self._lock = threading.Lock()
        # The engine's records not ended yet, by delivery number.
        self._open: dict[int, _Attempt] = {}

    def __repr__(self) -> str:
        executions = sum(len(records) for records in self.routine_executions.values())
        return (
            f"<ExecutionTracker flow_id={self.flow_id!r} executions={executions} "
            f"events={len(self.event_flow)}>"
        )

    # -- recording ------------------------------------------------------------------

    def record_routine_start(self, routine_id: str, params: dict[str, Any] | None = None) -> None:
        """Start an execution record of ``routine_id``, with status ``"running"``.

        Args:
            routine_id: The routine's id in the flow.
            params: What it was given (``{}`` by default).
        """
        record = _start(routine_id, params, time.time())
        with self._lock:
            self.routine_executions.setdefault(routine_id, []).append(record)

    def record_routine_end(
        self,
        routine_id: str,
        status: str = "completed",
        result: Any = None,
        error: str | None = None,
    ) -> None:
        """End the latest execution record of ``routine_id``.

        It gets ``end_time``, ``status``, ``execution_time`` and, when they
        are not ``None``, ``result`` and ``error``. A routine with no record
        is left alone.
        """
        with self._lock:
            records = self.routine_executions.get(routine_id)
            if records:
                record = records[-1]
                _end(record, status, result, error, _epoch(record["start_time"]))

    def record_event(
        self,
        source_routine_id: str,
        event_name: str,
        target_routine_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Add an event record: ``source_routine_id`` emitted ``event_name``."""
        record = {
            "timestamp": _iso(time.time()),
            "source_routine_id": source_routine_id,
            "event_name": event_name,
            "target_routine_id": target_routine_id,
            "data": data if data is not None else {},
        }
        with self._lock:
            self.event_flow.append(record)

    # -- reading ----------------------------------------------------------------------

    def get_routine_performance(self, routine_id: str) -> dict[str, Any] | None:
        """Figures of ``routine_id``'s executions, or ``None`` if it has none.

        Returns:
            ``total_executions``, ``completed`` and ``failed`` (counts by
            status), ``success_rate`` (completed / total), and
            ``avg_execution_time``, ``min_execution_time`` and
            ``max_execution_time`` in seconds, over the ended executions
            (0 when none has ended).
        """
        with self._lock:
            records = list(self.routine_executions.get(routine_id) or ())
        if not records:
            return None
        statuses = [record["status"] for record in records]
        times = [record["execution_time"] for record in records if "execution_time" in record]
        return {
            "total_executions": len(records),
            "completed": statuses.count("completed"),
            "failed": statuses.count("failed"),
            "success_rate": statuses.count("completed") / len(records),
            "avg_execution_time": sum(times) / len(times) if times else 0.0,
            "min_execution_time": min(times, default=0.0),
            "max_execution_time": max(times, default=0.0),
        }

    def get_flow_performance(self) -> dict[str, Any]:
        """Figures of the whole job.

        Returns:
            ``total_routines`` (routines with executions), ``total_events``,
            ``total_execution_time`` (the sum of each routine's average
            execution time, as routilux 0.10 computes it) and
            ``avg_routine_time`` (that sum divided by ``total_routines``).
        """
        with self._lock:
            routine_ids = list(self.routine_executions)
            events = len(self.event_flow)
        total = 0.0
        for routine_id in routine_ids:
            performance = self.get_routine_performance(routine_id)
            if performance is not None:
                total += performance["avg_execution_time"]
        return {
            "total_routines": len(routine_ids),
            "total_events": events,
            "total_execution_time": total,
            "avg_routine_time": total / len(routine_ids) if routine_ids else 0.0,
        }

    # -- the engine's side (routilux._engine.tracking) --------------------------------

    def _started(self, seq: int, routine_id: str, params: dict[str, Any]) -> _Attempt:
        """Start the record of an attempt of delivery ``seq``."""
        start = time.time()
        attempt = _Attempt(_start(routine_id, params, start), start)
        with self._lock:
            self.routine_executions.setdefault(routine_id, []).append(attempt.record)
            self._open[seq] = attempt
        return attempt

    def _succeeded(self, seq: int, attempt: _Attempt, events: Iterable[dict[str, Any]]) -> None:
        """End ``attempt`` ``completed`` and add its ``events``.

        Nothing happens if the attempt was already ended as failed (its
        handler ran past its routine's timeout, and returned later).
        """
        record = attempt.record
        with self._lock:
            if record["status"] != "running":
                return
            if self._open.get(seq) is attempt:
                del self._open[seq]
            _end(record, "completed", None, None, attempt.start)
            self.event_flow.extend(events)

    @staticmethod
    def _event(
        source_routine_id: str, event_name: str, targets: list[str], data: dict[str, Any]
    ) -> dict[str, Any]:
        """The record of an emit, sent to the routines ``targets`` (for ``_succeeded``)."""
        return {
            "timestamp": _iso(time.time()),
            "source_routine_id": source_routine_id,
            "event_name": event_name,
            "target_routine_id": targets[0] if targets else None,
            "target_routine_ids": targets,
            "data": data,
        }

    def _failed(
        self, seq: int, routine_id: str, params: dict[str, Any], status: str, error: str
    ) -> None:
        """End the record of the failed attempt of delivery ``seq`` with ``status``.

        An attempt whose handler returned but whose output could not be
        stored was ended ``completed``: its record is found by its message.
        """
        with self._lock:
            attempt = self._open.pop(seq, None)
            if attempt is not None:
                _end(attempt.record, status, None, error, attempt.start)
                return
            record = _completed_with(self.routine_executions.get(routine_id, []), params)
            if record is not None:
                _end(record, status, None, error, _epoch(record["start_time"]))


def _start(routine_id: str, params: dict[str, Any] | None, start: float) -> dict[str, Any]:
    return {
        "routine_id": routine_id,
        "start_time": _iso(start),
        "params": params if params is not None else {},
        "status": "running",
    }


def _end(record: dict[str, Any], status: str, result: Any, error: str | None, start: float) -> None:
    end = time.time()
    record["end_time"] = _iso(end)
    record["status"] = status
    if result is not None:
        record["result"] = result
    if error is not None:
        record["error"] = error
    record["execution_time"] = max(0.0, end - start)


def _completed_with(records: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any] | None:
    """The latest ``completed`` record of ``records`` given the very object ``params``."""
    return next(
        (r for r in reversed(records) if r["params"] is params and r["status"] == "completed"),
        None,
    )
