"""routilux.read_job_logs and follow_job_logs: a job's stored log records, once or as they come."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import (
    DefinitionError,
    JobNotFound,
    JobState,
    JobStatus,
    follow_job_logs,
    read_job_logs,
)
from routilux.stores import Checkpoint, MemoryStore, StoredLogRecord


def record(n: int, levelno: int = 20) -> dict[str, Any]:
    return {"message": f"m{n}", "levelno": levelno, "level": "X"}


def append(store: MemoryStore, job: JobState, *records: dict[str, Any], status: str = "running"):
    store.checkpoint(
        Checkpoint(
            job_id=job.job_id,
            status=status,
            updated_at="2024-05-01T12:00:00+00:00",
            current_routine_id=None,
            error=None,
            deliveries=0,
            next_seq=1,
            job_logs=list(records),
        )
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def job(store: MemoryStore) -> JobState:
    job = JobState("flow")
    job.status = JobStatus.RUNNING
    store.create_job(job.serialize(), pending=[], next_seq=0)
    return job


def test_read_returns_the_records_with_their_positions(store: MemoryStore, job: JobState) -> None:
    append(store, job, record(0), record(1, 30), record(2))

    assert read_job_logs(store, job.job_id) == [
        StoredLogRecord(0, record(0)),
        StoredLogRecord(1, record(1, 30)),
        StoredLogRecord(2, record(2)),
    ]
    assert [e.position for e in read_job_logs(store, job.job_id, after=2)] == [2]


@pytest.mark.parametrize("level", [30, "WARNING", "warning"])
def test_read_keeps_the_records_of_a_level_or_above(
    store: MemoryStore, job: JobState, level: int | str
) -> None:
    append(store, job, record(0), record(1, 30), record(2, 40), {"message": "no level"})

    assert [e.position for e in read_job_logs(store, job.job_id, min_level=level)] == [1, 2]


def test_an_unknown_job_is_not_found_naming_the_store_and_the_job(store: MemoryStore) -> None:
    with pytest.raises(JobNotFound, match=r"The store <MemoryStore jobs=0> has no job 'nope'"):
        read_job_logs(store, "nope")
    with pytest.raises(JobNotFound, match="has no job 'nope'"):
        list(follow_job_logs(store, "nope"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_level": "LOUD"}, "min_level must be a logging level"),
        ({"min_level": -1}, "min_level must be a logging level"),
        ({"min_level": True}, "min_level must be a logging level"),
        ({"after": -2}, "after must be an integer of at least 0"),
    ],
)
def test_arguments_that_are_not_valid_are_refused(
    store: MemoryStore, job: JobState, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        read_job_logs(store, job.job_id, **arguments)


def test_something_that_is_not_a_store_is_refused() -> None:
    with pytest.raises(DefinitionError, match="must be a job store"):
        read_job_logs("sqlite:///jobs.db", "job")  # type: ignore[arg-type]


def test_follow_yields_records_as_they_come_until_the_job_has_ended(
    store: MemoryStore, job: JobState
) -> None:
    append(store, job, record(0))
    # What the job does while the follower waits, one step per poll.
    steps = [
        lambda: None,
        lambda: append(store, job, record(1), record(2, 10)),
        lambda: append(store, job, record(3), status="completed"),
    ]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        steps.pop(0)()

    followed = follow_job_logs(store, job.job_id, min_level="INFO", interval=0.25, sleep=sleep)

    assert [entry.position for entry in followed] == [0, 1, 3]
    assert waits == [0.25, 0.25, 0.25]
    assert steps == []


def test_follow_of_an_ended_job_yields_its_records_and_stops(
    store: MemoryStore, job: JobState
) -> None:
    append(store, job, record(0), record(1), status="failed")

    def sleep(seconds: float) -> None:
        raise AssertionError("an ended job is not waited for")

    assert [e.position for e in follow_job_logs(store, job.job_id, after=1, sleep=sleep)] == [1]


@pytest.mark.parametrize("interval", [0, -1, "1", True])
def test_follow_refuses_an_interval_that_is_not_seconds(
    store: MemoryStore, job: JobState, interval: Any
) -> None:
    with pytest.raises(DefinitionError, match="interval must be a number of seconds"):
        next(follow_job_logs(store, job.job_id, interval=interval))
