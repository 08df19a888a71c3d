"""Every store keeps job values apart: a value set is one row, an appended item one more.

A checkpoint writes only the values a delivery set and the items it
appended, so a collection of ``n`` items costs ``n`` small writes, however
long it grows; a load puts them back into the document's ``job_values``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from store_helpers import checkpoint, new_job

from routilux import Flow, JobState, OwnershipLostError, Routine, SerializationError
from routilux.builtin_routines import Aggregator
from routilux.stores import Checkpoint, JobStore, MemoryStore


def values_of(store: JobStore, job: JobState, routine_id: str = "agg") -> Any:
    """The routine's job values as loaded from the store, decoded."""
    document = store.load_job(job.job_id).document
    return JobState.deserialize(document).job_values(routine_id)


def test_values_set_and_items_appended_are_loaded_back_in_order(store: JobStore) -> None:
    job = new_job(store)

    store.checkpoint(
        checkpoint(
            job,
            job_values=[("agg", "items", []), ("agg", "token", 1)],
            job_value_items=[("agg", "items", 0, "a"), ("agg", "items", 1, ("b", 2))],
        )
    )
    store.checkpoint(checkpoint(job, job_value_items=[("agg", "items", 2, {"c": {3}})]))
    store.checkpoint(checkpoint(job, job_value_items=[("agg", "more", 0, b"\x00")]))

    assert values_of(store, job) == {
        "items": ["a", ("b", 2), {"c": {3}}],
        "token": 1,
        "more": [b"\x00"],
    }


def test_a_value_set_replaces_the_items_appended_before(store: JobStore) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, job_value_items=[("agg", "items", i, i) for i in range(3)]))

    store.checkpoint(
        checkpoint(
            job, job_values=[("agg", "items", [9])], job_value_items=[("agg", "items", 1, 10)]
        )
    )

    assert values_of(store, job) == {"items": [9, 10]}


def test_the_values_are_kept_apart_from_the_routine_states(store: JobStore) -> None:
    job = new_job(store)
    states = {"agg": {"mine": 4, "status": "completed"}}

    store.checkpoint(checkpoint(job, routine_states=states, job_values=[("agg", "token", 7)]))
    store.checkpoint(checkpoint(job, routine_states=states))  # No values: they stay.

    document = store.load_job(job.job_id).document
    assert document["routine_states"] == {"agg": {"mine": 4, "status": "completed"}}
    assert document["job_values"] == {"agg": {"token": 7}}


def test_values_of_a_new_jobs_document_are_kept(store: JobStore) -> None:
    job = JobState("flow")
    document = job.serialize()
    document["job_values"] = {"agg": {"items": [{"$t": "tuple", "v": [1, 2]}], "n": 1}}
    store.create_job(document, pending=[], next_seq=1)

    assert values_of(store, job) == {"items": [(1, 2)], "n": 1}


def test_an_older_document_given_to_create_job_has_its_records_taken_out(
    store: JobStore,
) -> None:
    job = JobState("flow")
    document = job.serialize()
    for key in ("routine_stats", "job_values", "timers"):
        del document[key]
    document["routine_states"] = {
        "agg": {"mine": 1, "deliveries": 2, "failures": 0, "skips": 1, "status": "skipped"},
        "other": {"values": {"n": 1}, "timers": {"flush": 3}},
    }
    store.create_job(document, pending=[], next_seq=4)

    stored = store.load_job(job.job_id).document
    assert stored["routine_states"] == {"agg": {"mine": 1}}
    assert stored["routine_stats"] == {"agg": {"deliveries": 2, "failures": 0, "skips": 1}}
    assert stored["job_values"] == {"other": {"n": 1}}
    assert stored["timers"] == {"other": {"flush": 3}}


def test_a_value_that_cannot_be_stored_writes_nothing(store: JobStore) -> None:
    job = new_job(store)
    before = store.load_job(job.job_id)

    with pytest.raises(SerializationError, match="the job value 'token' of 'agg'"):
        store.checkpoint(checkpoint(job, job_values=[("agg", "token", object())], next_seq=5))
    with pytest.raises(SerializationError, match="an item of the job value 'items'"):
        store.checkpoint(checkpoint(job, job_value_items=[("agg", "items", 0, object())]))

    assert store.load_job(job.job_id) == before


def test_values_of_an_older_claim_are_not_written(store: JobStore) -> None:
    job = new_job(store, owner="a:1", lease=30)
    store.claim_job(job.job_id, owner="b:2", expected_claim=1, lease=30)

    with pytest.raises(OwnershipLostError):
        store.checkpoint(
            checkpoint(
                job,
                job_values=[("agg", "token", 1)],
                job_value_items=[("agg", "items", 0, 1)],
                claim=1,
            )
        )

    assert store.load_job(job.job_id).document["job_values"] == {}


class Numbers(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["data"])

    def emit_all(self, n: int) -> None:
        for i in range(n):
            self.emit("out", data=i)


class MeasuringStore(MemoryStore):
    """A MemoryStore that keeps the size of what each checkpoint writes about job values."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        written = [
            checkpoint.routine_states,
            checkpoint.engine_states,
            checkpoint.job_values,
            checkpoint.job_value_items,
        ]
        self.sizes.append(len(json.dumps(written, default=repr)))
        super().checkpoint(checkpoint)


@pytest.mark.parametrize("every", [1, 10])
def test_a_durable_collection_writes_the_same_small_amount_per_item_however_long(
    every: int,
) -> None:
    store = MeasuringStore()
    flow = Flow(store=store, checkpoint_every=every)
    flow.add_routine(Numbers(), "numbers")
    aggregator = Aggregator()
    aggregator.set_config(complete_on="count", count=3_000, flush_on_drain=False)
    flow.add_routine(aggregator, "agg")
    flow.connect("numbers", "out", "agg", "input")

    job = flow.execute("numbers", {"n": 2_999})  # One short: the collection stays open.

    assert job.status == "completed", job.error
    assert len(store.sizes) > 2_999 // every
    early, late = store.sizes[5:15], store.sizes[-15:-5]
    assert max(late) <= max(early) + 40  # Bigger numbers; not a longer list.
    assert values_of(store, job)["items"] == list(range(2_999))


def test_an_open_collection_comes_back_with_its_job(store: JobStore) -> None:
    flow = Flow(store=store)
    flow.add_routine(Numbers(), "numbers")
    aggregator = Aggregator()
    aggregator.set_config(complete_on="count", count=10, flush_on_drain=False)
    flow.add_routine(aggregator, "agg")
    flow.connect("numbers", "out", "agg", "input")

    job = flow.execute("numbers", {"n": 14})

    kept = values_of(store, job)
    assert (kept["items"], kept["size"]) == ([10, 11, 12, 13], 4)
    assert kept == job.job_values("agg")


def test_a_key_the_value_codec_tags_is_kept_as_a_key(store: JobStore) -> None:
    job = new_job(store)

    store.checkpoint(checkpoint(job, job_values=[("agg", "$t", "set"), ("agg", "v", [1])]))

    assert values_of(store, job) == {"$t": "set", "v": [1]}


class SetThenAppend(Routine):
    """Number 0 sets the list; the later ones append to it."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, data: int) -> None:
        if data == 0:
            self.set_job_value("items", [0])
        else:
            self.append_job_value("items", data)


@pytest.mark.parametrize("every", [1, 5])
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_list_set_then_appended_to_in_one_batch_is_stored_once(
    store: JobStore, strategy: str, every: int
) -> None:
    flow = Flow(execution_strategy=strategy, store=store, checkpoint_every=every, max_workers=1)
    flow.add_routine(Numbers(), "numbers")
    flow.add_routine(SetThenAppend(), "agg")
    flow.connect("numbers", "out", "agg", "input")
    try:
        job = flow.execute("numbers", {"n": 3})
    finally:
        flow.shutdown()

    assert job.job_values("agg") == {"items": [0, 1, 2]}
    assert values_of(store, job) == {"items": [0, 1, 2]}
