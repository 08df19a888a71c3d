"""ExecutionTracker on its own: the records its methods write and the figures it reads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from routilux.execution_tracker import ExecutionTracker


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0), text
    return moment


def test_a_new_tracker_has_the_published_fields() -> None:
    tracker = ExecutionTracker("orders")
    assert tracker.flow_id == "orders"
    assert tracker.routine_executions == {}
    assert tracker.event_flow == []
    assert tracker.performance_metrics == {}
    assert ExecutionTracker().flow_id == ""


def test_a_start_appends_a_running_record_with_a_utc_start_time() -> None:
    tracker = ExecutionTracker()
    before = datetime.now().astimezone()
    tracker.record_routine_start("step", {"n": 1})
    tracker.record_routine_start("step")
    first, second = tracker.routine_executions["step"]
    assert set(first) == {"routine_id", "start_time", "params", "status"}
    assert (first["routine_id"], first["params"], first["status"]) == ("step", {"n": 1}, "running")
    assert utc(first["start_time"]) >= before
    assert second["params"] == {}


def test_an_end_completes_the_latest_record_of_the_routine() -> None:
    tracker = ExecutionTracker()
    tracker.record_routine_start("step", {"n": 1})
    tracker.record_routine_start("step", {"n": 2})
    tracker.record_routine_end("step")
    first, latest = tracker.routine_executions["step"]
    assert first["status"] == "running"
    assert set(latest) == {
        *("routine_id", "start_time", "params", "status", "end_time", "execution_time"),
    }
    assert latest["status"] == "completed"
    assert utc(latest["end_time"]) >= utc(latest["start_time"])
    assert isinstance(latest["execution_time"], float)
    assert latest["execution_time"] >= 0


def test_an_end_keeps_a_result_or_an_error_when_given() -> None:
    tracker = ExecutionTracker()
    tracker.record_routine_start("a")
    tracker.record_routine_end("a", "completed", result={"total": 3})
    tracker.record_routine_start("b")
    tracker.record_routine_end("b", "failed", error="boom")
    assert tracker.routine_executions["a"][0]["result"] == {"total": 3}
    assert "error" not in tracker.routine_executions["a"][0]
    assert tracker.routine_executions["b"][0]["error"] == "boom"
    assert tracker.routine_executions["b"][0]["status"] == "failed"
    assert "result" not in tracker.routine_executions["b"][0]


def test_an_end_of_a_routine_never_started_does_nothing() -> None:
    tracker = ExecutionTracker()
    tracker.record_routine_end("ghost", "failed", error="boom")
    assert tracker.routine_executions == {}


def test_an_event_record_names_source_event_target_and_data() -> None:
    tracker = ExecutionTracker()
    tracker.record_event("source", "out", "sink", {"n": 1})
    tracker.record_event("source", "done")
    first, second = tracker.event_flow
    assert {k: v for k, v in first.items() if k != "timestamp"} == {
        "source_routine_id": "source",
        "event_name": "out",
        "target_routine_id": "sink",
        "data": {"n": 1},
    }
    utc(first["timestamp"])
    assert (second["target_routine_id"], second["data"]) == (None, {})


def test_the_performance_of_a_routine_without_records_is_none() -> None:
    assert ExecutionTracker().get_routine_performance("ghost") is None


def ended(tracker: ExecutionTracker, routine_id: str, status: str, seconds: float) -> None:
    tracker.record_routine_start(routine_id)
    tracker.record_routine_end(routine_id, status)
    tracker.routine_executions[routine_id][-1]["execution_time"] = seconds


def test_the_performance_of_a_routine_counts_statuses_and_times_the_ended_ones() -> None:
    tracker = ExecutionTracker()
    ended(tracker, "step", "completed", 1.0)
    ended(tracker, "step", "completed", 3.0)
    ended(tracker, "step", "failed", 2.0)
    ended(tracker, "step", "skipped", 6.0)
    tracker.record_routine_start("step")  # Still running: no time yet.
    assert tracker.get_routine_performance("step") == {
        "total_executions": 5,
        "completed": 2,
        "failed": 1,
        "success_rate": 0.4,
        "avg_execution_time": 3.0,
        "min_execution_time": 1.0,
        "max_execution_time": 6.0,
    }


def test_the_times_of_a_routine_with_none_ended_are_zero() -> None:
    tracker = ExecutionTracker()
    tracker.record_routine_start("step")
    performance = tracker.get_routine_performance("step")
    assert performance is not None
    assert performance["success_rate"] == 0
    assert performance["avg_execution_time"] == performance["max_execution_time"] == 0


def test_the_flow_performance_sums_each_routines_average_time() -> None:
    tracker = ExecutionTracker()
    ended(tracker, "a", "completed", 1.0)
    ended(tracker, "a", "completed", 3.0)
    ended(tracker, "b", "completed", 4.0)
    tracker.record_event("a", "out", "b")
    assert tracker.get_flow_performance() == {
        "total_routines": 2,
        "total_events": 1,
        "total_execution_time": pytest.approx(6.0),
        "avg_routine_time": pytest.approx(3.0),
    }


def test_the_flow_performance_of_an_empty_tracker_is_zero() -> None:
    assert ExecutionTracker().get_flow_performance() == {
        "total_routines": 0,
        "total_events": 0,
        "total_execution_time": 0.0,
        "avg_routine_time": 0.0,
    }
