"""cancel_stored_job and delete_stored_job: acting on a job that no flow of this process runs."""

from __future__ import annotations

import pytest

from routilux import (
    JobNotFound,
    JobOwnedError,
    JobState,
    JobStatus,
    cancel_stored_job,
    delete_stored_job,
)
from routilux.stores import MemoryStore, StoredDelivery


def stored_job(store: MemoryStore, *, owner: str | None = None, pending: int = 2) -> str:
    job = JobState("flow")
    job.status = JobStatus.RUNNING
    deliveries = [
        StoredDelivery(seq=n, routine_id="worker", slot="input", data={"n": n})
        for n in range(pending)
    ]
    lease = None if owner is None else 60.0
    store.create_job(
        job.serialize(), pending=deliveries, next_seq=pending, owner=owner, lease=lease
    )
    return job.job_id


def test_cancel_marks_the_job_cancelled_and_drops_its_deliveries() -> None:
    store = MemoryStore()
    job_id = stored_job(store, pending=3)
    assert cancel_stored_job(store, job_id) == 3
    stored = store.load_job(job_id)
    assert stored.document["status"] == "cancelled"
    assert stored.document["error"] == "cancelled (3 pending deliveries dropped)"
    assert stored.pending == []


def test_cancel_of_an_ended_job_changes_nothing() -> None:
    store = MemoryStore()
    job_id = stored_job(store)
    cancel_stored_job(store, job_id)
    assert cancel_stored_job(store, job_id) is None
    assert store.load_job(job_id).document["status"] == "cancelled"


def test_cancel_refuses_a_job_whose_owner_holds_a_live_lease() -> None:
    store = MemoryStore()
    job_id = stored_job(store, owner="elsewhere:1")
    with pytest.raises(JobOwnedError, match="can be cancelled once that process has ended"):
        cancel_stored_job(store, job_id)
    assert store.load_job(job_id).document["status"] == "running"


def test_delete_removes_the_job_and_refuses_a_missing_one() -> None:
    store = MemoryStore()
    job_id = stored_job(store)
    delete_stored_job(store, job_id)
    with pytest.raises(JobNotFound):
        store.load_job(job_id)
    with pytest.raises(JobNotFound):
        delete_stored_job(store, job_id)
