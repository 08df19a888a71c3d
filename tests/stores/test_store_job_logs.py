"""Conformance, part 5: kept log records and delivery contexts, on every store."""

from __future__ import annotations

from typing import Any

import pytest
from store_helpers import checkpoint, delivery, new_job

from routilux import DefinitionError, SerializationError
from routilux.exceptions import JobNotFound, OwnershipLostError
from routilux.stores import JobStore, StoredLogRecord


def record(n: int, level: str = "INFO") -> dict[str, Any]:
    """A kept log record, as ``routilux.logs`` makes them."""
    return {
        "time": 1_714_564_800.0 + n,
        "level": level,
        "levelno": 20 if level == "INFO" else 30,
        "logger": "app",
        "message": f"record {n} \u00e9\u0000\ud800",  # JSON escapes what a text column cannot hold.
        "routine_id": "worker",
        "slot": "input",
        "delivery_id": f"job:{n}",
    }


# -- kept log records -----------------------------------------------------------------


def test_log_records_are_appended_in_order_and_read_with_their_positions(
    store: JobStore,
) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, job_logs=[record(0), record(1)]))
    store.checkpoint(checkpoint(job))
    store.checkpoint(checkpoint(job, job_logs=[record(2)]))

    read = store.read_job_logs(job.job_id)

    assert read == [StoredLogRecord(n, record(n)) for n in range(3)]
    assert store.load_job(job.job_id).job_log_count == 3


def test_a_new_job_has_no_log_records(store: JobStore) -> None:
    job = new_job(store)

    assert store.read_job_logs(job.job_id) == []
    assert store.load_job(job.job_id).job_log_count == 0


@pytest.mark.parametrize(
    ("after", "limit", "positions"),
    [(0, None, [0, 1, 2, 3, 4]), (2, None, [2, 3, 4]), (1, 2, [1, 2]), (4, 9, [4]), (5, None, [])],
)
def test_log_records_are_read_from_a_position_on_up_to_a_limit(
    store: JobStore, after: int, limit: int | None, positions: list[int]
) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, job_logs=[record(n) for n in range(5)]))

    read = store.read_job_logs(job.job_id, after=after, limit=limit)

    assert [(r.position, r.record["message"][:8]) for r in read] == [
        (n, f"record {n}") for n in positions
    ]


def test_a_follower_reading_from_where_it_stopped_sees_every_record_once(store: JobStore) -> None:
    job = new_job(store)
    seen: list[int] = []
    for batch in ([0, 1], [], [2], [3, 4, 5]):
        store.checkpoint(checkpoint(job, job_logs=[record(n) for n in batch]))
        seen.extend(e.position for e in store.read_job_logs(job.job_id, after=len(seen), limit=2))

    seen += [entry.position for entry in store.read_job_logs(job.job_id, after=len(seen))]

    assert seen == [0, 1, 2, 3, 4, 5]


def test_reading_the_log_records_of_an_unknown_job_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound, match="'nope'"):
        store.read_job_logs("nope")


def test_a_deleted_job_takes_its_log_records_with_it(store: JobStore) -> None:
    job = new_job(store)
    store.checkpoint(checkpoint(job, job_logs=[record(0)]))

    store.delete_job(job.job_id)

    with pytest.raises(JobNotFound):
        store.read_job_logs(job.job_id)
    new_job(store)  # The store goes on.


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"after": -1}, "after must be an integer of at least 0"),
        ({"after": "3"}, "after must be an integer of at least 0"),
        ({"after": True}, "after must be an integer of at least 0"),
        ({"limit": -1}, "limit must be None or an integer of at least 0"),
        ({"limit": 2.5}, "limit must be None or an integer of at least 0"),
    ],
)
def test_a_log_reading_argument_of_the_wrong_type_is_refused(
    store: JobStore, arguments: dict[str, Any], message: str
) -> None:
    job = new_job(store)

    with pytest.raises(DefinitionError, match=message):
        store.read_job_logs(job.job_id, **arguments)


@pytest.mark.parametrize("bad", [["not", "a", "dict"], {"value": object()}, {"n": float("nan")}])
def test_a_checkpoint_with_a_log_record_that_cannot_be_stored_changes_nothing(
    store: JobStore, bad: Any
) -> None:
    job = new_job(store, pending=[delivery(0)])

    with pytest.raises(SerializationError, match="log record"):
        store.checkpoint(checkpoint(job, done=[0], job_logs=[record(0), bad]))

    stored = store.load_job(job.job_id)
    assert [d.seq for d in stored.pending] == [0]
    assert (stored.job_log_count, store.read_job_logs(job.job_id)) == (0, [])


def test_a_refused_checkpoint_appends_no_log_record(store: JobStore) -> None:
    job = new_job(store)
    store.claim_job(job.job_id, owner="other:1", expected_claim=1, lease=30)

    with pytest.raises(OwnershipLostError):
        store.checkpoint(checkpoint(job, job_logs=[record(0)], claim=1))

    assert store.read_job_logs(job.job_id) == []


# -- delivery contexts ------------------------------------------------------------------

TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k": ""}


def test_a_delivery_context_round_trips_through_create_and_checkpoint(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0, context=TRACE), delivery(1)], next_seq=3)
    store.checkpoint(checkpoint(job, added=[delivery(2, context={"tracestate": "a=1"})]))

    pending = store.load_job(job.job_id).pending

    assert [(d.seq, d.context) for d in pending] == [
        (0, TRACE),
        (1, None),
        (2, {"tracestate": "a=1"}),
    ]


def test_a_replaced_delivery_takes_the_context_of_its_replacement(store: JobStore) -> None:
    job = new_job(store, pending=[delivery(0, context=TRACE)], next_seq=1)

    store.checkpoint(checkpoint(job, added=[delivery(0, attempt=2)]))
    first = store.load_job(job.job_id).pending[0].context
    store.checkpoint(checkpoint(job, added=[delivery(0, attempt=3, context={"a": "b"})]))
    second = store.load_job(job.job_id).pending[0].context

    assert (first, second) == (None, {"a": "b"})


BAD_CONTEXTS = [
    pytest.param(["traceparent"], "maps text to text", id="a list"),
    pytest.param({"n": 1}, "maps text to text", id="a number value"),
    pytest.param({1: "one"}, "maps text to text", id="a number key"),
    pytest.param({"n": None}, "maps text to text", id="a null value"),
    pytest.param({"k": "a\x00b"}, "NUL characters or lone surrogates", id="NUL in a value"),
    pytest.param({"k\x00": "v"}, "NUL characters or lone surrogates", id="NUL in a key"),
    pytest.param({"k": "\ud800"}, "NUL characters or lone surrogates", id="a lone surrogate"),
]


@pytest.mark.parametrize(("context", "problem"), BAD_CONTEXTS)
def test_a_job_with_a_context_that_is_not_text_to_text_is_not_created(
    store: JobStore, context: Any, problem: str
) -> None:
    with pytest.raises(SerializationError, match=rf"context of delivery 0 .*{problem}"):
        new_job(store, pending=[delivery(0, context=context)], next_seq=1)

    assert store.list_jobs() == []


@pytest.mark.parametrize(("context", "problem"), BAD_CONTEXTS)
def test_a_checkpoint_with_a_context_that_is_not_text_to_text_changes_nothing(
    store: JobStore, context: Any, problem: str
) -> None:
    job = new_job(store, pending=[delivery(0)], next_seq=2)

    with pytest.raises(SerializationError, match=problem):
        store.checkpoint(
            checkpoint(job, done=[0], added=[delivery(1, context=context)], job_logs=[record(0)])
        )

    stored = store.load_job(job.job_id)
    assert [(d.seq, d.context) for d in stored.pending] == [(0, None)]
    assert stored.job_log_count == 0
