"""Every store keeps one owner per job: claims are compare-and-set, writes are fenced.

The conformance suite of ``claim_job``, ``renew_lease``, ``release_job`` and
the claim a checkpoint carries, for the memory, SQLite and PostgreSQL stores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from store_helpers import checkpoint, dead_letter, delivery, new_job

from routilux import (
    DeadLetterNotFound,
    DeadLetterReplayedError,
    JobNotFound,
    JobOwnedError,
    OwnershipLostError,
)
from routilux.stores import JobStore

LEASE = 30.0


def test_a_new_job_has_claim_1_and_the_lease_it_was_given(store: JobStore) -> None:
    leased = new_job(store, owner="host:1", lease=LEASE)
    free = new_job(store)

    stored = store.load_job(leased.job_id)
    unleased = store.load_job(free.job_id)

    assert (stored.owner, stored.claim) == ("host:1", 1)
    assert stored.lease_remaining is not None
    assert LEASE - 5 < stored.lease_remaining <= LEASE
    assert stored.lease_expires_at is not None
    assert stored.lease_live
    assert (unleased.claim, unleased.lease_expires_at, unleased.lease_remaining) == (1, None, None)
    assert not unleased.lease_live


def test_a_claim_takes_the_job_and_raises_its_claim(store: JobStore) -> None:
    job = new_job(store, owner="old:1", lease=LEASE)

    claim = store.claim_job(job.job_id, owner="new:2", expected_claim=1, lease=LEASE)

    stored = store.load_job(job.job_id)
    assert claim == 2
    assert (stored.owner, stored.claim) == ("new:2", 2)
    assert stored.lease_live


def test_a_claim_on_a_stale_claim_is_refused_and_changes_nothing(store: JobStore) -> None:
    job = new_job(store, owner="old:1", lease=LEASE)
    store.claim_job(job.job_id, owner="first:2", expected_claim=1, lease=LEASE)
    before = store.load_job(job.job_id)

    with pytest.raises(JobOwnedError, match=r"claimed by first:2 at the same time \(claim 2\)"):
        store.claim_job(job.job_id, owner="second:3", expected_claim=1, lease=LEASE)

    assert store.load_job(job.job_id) == before


def test_a_checkpoint_of_an_older_claim_is_refused_and_writes_nothing(store: JobStore) -> None:
    job = new_job(store, owner="old:1", lease=LEASE, pending=[delivery(0)], next_seq=1)
    store.claim_job(job.job_id, owner="new:2", expected_claim=1, lease=LEASE)
    before = store.load_job(job.job_id)
    stale = checkpoint(
        job,
        done=[0],
        added=[delivery(1)],
        history=[("worker", "out", {"n": 1}, 1.0)],
        dead_letters=[dead_letter(job, 0)],
        next_seq=9,
        claim=1,
    )

    with pytest.raises(OwnershipLostError, match=r"new:2 has claimed the job since \(claim 2\)"):
        store.checkpoint(stale)

    assert store.load_job(job.job_id) == before
    assert store.list_dead_letters(include_replayed=True) == []


def test_a_checkpoint_of_the_current_claim_or_of_none_is_written(store: JobStore) -> None:
    job = new_job(store, owner="old:1", lease=LEASE, pending=[delivery(0)], next_seq=1)
    claim = store.claim_job(job.job_id, owner="new:2", expected_claim=1, lease=LEASE)

    store.checkpoint(checkpoint(job, done=[0], added=[delivery(1)], next_seq=2, claim=claim))
    store.checkpoint(checkpoint(job, done=[1], next_seq=3, claim=None))

    stored = store.load_job(job.job_id)
    assert (stored.pending, stored.next_seq) == ([], 3)


def test_a_renewal_extends_the_lease_of_the_current_claim_only(store: JobStore) -> None:
    job = new_job(store, owner="old:1", lease=1.0)

    store.renew_lease(job.job_id, claim=1, lease=LEASE)
    renewed = store.load_job(job.job_id)
    claim = store.claim_job(job.job_id, owner="new:2", expected_claim=1, lease=LEASE)
    with pytest.raises(OwnershipLostError, match="refused a write of claim 1"):
        store.renew_lease(job.job_id, claim=1, lease=LEASE)

    assert renewed.lease_remaining is not None
    assert renewed.lease_remaining > LEASE - 5
    assert claim == 2


def test_a_release_ends_the_lease_of_the_current_claim_only(store: JobStore) -> None:
    job = new_job(store, owner="old:1", lease=LEASE)
    claim = store.claim_job(job.job_id, owner="new:2", expected_claim=1, lease=LEASE)

    store.release_job(job.job_id, claim=1)  # An older claim: nothing happens.
    still = store.load_job(job.job_id)
    store.release_job(job.job_id, claim=claim)
    released = store.load_job(job.job_id)

    assert still.lease_live
    assert not released.lease_live
    assert released.lease_expires_at is not None
    assert (released.owner, released.claim) == ("new:2", 2)


def test_claims_of_a_job_without_a_lease_still_count(store: JobStore) -> None:
    job = new_job(store)

    first = store.claim_job(job.job_id, owner="a:1", expected_claim=1, lease=LEASE)
    second = store.claim_job(job.job_id, owner="b:2", expected_claim=first, lease=LEASE)

    assert (first, second) == (2, 3)
    assert store.load_job(job.job_id).owner == "b:2"


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_a_bad_lease_is_refused(store: JobStore, bad: object) -> None:
    job = new_job(store)

    with pytest.raises(ValueError, match="lease must be a positive number of seconds"):
        store.claim_job(job.job_id, owner="a:1", expected_claim=1, lease=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lease must be a positive number of seconds"):
        store.renew_lease(job.job_id, claim=1, lease=bad)  # type: ignore[arg-type]


def test_racing_claims_on_separate_connections_give_the_job_to_exactly_one(
    store_kind: str, open_store: Callable[[], JobStore]
) -> None:
    first = open_store()
    job = new_job(first, owner="dead:1", lease=LEASE)
    # One store (one connection) per thread; a MemoryStore shares the first one.
    stores = [first if store_kind == "memory" else open_store() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    won: list[int] = []
    refused: list[str] = []
    lock = threading.Lock()

    def claim(index: int) -> None:
        barrier.wait()
        try:
            got = stores[index].claim_job(
                job.job_id, owner=f"racer:{index}", expected_claim=1, lease=LEASE
            )
        except JobOwnedError as exc:
            with lock:
                refused.append(str(exc))
        else:
            with lock:
                won.append(got)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert won == [2]
    assert len(refused) == len(stores) - 1
    stored = first.load_job(job.job_id)
    assert stored.claim == 2
    assert stored.owner is not None
    assert stored.owner.startswith("racer:")


def test_ownership_calls_on_unknown_jobs(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.claim_job("nope", owner="a:1", expected_claim=0, lease=LEASE)
    with pytest.raises(JobNotFound):
        store.renew_lease("nope", claim=1, lease=LEASE)
    store.release_job("nope", claim=1)


def test_a_letter_is_claimed_for_a_replay_by_one_compare_and_set(store: JobStore) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, dead_letters=[dead_letter(job, 0)]))
    letter_id = f"{job.job_id}:0"

    store.mark_replayed_if(letter_id, "first", expected=None)
    with pytest.raises(DeadLetterReplayedError, match="was replayed by job first") as refused:
        store.mark_replayed_if(letter_id, "second", expected=None)
    store.mark_replayed_if(letter_id, "third", expected="first")
    third = store.get_dead_letter(letter_id).replayed_by
    store.mark_replayed_if(letter_id, None, expected="third")

    assert refused.value.replayed_by == "first"
    assert third == "third"
    assert store.get_dead_letter(letter_id).replayed_by is None
    with pytest.raises(DeadLetterNotFound):
        store.mark_replayed_if("nope:0", "x", expected=None)


def test_racing_replay_claims_on_separate_connections_give_the_letter_to_one(
    store_kind: str, open_store: Callable[[], JobStore]
) -> None:
    first = open_store()
    job = new_job(first)
    first.checkpoint(checkpoint(job, dead_letters=[dead_letter(job, 0)]))
    stores = [first if store_kind == "memory" else open_store() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def claim(index: int) -> None:
        barrier.wait()
        try:
            stores[index].mark_replayed_if(f"{job.job_id}:0", f"replay-{index}", expected=None)
        except DeadLetterReplayedError:
            return
        won.append(f"replay-{index}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(won) == 1
    assert first.get_dead_letter(f"{job.job_id}:0").replayed_by == won[0]
