"""JobState: status machine, waiting, routine states, shared data and log, history."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from routilux import (
    ExecutionRecord,
    Flow,
    InvalidLogEntryError,
    InvalidTransitionError,
    JobState,
    JobStatus,
    Routine,
)


class Emitter(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda: self.emit("out", v=1))
        self.define_event("out")


def finished_job() -> tuple[Flow, JobState]:
    flow = Flow(flow_id="f")
    flow.add_routine(Emitter(), "emitter")
    return flow, flow.execute("emitter")


# -- a new job -------------------------------------------------------------------------


def test_a_new_job_is_pending_with_a_uuid4_id() -> None:
    job = JobState("flow-1")
    assert job.status == JobStatus.PENDING
    assert uuid.UUID(job.job_id).version == 4
    assert job.flow_id == "flow-1"


def test_job_ids_are_unique() -> None:
    assert len({JobState("f").job_id for _ in range(50)}) == 50


def test_a_given_job_id_is_kept() -> None:
    assert JobState("f", job_id="fixed").job_id == "fixed"


def test_a_new_job_starts_empty() -> None:
    job = JobState("f")
    assert job.routine_states == {}
    assert job.execution_history == []
    assert job.shared_data == {}
    assert job.shared_log == []
    assert job.errors == []
    assert job.error is None
    assert job.current_routine_id is None
    assert job.pending_deliveries == []


def test_timestamps_are_timezone_aware_utc() -> None:
    job = JobState("f")
    assert job.created_at.tzinfo is not None
    assert job.created_at.utcoffset() == timezone.utc.utcoffset(None)
    assert job.updated_at == job.created_at


def test_an_executed_job_was_updated_after_it_was_created() -> None:
    _, job = finished_job()
    assert job.updated_at >= job.created_at
    assert isinstance(job.updated_at, datetime)


# -- status ----------------------------------------------------------------------------


def test_status_values() -> None:
    assert [s.value for s in JobStatus] == [
        "pending",
        "running",
        "paused",
        "completed",
        "failed",
        "cancelled",
    ]


@pytest.mark.parametrize("status", list(JobStatus))
def test_status_prints_as_its_bare_value(status: JobStatus) -> None:
    assert str(status) == status.value
    assert f"{status}" == status.value
    assert f"{status:>10}" == f"{status.value:>10}"
    assert status == status.value
    assert isinstance(status, str)


def test_the_status_of_an_executed_job_prints_as_completed() -> None:
    _, job = finished_job()
    assert f"Status: {job.status}" == "Status: completed"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (JobStatus.PENDING, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.PAUSED),
        (JobStatus.PAUSED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.COMPLETED),
        (JobStatus.RUNNING, JobStatus.FAILED),
        (JobStatus.RUNNING, JobStatus.CANCELLED),
        (JobStatus.PENDING, JobStatus.CANCELLED),
    ],
)
def test_allowed_transitions(old: JobStatus, new: JobStatus) -> None:
    assert old.can_become(new)
    old.check_transition(new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (JobStatus.COMPLETED, JobStatus.RUNNING),
        (JobStatus.FAILED, JobStatus.COMPLETED),
        (JobStatus.CANCELLED, JobStatus.RUNNING),
        (JobStatus.PENDING, JobStatus.COMPLETED),
        (JobStatus.PENDING, JobStatus.PAUSED),
        (JobStatus.RUNNING, JobStatus.PENDING),
    ],
)
def test_illegal_transitions_raise(old: JobStatus, new: JobStatus) -> None:
    assert not old.can_become(new)
    with pytest.raises(InvalidTransitionError, match=f"from '{old.value}' to '{new.value}'"):
        old.check_transition(new)


def test_invalid_transition_error_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        JobStatus.COMPLETED.check_transition(JobStatus.FAILED)


@pytest.mark.parametrize("status", list(JobStatus))
def test_exactly_the_terminal_statuses_allow_no_transition(status: JobStatus) -> None:
    assert status.is_terminal == (not any(status.can_become(s) for s in JobStatus))


def test_terminal_statuses() -> None:
    assert {s for s in JobStatus if s.is_terminal} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }


# -- waiting ---------------------------------------------------------------------------


def test_wait_returns_true_for_a_finished_job() -> None:
    _, job = finished_job()
    assert job.is_finished
    assert job.wait(timeout=0) is True
    assert job.wait() is True


def test_wait_for_completion_returns_true_for_a_finished_job() -> None:
    flow, job = finished_job()
    assert JobState.wait_for_completion(flow, job, timeout=1.0) is True


def test_wait_times_out_with_false_for_an_unfinished_job() -> None:
    job = JobState("f")
    assert job.is_finished is False
    assert job.wait(timeout=0.01) is False
    assert JobState.wait_for_completion(None, job, timeout=0.01) is False


# -- routine states --------------------------------------------------------------------


def test_update_routine_state_merges_keys() -> None:
    job = JobState("f")
    job.update_routine_state("r", {"a": 1, "b": 2})
    job.update_routine_state("r", {"b": 3, "c": 4})
    assert job.get_routine_state("r") == {"a": 1, "b": 3, "c": 4}


def test_get_routine_state_returns_a_copy_or_none() -> None:
    job = JobState("f")
    job.update_routine_state("r", {"a": 1})
    copy = job.get_routine_state("r")
    assert copy is not None
    copy["a"] = 99
    assert job.get_routine_state("r") == {"a": 1}
    assert job.get_routine_state("unknown") is None


def test_routine_states_are_kept_per_routine() -> None:
    job = JobState("f")
    job.update_routine_state("one", {"x": 1})
    job.update_routine_state("two", {"x": 2})
    assert job.routine_states == {"one": {"x": 1}, "two": {"x": 2}}


# -- shared data and log ---------------------------------------------------------------


def test_shared_data_is_set_and_read() -> None:
    job = JobState("f")
    job.update_shared_data("k", [1, 2])
    assert job.get_shared_data("k") == [1, 2]
    assert job.shared_data == {"k": [1, 2]}


def test_get_shared_data_returns_the_default_for_a_missing_key() -> None:
    job = JobState("f")
    assert job.get_shared_data("missing") is None
    assert job.get_shared_data("missing", 0) == 0


def test_shared_log_entries_get_an_iso_utc_timestamp() -> None:
    job = JobState("f")
    before = datetime.now(timezone.utc)
    job.append_to_shared_log({"event": "start"})
    [entry] = job.get_shared_log()
    assert entry["event"] == "start"
    stamp = datetime.fromisoformat(entry["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert before <= stamp <= datetime.now(timezone.utc)


@pytest.mark.parametrize("entry", ["text", [("a", 1)], 5])
@pytest.mark.parametrize("caught", [TypeError, ValueError, InvalidLogEntryError])
def test_shared_log_refuses_an_entry_that_is_not_a_mapping(
    entry: Any, caught: type[Exception]
) -> None:
    job = JobState("flow")
    with pytest.raises(caught, match="append_to_shared_log expects a mapping"):
        job.append_to_shared_log(entry)
    assert job.shared_log == []


def test_shared_log_keeps_a_given_timestamp() -> None:
    job = JobState("f")
    job.append_to_shared_log({"event": "x", "timestamp": 12.5})
    assert job.get_shared_log() == [{"event": "x", "timestamp": 12.5}]


def test_shared_log_copies_the_entry_and_keeps_the_order() -> None:
    job = JobState("f")
    entry: dict[str, Any] = {"n": 1}
    job.append_to_shared_log(entry)
    job.append_to_shared_log({"n": 2})
    assert entry == {"n": 1}
    assert [e["n"] for e in job.get_shared_log()] == [1, 2]


def test_get_shared_log_returns_a_copy() -> None:
    job = JobState("f")
    job.append_to_shared_log({"n": 1})
    job.get_shared_log().clear()
    assert len(job.get_shared_log()) == 1


# -- history ---------------------------------------------------------------------------


def test_execution_history_of_an_executed_job() -> None:
    _, job = finished_job()
    [record] = job.execution_history
    assert (record.routine_id, record.event_name, record.data) == ("emitter", "out", {"v": 1})
    assert record.to_dict()["routine_id"] == "emitter"


def test_get_execution_history_filters_by_routine_id() -> None:
    job = JobState("f")
    job.execution_history = [
        ExecutionRecord("a", "out", {"n": 1}, 1.0),
        ExecutionRecord("b", "out", {"n": 2}, 2.0),
        ExecutionRecord("a", "done", {"n": 3}, 3.0),
    ]
    assert [r.data["n"] for r in job.get_execution_history("a")] == [1, 3]
    assert [r.data["n"] for r in job.get_execution_history()] == [1, 2, 3]
    assert job.get_execution_history("c") == []
