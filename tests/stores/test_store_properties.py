"""Conformance, part 3: every store round-trips random job states (Hypothesis)."""

from __future__ import annotations

from datetime import timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routilux import ErrorRecord, ExecutionRecord, JobState, JobStatus
from routilux._model.durable import Checkpoint, StoredDelivery
from routilux.stores import JobStore

finite = st.floats(allow_nan=False, allow_infinity=False)
# Any code point, NUL and lone surrogates included: values are JSON, which escapes them.
any_text = st.text(st.characters(), max_size=12)
# NaN is left out only because NaN != NaN would fail the comparison, not the store.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | any_text
    | st.binary(max_size=12)
    | st.datetimes(timezones=st.none() | st.just(timezone.utc))
    | st.dates()
)
hashables = st.integers() | any_text
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(any_text, inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=3)
    ),
    max_leaves=12,
)
mappings = st.dictionaries(any_text, values, max_size=5)
# Ids, names and the job's error are text columns, which hold no NUL character or
# lone surrogate (values, messages and error records are JSON, which escapes them).
plain_text = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
names = st.text(plain_text, min_size=1, max_size=10)
deliveries = st.lists(
    st.builds(
        StoredDelivery,
        seq=st.integers(0, 10**12),
        routine_id=names,
        slot=names,
        data=mappings,
        attempt=st.integers(1, 5),
        not_before=st.floats(0, 1e10),
        context=st.none() | st.dictionaries(names, st.text(plain_text, max_size=10), max_size=3),
    ),
    max_size=5,
    unique_by=lambda d: d.seq,
)
# Kept log records: JSON objects (the values JSON holds: no tuples, sets or bytes).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)
log_records = st.lists(st.dictionaries(any_text, json_values, max_size=4), max_size=4)
# History times are seconds since the epoch within the years a datetime holds.
seconds = st.floats(-62_135_596_800, 253_402_300_799)
events = st.lists(st.tuples(names, names, mappings, seconds), max_size=5)
outputs = st.lists(
    st.fixed_dictionaries(
        {
            "routine_id": names,
            "output_type": names,
            "data": mappings,
            "timestamp": st.datetimes(timezones=st.just(timezone.utc)).map(
                lambda moment: moment.isoformat()
            ),
        }
    ),
    max_size=3,
)
deferred = st.lists(
    st.fixed_dictionaries(
        {
            "routine_id": names,
            "event_name": names,
            "data": mappings,
            "timestamp": st.datetimes(timezones=st.just(timezone.utc)).map(
                lambda moment: moment.isoformat()
            ),
        }
    ),
    max_size=3,
)
errors = st.lists(
    st.builds(
        ErrorRecord,
        routine_id=st.none() | names,
        slot=st.none() | names,
        error_type=names,
        message=any_text,
        traceback=any_text,
        attempt=st.integers(1, 5),
        action=st.sampled_from(["retry", "continue", "skip", "stop"]),
        timestamp=finite,
        delivery_id=st.none() | names,
    ),
    max_size=3,
)


@st.composite
def jobs(draw: st.DrawFn) -> tuple[JobState, list[StoredDelivery]]:
    job = JobState(draw(names))
    job.status = draw(st.sampled_from(list(JobStatus)))
    job.shared_data = draw(mappings)
    job.routine_states = draw(st.dictionaries(names, mappings, max_size=3))
    job.shared_log = draw(st.lists(mappings, max_size=3))
    job.output_log = draw(outputs)
    job.deferred_events = draw(deferred)
    return job, draw(deliveries)


@st.composite
def checkpoints(draw: st.DrawFn, job: JobState, pending: list[StoredDelivery]) -> Checkpoint:
    done = draw(st.lists(st.sampled_from([d.seq for d in pending]), unique=True)) if pending else []
    return Checkpoint(
        job_id=job.job_id,
        status=draw(st.sampled_from(list(JobStatus))).value,
        updated_at=job.updated_at.isoformat(),
        current_routine_id=draw(st.none() | names),
        error=draw(st.none() | st.text(plain_text, max_size=20)),
        deliveries=draw(st.integers(0, 10**6)),
        next_seq=draw(st.integers(0, 10**12)),
        done=done,
        added=draw(deliveries),
        history=draw(events),
        errors=draw(errors),
        shared_data=draw(st.none() | mappings),
        routine_states=draw(st.none() | st.dictionaries(names, mappings, max_size=2)),
        log_entries=draw(st.lists(mappings, max_size=3)),
        outputs=draw(outputs),
        deferred_events=draw(st.none() | deferred),
        job_logs=draw(log_records),
    )


def state(job: JobState) -> tuple[Any, ...]:
    """Everything a job state holds, decoded (sets compare as sets, not as encoded lists)."""
    return (
        job.job_id,
        job.flow_id,
        job.status,
        job.created_at,
        job.updated_at,
        job.current_routine_id,
        job.error,
        job.shared_data,
        job.routine_states,
        job.shared_log,
        job.output_log,
        job.deferred_events,
        job.execution_history,
        job.errors,
    )


def expected_after(
    job: JobState, pending: list[StoredDelivery], change: Checkpoint
) -> tuple[tuple[Any, ...], list[StoredDelivery]]:
    """What a store must hold for ``job`` after ``change``: the state and the pending list."""
    job.status = JobStatus(change.status)
    job.current_routine_id, job.error = change.current_routine_id, change.error
    job.execution_history = [ExecutionRecord(*event) for event in change.history]
    job.errors = list(change.errors)
    job.shared_log = job.shared_log + change.log_entries
    job.output_log = job.output_log + change.outputs
    if change.shared_data is not None:
        job.shared_data = change.shared_data
    if change.routine_states is not None:
        job.routine_states = change.routine_states
    if change.deferred_events is not None:
        job.deferred_events = change.deferred_events
    left = {d.seq: d for d in pending if d.seq not in change.done}
    left.update({d.seq: d for d in change.added})
    return state(job), sorted(left.values(), key=lambda d: d.seq)


@settings(
    max_examples=30,
    deadline=None,
    # The store is made once per test, not per example; each example adds its own job.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_store_round_trips_random_job_states(store: JobStore, data: st.DataObject) -> None:
    job, pending = data.draw(jobs())
    store.create_job(job.serialize(), pending=pending, next_seq=len(pending))
    created = store.load_job(job.job_id)
    change = data.draw(checkpoints(job, pending))

    store.checkpoint(change)
    stored = store.load_job(job.job_id)

    assert state(JobState.deserialize(created.document)) == state(job)
    assert created.pending == sorted(pending, key=lambda d: d.seq)
    expected, left = expected_after(job, pending, change)
    assert state(JobState.deserialize(stored.document)) == expected
    assert stored.pending == left
    assert (stored.deliveries, stored.next_seq) == (change.deliveries, change.next_seq)
    assert [(e.position, e.record) for e in store.read_job_logs(job.job_id)] == list(
        enumerate(change.job_logs)
    )
