"""Conformance, part 1: creating, loading and checkpointing jobs, on every store."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from store_helpers import checkpoint, dead_letter, delivery, error_record, new_job

from routilux import ExecutionRecord, JobState, JobStatus, SerializationError
from routilux.exceptions import JobNotFound, StoreError
from routilux.stores import JobStore

RICH_VALUES = {
    "pair": (1, "two"),
    "tags": {"a", "b"},
    "frozen": frozenset({3}),
    "raw": b"\x00\x01\xff",
    "when": datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc),
    "day": date(2024, 5, 1),
    "price": Decimal("12.50"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "nested": {"list": [1, 2.5, None, True], "by_int": {1: "one"}},
    # Values that jsonb would alter: a float written with an exponent, NUL, -0.0.
    "big_float": 1e20,
    "nul": "a\x00b",
    "neg_zero": -0.0,
    "inf": float("inf"),
    "huge_int": 2**70,
}


def test_every_store_implements_the_protocol(store: JobStore) -> None:
    assert isinstance(store, JobStore)


def test_a_created_job_loads_as_the_same_job_state(store: JobStore) -> None:
    job = JobState("flow")
    job.status = JobStatus.PAUSED
    job.current_routine_id = "worker"
    job.shared_data = dict(RICH_VALUES)
    job.routine_states = {"worker": {"seen": (1, 2)}}
    job.shared_log = [{"note": "started", "timestamp": 1.5}]
    store.create_job(job.serialize(), pending=[], next_seq=0)

    loaded = JobState.deserialize(store.load_job(job.job_id).document)

    assert loaded.serialize() == job.serialize()
    assert loaded.shared_data["pair"] == (1, "two")
    assert type(loaded.shared_data["big_float"]) is float


def test_a_created_job_keeps_the_history_and_errors_of_its_document(store: JobStore) -> None:
    job = JobState("flow")
    job.execution_history = [ExecutionRecord("src", "out", {"n": (1,)}, 2.5)]
    job.errors = [error_record()]
    store.create_job(job.serialize(), pending=[], next_seq=0)

    loaded = JobState.deserialize(store.load_job(job.job_id).document)

    assert loaded.execution_history == job.execution_history
    assert loaded.errors == job.errors


def test_the_stored_pending_deliveries_and_dead_letters_are_authoritative(
    store: JobStore,
) -> None:
    # The document's own lists are kept as they were written when the job was created.
    job = JobState("flow")
    document = job.serialize()
    document["pending_deliveries"] = [{"written": "at creation"}]
    document["dead_letters"] = []
    store.create_job(document, pending=[delivery(0)], next_seq=1)
    letter = dead_letter(job, 0)

    store.checkpoint(checkpoint(job, done=[0], added=[delivery(1)], dead_letters=[letter]))

    stored = store.load_job(job.job_id)
    assert stored.pending == [delivery(1)]
    assert store.list_dead_letters(job_id=job.job_id) == [letter]
    assert stored.document["pending_deliveries"] == [{"written": "at creation"}]
    assert stored.document["dead_letters"] == []


def test_a_created_job_has_its_pending_deliveries_counters_flow_and_owner(
    store: JobStore,
) -> None:
    pending = [delivery(2, data={"set": {1}}), delivery(0, attempt=2, not_before=5.0)]
    job = new_job(store, pending=pending, next_seq=3, flow_document={"f": 1}, owner="h:1")

    stored = store.load_job(job.job_id)

    assert stored.pending == sorted(pending, key=lambda d: d.seq)
    assert (stored.deliveries, stored.next_seq) == (0, 3)
    assert (stored.flow_document, stored.owner) == ({"f": 1}, "h:1")


def test_of_several_first_deliveries_with_one_seq_the_last_wins(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(1, attempt=1), delivery(1, attempt=2)], next_seq=2)

    assert store.load_job(job.job_id).pending == [delivery(1, attempt=2)]
    assert store.list_jobs()[0].pending == 1


def test_creating_a_job_twice_is_refused_and_keeps_the_first(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0)])
    document = job.serialize()
    document["status"] = "failed"

    with pytest.raises(StoreError, match="already has a job"):
        store.create_job(document, pending=[], next_seq=9)

    stored = store.load_job(job.job_id)
    assert (stored.document["status"], stored.next_seq, len(stored.pending)) == ("running", 1, 1)


def test_a_job_with_an_unencodable_message_is_not_created(store: JobStore) -> None:
    job = JobState("flow")
    with pytest.raises(SerializationError):
        store.create_job(job.serialize(), pending=[delivery(0, data={"x": object()})], next_seq=1)
    with pytest.raises(JobNotFound):
        store.load_job(job.job_id)


def test_done_deliveries_are_removed_and_added_ones_kept(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0), delivery(1)])

    store.checkpoint(checkpoint(job, done=[0], added=[delivery(2), delivery(3)], next_seq=4))

    assert [d.seq for d in store.load_job(job.job_id).pending] == [1, 2, 3]


def test_an_added_delivery_replaces_the_pending_one_of_the_same_seq(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0), delivery(1)])
    retry = delivery(0, attempt=2, not_before=99.5, data={"n": "again"})

    store.checkpoint(checkpoint(job, done=[0], added=[retry]))
    store.checkpoint(checkpoint(job, added=[delivery(1, attempt=3)]))

    assert store.load_job(job.job_id).pending == [retry, delivery(1, attempt=3)]


def test_the_hops_of_pending_deliveries_are_kept(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0), delivery(1, hops=7)])

    store.checkpoint(checkpoint(job, done=[0], added=[delivery(2, hops=10_001)], next_seq=3))
    store.checkpoint(checkpoint(job, added=[delivery(1, attempt=2, hops=7)]))

    assert [(d.seq, d.attempt, d.hops) for d in store.load_job(job.job_id).pending] == [
        (1, 2, 7),
        (2, 1, 10_001),
    ]


def test_history_errors_and_log_entries_are_appended_in_order(store: JobStore) -> None:
    job = new_job(store)
    job.shared_log = []
    store.checkpoint(
        checkpoint(
            job,
            history=[("a", "out", {"n": 1}, 1.0), ("a", "out", {"n": (2,)}, 2.0)],
            errors=[error_record("first")],
            log_entries=[{"i": 1}],
        )
    )
    store.checkpoint(
        checkpoint(
            job,
            history=[("b", "done", {}, 3.0)],
            errors=[error_record("second")],
            log_entries=[{"i": 2}, {"i": {3}}],
        )
    )

    loaded = JobState.deserialize(store.load_job(job.job_id).document)

    assert [(r.routine_id, r.data) for r in loaded.execution_history] == [
        ("a", {"n": 1}),
        ("a", {"n": (2,)}),
        ("b", {}),
    ]
    assert [e.message for e in loaded.errors] == ["first", "second"]
    assert loaded.shared_log == [{"i": 1}, {"i": 2}, {"i": {3}}]


def output(n: object, stamp: str = "2024-05-01T12:00:00+00:00") -> dict[str, object]:
    """An output_log entry of routine ``w``."""
    return {"routine_id": "w", "output_type": "progress", "data": {"n": n}, "timestamp": stamp}


def test_a_created_job_keeps_the_outputs_of_its_document(store: JobStore) -> None:
    job = JobState("flow")
    job.send_output("w", "progress", {"pair": (1, 2)})
    store.create_job(job.serialize(), pending=[], next_seq=0)

    loaded = JobState.deserialize(store.load_job(job.job_id).document)

    assert loaded.output_log == job.output_log
    assert loaded.output_log[0]["data"] == {"pair": (1, 2)}


def test_outputs_are_appended_in_order(store: JobStore) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, outputs=[output(1), output((2,))]))
    store.checkpoint(checkpoint(job))
    store.checkpoint(checkpoint(job, outputs=[output(3)]))

    document = store.load_job(job.job_id).document
    loaded = JobState.deserialize(document)

    assert [entry["data"]["n"] for entry in loaded.output_log] == [1, (2,), 3]
    assert loaded.output_log[0] == output(1)


def deferred(n: object) -> dict[str, object]:
    """A deferred event ``done`` of routine ``w``."""
    stamp = "2024-05-01T12:00:00+00:00"
    return {"routine_id": "w", "event_name": "done", "data": {"n": n}, "timestamp": stamp}


def test_a_created_job_keeps_the_deferred_events_of_its_document(store: JobStore) -> None:
    job = JobState("flow")
    job.add_deferred_event("w", "done", {"pair": (1, 2)})
    store.create_job(job.serialize(), pending=[], next_seq=0)

    loaded = JobState.deserialize(store.load_job(job.job_id).document)

    assert loaded.deferred_events == job.deferred_events
    assert loaded.deferred_events[0]["data"] == {"pair": (1, 2)}


def test_deferred_events_are_replaced_whole_and_only_when_a_checkpoint_gives_them(
    store: JobStore,
) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, deferred_events=[deferred(1), deferred((2,))]))
    kept = store.load_job(job.job_id).document
    store.checkpoint(checkpoint(job))
    unchanged = store.load_job(job.job_id).document
    store.checkpoint(checkpoint(job, deferred_events=[]))
    emptied = store.load_job(job.job_id).document

    assert JobState.deserialize(kept).deferred_events == [deferred(1), deferred((2,))]
    assert unchanged["deferred_events"] == kept["deferred_events"]
    assert emptied["deferred_events"] == []


def test_a_checkpoint_with_an_unencodable_deferred_event_changes_nothing(
    store: JobStore,
) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, deferred_events=[deferred(1)]))
    with pytest.raises(SerializationError, match="deferred_events"):
        store.checkpoint(checkpoint(job, deferred_events=[deferred(object())], deliveries=9))

    stored = store.load_job(job.job_id)
    assert JobState.deserialize(stored.document).deferred_events == [deferred(1)]
    assert stored.deliveries == 1


def test_history_times_are_kept_in_seconds_and_read_as_iso_8601(store: JobStore) -> None:
    job = JobState("flow")
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    job.execution_history = [ExecutionRecord("src", "out", {}, moment)]
    store.create_job(job.serialize(), pending=[], next_seq=0)
    # The engine's checkpoints give times in seconds since the epoch, as
    # every checkpoint did before history times were datetimes.
    store.checkpoint(checkpoint(job, history=[("src", "out", {}, 1_714_564_800.5)]))

    stored = store.load_job(job.job_id).document["execution_history"]

    assert [entry["timestamp"] for entry in stored] == [
        "2024-05-01T12:00:00.123456+00:00",
        "2024-05-01T12:00:00.500000+00:00",
    ]
    assert (
        JobState.deserialize(store.load_job(job.job_id).document).execution_history[0]
        == (job.execution_history[0])
    )


def test_a_document_history_time_that_is_not_a_time_is_refused(store: JobStore) -> None:
    document = JobState("flow").serialize()
    document["execution_history"] = [
        {"routine_id": "r", "event_name": "e", "data": {}, "timestamp": "noon"}
    ]
    with pytest.raises(SerializationError, match=r"execution_history\[0\]\.timestamp"):
        store.create_job(document, pending=[], next_seq=0)


def test_shared_data_and_routine_states_change_only_when_given(store: JobStore) -> None:
    job = new_job(store, shared_data={"keep": 1})
    store.checkpoint(checkpoint(job, routine_states={"w": {"k": (1,)}}))
    after_states = JobState.deserialize(store.load_job(job.job_id).document)
    store.checkpoint(checkpoint(job, shared_data={"new": {2}}))
    after_shared = JobState.deserialize(store.load_job(job.job_id).document)

    assert after_states.shared_data == {"keep": 1}
    assert after_states.routine_states == {"w": {"k": (1,)}}
    assert after_shared.shared_data == {"new": {2}}
    assert after_shared.routine_states == {"w": {"k": (1,)}}


def test_the_job_fields_and_counters_take_the_checkpoint_values(store: JobStore) -> None:
    job = new_job(store)

    store.checkpoint(
        checkpoint(
            job,
            status="failed",
            updated_at="2024-06-01T00:00:00+00:00",
            current_routine_id="last",
            error="it broke",
            deliveries=7,
            next_seq=11,
        )
    )

    stored = store.load_job(job.job_id)
    document = stored.document
    assert (document["status"], document["updated_at"]) == ("failed", "2024-06-01T00:00:00+00:00")
    assert (document["current_routine_id"], document["error"]) == ("last", "it broke")
    assert (stored.deliveries, stored.next_seq) == (7, 11)


def test_drop_pending_clears_every_pending_delivery(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0), delivery(1), delivery(2)])

    store.checkpoint(checkpoint(job, status="cancelled", done=[0], drop_pending=True))

    assert store.load_job(job.job_id).pending == []


def test_drop_pending_keeps_the_deliveries_the_same_checkpoint_adds(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0), delivery(1)])
    retry = delivery(0, attempt=2)

    store.checkpoint(checkpoint(job, done=[0, 1], added=[retry, delivery(5)], drop_pending=True))

    assert store.load_job(job.job_id).pending == [retry, delivery(5)]


def test_of_several_added_deliveries_with_one_seq_the_last_wins(store: JobStore) -> None:
    job = new_job(store)

    store.checkpoint(checkpoint(job, added=[delivery(3, attempt=1), delivery(3, attempt=2)]))

    assert store.load_job(job.job_id).pending == [delivery(3, attempt=2)]


def test_dead_letters_of_a_checkpoint_are_kept(store: JobStore) -> None:
    job = new_job(store)
    letter = dead_letter(job, 0)

    store.checkpoint(checkpoint(job, dead_letters=[letter]))

    assert store.get_dead_letter(letter.letter_id) == letter


@pytest.mark.parametrize(
    "bad",
    [
        {"history": [("a", "out", {"x": object()}, 1.0)]},
        {"shared_data": {"x": object()}},
        {"routine_states": {"w": {"x": object()}}},
        {"added": [delivery(5, data={"x": object()})]},
        {"log_entries": [{"x": object()}]},
    ],
    ids=["history", "shared_data", "routine_states", "added", "log"],
)
def test_a_checkpoint_with_an_unencodable_value_changes_nothing(
    store: JobStore, bad: dict[str, object]
) -> None:
    job = new_job(store, pending=[delivery(0)], shared_data={"k": 1})
    before = store.load_job(job.job_id)
    letter = dead_letter(job, 0)

    with pytest.raises(SerializationError):
        store.checkpoint(
            checkpoint(job, status="completed", done=[0], dead_letters=[letter], **bad)
        )

    assert store.load_job(job.job_id) == before
    assert store.list_dead_letters(include_replayed=True) == []


def test_a_dead_letter_with_an_unencodable_message_changes_nothing(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0)])
    before = store.load_job(job.job_id)

    with pytest.raises(SerializationError):
        store.checkpoint(checkpoint(job, done=[0], dead_letters=[dead_letter(job, 0, data={1j})]))

    assert store.load_job(job.job_id) == before


def test_unknown_jobs_are_not_found(store: JobStore) -> None:
    ghost = JobState("flow")
    with pytest.raises(JobNotFound):
        store.load_job(ghost.job_id)
    with pytest.raises(JobNotFound):
        store.claim_job(ghost.job_id, owner="h:1", expected_claim=1, lease=10)
    with pytest.raises(JobNotFound):
        store.renew_lease(ghost.job_id, claim=1, lease=10)
    store.release_job(ghost.job_id, claim=1)  # Nothing to release: nothing done.
    with pytest.raises(LookupError):
        store.checkpoint(checkpoint(ghost, dead_letters=[dead_letter(ghost, 0)]))
    assert store.list_dead_letters(include_replayed=True) == []


@pytest.mark.parametrize("text", ["nul\x00", "lone\ud800"], ids=["nul", "surrogate"])
def test_ids_and_names_that_a_text_column_cannot_hold_are_refused(
    store: JobStore, text: str
) -> None:
    job = new_job(store, pending=[delivery(0)])
    before = store.load_job(job.job_id)

    with pytest.raises(SerializationError, match="NUL characters or lone surrogates"):
        store.checkpoint(checkpoint(job, done=[0], added=[delivery(1, slot=text)]))
    with pytest.raises(SerializationError):
        store.checkpoint(checkpoint(job, done=[0], error=text))
    with pytest.raises(SerializationError):
        store.claim_job(job.job_id, owner=text, expected_claim=1, lease=10)
    with pytest.raises(SerializationError):
        store.checkpoint(checkpoint(job, dead_letters=[dead_letter(job, 0, routine_id=text)]))

    assert store.load_job(job.job_id) == before
    assert store.list_dead_letters(include_replayed=True) == []


@pytest.mark.parametrize("text", ["nul\x00", "lone\ud800"], ids=["nul", "surrogate"])
@pytest.mark.parametrize("field", ["job_id", "flow_id", "status", "error", "owner"])
def test_a_job_whose_text_a_text_column_cannot_hold_is_not_created(
    store: JobStore, text: str, field: str
) -> None:
    document = JobState("flow").serialize()
    owner = text if field == "owner" else None
    if field != "owner":
        document[field] = text

    with pytest.raises(SerializationError, match="NUL characters or lone surrogates"):
        store.create_job(document, pending=[], next_seq=0, owner=owner)

    assert store.list_jobs() == []


def test_a_replay_job_id_that_a_text_column_cannot_hold_is_refused(store: JobStore) -> None:
    job = new_job(store)
    letter = dead_letter(job, 0)
    store.checkpoint(checkpoint(job, dead_letters=[letter]))

    with pytest.raises(SerializationError):
        store.mark_replayed(letter.letter_id, "replay\x00")

    assert store.get_dead_letter(letter.letter_id).replayed_by is None


def test_a_job_or_checkpoint_with_an_unknown_status_is_refused(store: JobStore) -> None:
    document = JobState("flow").serialize()
    document["status"] = "bogus"
    job = new_job(store)

    with pytest.raises(SerializationError, match=r"status 'bogus'.* one of pending, running"):
        store.create_job(document, pending=[], next_seq=0)
    with pytest.raises(SerializationError, match=r"status 'done'.* one of pending, running"):
        store.checkpoint(checkpoint(job, status="done"))

    assert [s.status for s in store.list_jobs()] == ["running"]
