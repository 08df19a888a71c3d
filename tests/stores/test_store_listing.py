"""Conformance, part 2: listing, deleting, dead letters, closing and threads, on every store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from store_helpers import checkpoint, dead_letter, delivery, new_job, utc

from routilux import JobState, JobStatus
from routilux.exceptions import DeadLetterNotFound, DefinitionError, JobNotFound, StoreError
from routilux.stores import JobStore

DAY = timedelta(days=1)


def test_jobs_are_listed_newest_first(store: JobStore) -> None:
    jobs = [new_job(store, created_at=utc(2024, 1, day)) for day in (2, 3, 1)]

    listed = [s.job_id for s in store.list_jobs()]

    assert listed == [jobs[1].job_id, jobs[0].job_id, jobs[2].job_id]


def test_jobs_are_listed_by_flow_and_status(store: JobStore) -> None:
    a_done = new_job(store, flow_id="a", status=JobStatus.COMPLETED)
    a_running = new_job(store, flow_id="a")
    b_failed = new_job(store, flow_id="b", status=JobStatus.FAILED)

    def ids(**filters: Any) -> set[str]:
        return {s.job_id for s in store.list_jobs(**filters)}

    assert ids(flow_id="a") == {a_done.job_id, a_running.job_id}
    assert ids(status="failed") == {b_failed.job_id}
    assert ids(status=["completed", "failed"]) == {a_done.job_id, b_failed.job_id}
    assert ids(flow_id="a", status=("running",)) == {a_running.job_id}
    assert ids(status=[]) == set()
    assert ids(status=JobStatus.FAILED) == {b_failed.job_id}


def test_listing_pages_with_limit_and_offset(store: JobStore) -> None:
    jobs = [new_job(store, created_at=utc(2024, 1, day)) for day in range(1, 6)]
    newest_first = [j.job_id for j in reversed(jobs)]

    page = [s.job_id for s in store.list_jobs(limit=2, offset=1)]

    assert page == newest_first[1:3]
    assert store.list_jobs(limit=0) == []
    assert store.list_jobs(offset=5) == []


def test_jobs_created_at_the_same_time_are_listed_by_job_id_descending(store: JobStore) -> None:
    jobs = [new_job(store, created_at=utc(2024, 1, 1)) for _ in range(5)]

    listed = [s.job_id for s in store.list_jobs()]

    assert listed == sorted((j.job_id for j in jobs), reverse=True)


def test_jobs_are_ordered_by_the_text_of_created_at(store: JobStore) -> None:
    # 10:00 at +05:00 is 05:00 UTC, earlier than 06:00 UTC, but its text sorts after.
    plus_five = timezone(timedelta(hours=5))
    later_text = new_job(store, created_at=datetime(2024, 1, 1, 10, tzinfo=plus_five))
    earlier_text = new_job(store, created_at=utc(2024, 1, 1, 6))

    listed = [s.job_id for s in store.list_jobs()]

    assert listed == [later_text.job_id, earlier_text.job_id]


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (0, -1), (-5, -5)])
def test_a_negative_limit_or_offset_is_refused(store: JobStore, limit: int, offset: int) -> None:
    new_job(store)

    with pytest.raises(ValueError, match="must not be negative"):
        store.list_jobs(limit=limit, offset=offset)
    with pytest.raises(ValueError, match="must not be negative"):
        store.list_dead_letters(limit=limit, offset=offset)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": "10"}, r"limit must be an integer, not '10'"),
        ({"offset": 1.5}, r"offset must be an integer, not 1\.5"),
        ({"limit": True}, r"limit must be an integer, not True"),
        ({"flow_id": 5}, r"flow_id must be a string or None, not 5"),
        ({"status": 5}, r"status must be a job status or a list of them, not 5"),
    ],
)
def test_a_listing_argument_of_the_wrong_type_is_refused(
    store: JobStore, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        store.list_jobs(**options)


@pytest.mark.parametrize("status", ["compleated", ["failed", "done"], [None]])
def test_listing_by_an_unknown_status_is_refused_naming_the_statuses(
    store: JobStore, status: Any
) -> None:
    new_job(store, status=JobStatus.COMPLETED)

    with pytest.raises(
        DefinitionError,
        match=r"status has .*, which is not a job status; the statuses are pending, running, "
        r"paused, completed, failed, cancelled\.",
    ):
        store.list_jobs(status=status)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": "10"}, r"limit must be an integer, not '10'"),
        ({"job_id": 5}, r"job_id must be a string or None, not 5"),
        ({"flow_id": ["f"]}, r"flow_id must be a string or None, not \['f'\]"),
    ],
)
def test_a_dead_letter_listing_argument_of_the_wrong_type_is_refused(
    store: JobStore, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        store.list_dead_letters(**options)


def test_a_summary_counts_pending_deliveries_and_dead_letters(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0), delivery(1), delivery(2)])
    letters = [dead_letter(job, 0), dead_letter(job, 1)]
    store.checkpoint(checkpoint(job, status="failed", error="x", done=[0, 1], dead_letters=letters))
    store.mark_replayed(letters[0].letter_id, "replay-job")

    (summary,) = store.list_jobs()

    assert (summary.job_id, summary.flow_id, summary.status) == (job.job_id, "flow", "failed")
    assert (summary.created_at, summary.error) == (job.created_at.isoformat(), "x")
    assert (summary.pending, summary.dead_letters) == (1, 2)


def test_delete_job_removes_the_job_and_its_dead_letters(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0)])
    other = new_job(store)
    store.checkpoint(checkpoint(job, dead_letters=[dead_letter(job, 0)]))

    assert store.delete_job(job.job_id) is True
    assert store.delete_job(job.job_id) is False
    with pytest.raises(JobNotFound):
        store.load_job(job.job_id)
    assert store.list_dead_letters(include_replayed=True) == []
    assert [s.job_id for s in store.list_jobs()] == [other.job_id]


def test_delete_jobs_removes_old_finished_jobs_only(store: JobStore) -> None:
    now = datetime.now(timezone.utc)
    old_done = new_job(store, status=JobStatus.COMPLETED, updated_at=now - 3 * DAY)
    new_job(store, status=JobStatus.RUNNING, updated_at=now - 3 * DAY)
    new_job(store, status=JobStatus.FAILED, updated_at=now)
    store.checkpoint(
        checkpoint(
            old_done,
            status="completed",
            updated_at=(now - 3 * DAY).isoformat(),
            dead_letters=[dead_letter(old_done, 0)],
        )
    )

    deleted = store.delete_jobs(updated_before=now - DAY)

    assert deleted == 1
    assert old_done.job_id not in {s.job_id for s in store.list_jobs()}
    assert len(store.list_jobs()) == 2
    assert store.list_dead_letters(include_replayed=True) == []


def test_delete_jobs_takes_the_statuses_it_is_given(store: JobStore) -> None:
    now = datetime.now(timezone.utc)
    new_job(store, status=JobStatus.RUNNING, updated_at=now - 3 * DAY)
    new_job(store, status=JobStatus.COMPLETED, updated_at=now - 3 * DAY)

    assert store.delete_jobs(updated_before=now, statuses=["running"]) == 1
    assert [s.status for s in store.list_jobs()] == ["completed"]
    assert store.delete_jobs(updated_before=now, statuses=[]) == 0


@pytest.mark.parametrize("before", ["yesterday", 1_700_000_000, None])
def test_delete_jobs_refuses_a_time_that_is_not_a_datetime(store: JobStore, before: Any) -> None:
    new_job(store, status=JobStatus.COMPLETED, updated_at=datetime(2024, 1, 1))

    with pytest.raises(DefinitionError, match=r"updated_before must be a datetime"):
        store.delete_jobs(updated_before=before)

    assert len(store.list_jobs()) == 1


def test_delete_jobs_refuses_an_unknown_status(store: JobStore) -> None:
    new_job(store, status=JobStatus.COMPLETED, updated_at=datetime(2024, 1, 1))

    with pytest.raises(DefinitionError, match=r"statuses has 'done', which is not a job status"):
        store.delete_jobs(updated_before=datetime.now(timezone.utc), statuses=["done"])

    assert len(store.list_jobs()) == 1


def test_delete_jobs_takes_a_naive_time_as_utc(store: JobStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    # 12:00 at +02:00 is 10:00 UTC.
    new_job(store, status=JobStatus.COMPLETED, updated_at=datetime(2024, 1, 1, 12, tzinfo=plus_two))

    kept = store.delete_jobs(updated_before=datetime(2024, 1, 1, 9, 59))
    deleted = store.delete_jobs(updated_before=datetime(2024, 1, 1, 10, 1))

    assert (kept, deleted) == (0, 1)


def test_delete_jobs_takes_a_naive_updated_at_as_utc(store: JobStore) -> None:
    job = new_job(store, status=JobStatus.COMPLETED, updated_at=datetime(2024, 1, 1, 10))
    other = new_job(store, status=JobStatus.RUNNING)
    store.checkpoint(checkpoint(other, status="failed", updated_at="2024-01-01T12:00:00"))
    plus_two = timezone(timedelta(hours=2))

    # 12:01 at +02:00 is 10:01 UTC: after the job's 10:00, before the other's 12:00.
    first = store.delete_jobs(updated_before=datetime(2024, 1, 1, 12, 1, tzinfo=plus_two))
    with pytest.raises(JobNotFound):
        store.load_job(job.job_id)
    second = store.delete_jobs(updated_before=datetime(2024, 1, 1, 14, 1, tzinfo=plus_two))

    assert (first, second) == (1, 1)
    assert store.list_jobs() == []


def _job_with_letters(store: JobStore, flow_id: str, times: list[float]) -> JobState:
    job = new_job(store, flow_id=flow_id)
    letters = [dead_letter(job, seq, created_at=t) for seq, t in enumerate(times)]
    store.checkpoint(checkpoint(job, dead_letters=letters))
    return job


def test_dead_letters_are_listed_oldest_first_with_filters(store: JobStore) -> None:
    a = _job_with_letters(store, "a", [30.0, 10.0])
    b = _job_with_letters(store, "b", [20.0])

    def ids(**filters: Any) -> list[str]:
        return [dl.letter_id for dl in store.list_dead_letters(**filters)]

    assert ids() == [f"{a.job_id}:1", f"{b.job_id}:0", f"{a.job_id}:0"]
    assert ids(job_id=b.job_id) == [f"{b.job_id}:0"]
    assert ids(flow_id="a") == [f"{a.job_id}:1", f"{a.job_id}:0"]
    assert ids(limit=1) == [f"{a.job_id}:1"]


def test_dead_letters_page_with_limit_and_offset(store: JobStore) -> None:
    a = _job_with_letters(store, "a", [30.0, 10.0, 50.0])
    b = _job_with_letters(store, "b", [20.0, 40.0])
    store.mark_replayed(f"{b.job_id}:0", "replay")
    oldest_first = [f"{a.job_id}:1", f"{b.job_id}:0", f"{a.job_id}:0", f"{b.job_id}:1"]
    oldest_first.append(f"{a.job_id}:2")

    def ids(**options: Any) -> list[str]:
        return [dl.letter_id for dl in store.list_dead_letters(**options)]

    assert ids(include_replayed=True, limit=2, offset=1) == oldest_first[1:3]
    assert ids(include_replayed=True, offset=3) == oldest_first[3:]
    assert ids(include_replayed=True, offset=5) == []
    assert ids(limit=2, offset=1) == [f"{a.job_id}:0", f"{b.job_id}:1"]
    assert ids(flow_id="a", offset=1) == [f"{a.job_id}:0", f"{a.job_id}:2"]
    assert ids(job_id=b.job_id, include_replayed=True, limit=1, offset=1) == [f"{b.job_id}:1"]
    assert ids(limit=0) == []


def test_dead_letters_of_one_time_are_listed_by_letter_id(store: JobStore) -> None:
    jobs = [_job_with_letters(store, "a", [7.0]) for _ in range(4)]

    listed = [dl.letter_id for dl in store.list_dead_letters()]

    assert listed == sorted(f"{j.job_id}:0" for j in jobs)


def test_of_several_dead_letters_with_one_id_in_a_checkpoint_the_last_wins(
    store: JobStore,
) -> None:
    job = new_job(store)
    letters = [dead_letter(job, 0, attempt=1), dead_letter(job, 0, attempt=2)]

    store.checkpoint(checkpoint(job, dead_letters=letters))

    assert store.list_dead_letters() == [letters[1]]
    assert store.list_jobs()[0].dead_letters == 1


def test_replayed_dead_letters_are_marked_and_hidden_by_default(store: JobStore) -> None:
    job = _job_with_letters(store, "a", [1.0, 2.0])
    first = f"{job.job_id}:0"

    store.mark_replayed(first, "replay-1")

    assert store.get_dead_letter(first).replayed_by == "replay-1"
    assert [dl.letter_id for dl in store.list_dead_letters()] == [f"{job.job_id}:1"]
    assert len(store.list_dead_letters(include_replayed=True)) == 2


def test_a_dead_letter_keeps_its_message_and_error(store: JobStore) -> None:
    job = new_job(store)
    letter = dead_letter(job, 4)
    store.checkpoint(checkpoint(job, dead_letters=[letter]))

    (listed,) = store.list_dead_letters()

    assert listed == letter
    assert listed.data["pair"] == (1, 2)
    assert listed.error == letter.error


def test_a_dead_letter_with_a_known_id_is_replaced(store: JobStore) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, dead_letters=[dead_letter(job, 0, attempt=1)]))
    store.checkpoint(checkpoint(job, dead_letters=[dead_letter(job, 0, attempt=2)]))

    (letter,) = store.list_dead_letters()

    assert letter.attempt == 2


def test_unknown_dead_letters_are_not_found(store: JobStore) -> None:
    with pytest.raises(DeadLetterNotFound):
        store.get_dead_letter("nope:0")
    with pytest.raises(LookupError):
        store.mark_replayed("nope:0", "replay")


CALLS_AFTER_CLOSE: dict[str, Callable[[JobStore, JobState], object]] = {
    "create_job": lambda s, j: s.create_job(JobState("f").serialize(), pending=[], next_seq=0),
    "checkpoint": lambda s, j: s.checkpoint(checkpoint(j)),
    "load_job": lambda s, j: s.load_job(j.job_id),
    "list_jobs": lambda s, j: s.list_jobs(),
    "delete_job": lambda s, j: s.delete_job(j.job_id),
    "delete_jobs": lambda s, j: s.delete_jobs(updated_before=datetime.now(timezone.utc)),
    "claim_job": lambda s, j: s.claim_job(j.job_id, owner="x", expected_claim=1, lease=1),
    "renew_lease": lambda s, j: s.renew_lease(j.job_id, claim=1, lease=1),
    "release_job": lambda s, j: s.release_job(j.job_id, claim=1),
    "list_dead_letters": lambda s, j: s.list_dead_letters(),
    "get_dead_letter": lambda s, j: s.get_dead_letter("x"),
    "mark_replayed": lambda s, j: s.mark_replayed("x", "y"),
}


@pytest.mark.parametrize("call", list(CALLS_AFTER_CLOSE))
def test_a_closed_store_cannot_be_used(store: JobStore, call: str) -> None:
    job = new_job(store)
    store.close()
    store.close()  # Closing twice is harmless.

    with pytest.raises(StoreError, match="closed"):
        CALLS_AFTER_CLOSE[call](store, job)


def test_threads_checkpointing_different_jobs_lose_nothing(store: JobStore) -> None:
    threads_n, rounds = 8, 40
    jobs = [new_job(store, pending=[delivery(0)], next_seq=1) for _ in range(threads_n)]
    start = threading.Barrier(threads_n)
    failures: list[BaseException] = []

    def work(job: JobState) -> None:
        try:
            start.wait()
            for i in range(rounds):
                store.checkpoint(
                    checkpoint(
                        job,
                        deliveries=i + 1,
                        next_seq=i + 2,
                        done=[i],
                        added=[delivery(i + 1)],
                        history=[("worker", "out", {"i": i}, float(i))],
                    )
                )
        except Exception as exc:  # A failure must reach the test, not die with the thread.
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert failures == []
    for job in jobs:
        stored = store.load_job(job.job_id)
        history = stored.document["execution_history"]
        assert [h["data"]["i"] for h in history] == list(range(rounds))
        assert ([d.seq for d in stored.pending], stored.deliveries) == ([rounds], rounds)
