"""JobState: the default flow id, record_execution, record times, the shared log, deserialize."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ExecutionRecord,
    Flow,
    InvalidLogEntryError,
    JobState,
    Routine,
    SerializationError,
)

UTC = timezone.utc


def is_utc(moment: datetime) -> bool:
    return moment.utcoffset() == timedelta(0)


class Recorder(Routine):
    """Records ``n`` history entries of its own, then emits once."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.run)
        self.define_event("done", ["n"])

    def run(self, n: int) -> None:
        context = self.get_execution_context()
        assert context is not None
        for i in range(n):
            context.job_state.record_execution(context.routine_id, "step", {"i": i})
        self.emit("done", n=n)


def recorder_flow(**options: Any) -> Flow:
    flow = Flow(flow_id="records", **options)
    flow.add_routine(Recorder(), "recorder")
    return flow


# -- JobState() ------------------------------------------------------------------------


def test_a_job_state_needs_no_flow_id() -> None:
    job = JobState()
    assert job.flow_id == ""
    assert job.status == "pending"


def test_a_job_state_without_a_flow_id_round_trips() -> None:
    job = JobState()
    assert JobState.deserialize(job.serialize()).flow_id == ""


# -- ExecutionRecord -------------------------------------------------------------------


def test_an_execution_record_has_defaults() -> None:
    before = datetime.now(UTC)
    record = ExecutionRecord()
    assert (record.routine_id, record.event_name, record.data) == ("", "", {})
    assert is_utc(record.timestamp)
    assert before <= record.timestamp <= datetime.now(UTC)


def test_execution_records_do_not_share_their_default_data() -> None:
    first, second = ExecutionRecord(), ExecutionRecord()
    first.data["x"] = 1
    assert second.data == {}


def test_an_execution_record_keeps_what_it_is_given() -> None:
    moment = datetime(2024, 5, 1, 12, tzinfo=UTC)
    record = ExecutionRecord("r", "e", {"a": 1}, moment)
    assert record == ("r", "e", {"a": 1}, moment)
    assert record.to_dict() == {
        "routine_id": "r",
        "event_name": "e",
        "data": {"a": 1},
        "timestamp": moment,
    }


def test_history_times_are_utc_datetimes() -> None:
    before = datetime.now(UTC)
    job = recorder_flow().execute("recorder", {"n": 1})
    for record in job.execution_history:
        assert isinstance(record.timestamp, datetime)
        assert is_utc(record.timestamp)
        assert before <= record.timestamp <= datetime.now(UTC)


def test_a_history_time_minus_a_naive_datetime_raises() -> None:
    job = recorder_flow().execute("recorder", {"n": 1})
    with pytest.raises(TypeError):
        _ = job.execution_history[0].timestamp - datetime.now()
    assert job.execution_history[0].timestamp - datetime.now(UTC) <= timedelta(0)


# -- record_execution ------------------------------------------------------------------


def test_record_execution_appends_a_record_stamped_now() -> None:
    job = JobState("f")
    before = datetime.now(UTC)
    job.record_execution("processor", "output", {"result": "processed", "count": 10})
    [record] = job.execution_history
    assert (record.routine_id, record.event_name) == ("processor", "output")
    assert record.data == {"result": "processed", "count": 10}
    assert before <= record.timestamp <= datetime.now(UTC)
    assert is_utc(record.timestamp)


def test_record_execution_keeps_the_call_order_and_copies_the_data() -> None:
    job = JobState("f")
    data = {"n": 1}
    job.record_execution("a", "one", data)
    job.record_execution("b", "two", None)
    data["n"] = 99
    assert [(r.routine_id, r.event_name, r.data) for r in job.execution_history] == [
        ("a", "one", {"n": 1}),
        ("b", "two", {}),
    ]


def test_records_of_a_handler_come_before_its_emits() -> None:
    job = recorder_flow().execute("recorder", {"n": 2})
    assert [(r.event_name, r.data) for r in job.execution_history] == [
        ("step", {"i": 0}),
        ("step", {"i": 1}),
        ("done", {"n": 2}),
    ]


def test_record_execution_records_even_without_the_flows_history() -> None:
    job = recorder_flow(record_history=False).execute("recorder", {"n": 2})
    assert [r.event_name for r in job.execution_history] == ["step", "step"]


def test_record_execution_is_thread_safe_and_keeps_each_threads_order() -> None:
    job = JobState("f")
    start = threading.Barrier(8)

    def record(thread: int) -> None:
        start.wait()
        for i in range(500):
            job.record_execution(f"t{thread}", "e", {"i": i})

    threads = [threading.Thread(target=record, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = job.execution_history
    assert len(history) == 4000
    for t in range(8):
        assert [r.data["i"] for r in job.get_execution_history(f"t{t}")] == list(range(500))


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_records_count_against_the_history_limit(strategy: str) -> None:
    flow = recorder_flow(history_limit=10, execution_strategy=strategy)
    job = flow.execute("recorder", {"n": 1000})
    flow.shutdown()
    kept = job.execution_history
    assert 10 <= len(kept) <= 20  # Trimmed to the limit once it holds twice that.
    assert job.history_dropped == 1001 - len(kept)
    assert kept[-1].event_name == "done"
    assert [r.data["i"] for r in kept[:-1]] == list(range(1001 - len(kept), 1000))


def test_records_after_the_job_ended_still_keep_the_limit() -> None:
    job = recorder_flow(history_limit=3).execute("recorder", {"n": 0})
    for i in range(100):
        job.record_execution("late", "e", {"i": i})
    assert len(job.execution_history) <= 6
    assert job.history_dropped + len(job.execution_history) == 101


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, "e", {}), "routine_id must be a string"),
        (("r", None, {}), "event_name must be a string"),
        (("r", "e", [1]), "data must be a mapping"),
    ],
)
def test_record_execution_refuses_bad_arguments(args: tuple[Any, ...], message: str) -> None:
    job = JobState("f")
    with pytest.raises(DefinitionError, match=message):
        job.record_execution(*args)
    assert job.execution_history == []


def test_setting_a_record_with_an_impossible_time_is_refused() -> None:
    job = JobState("f")
    with pytest.raises(DefinitionError, match="timestamp must be a datetime"):
        job.execution_history = [ExecutionRecord("r", "e", {}, "yesterday")]  # type: ignore[arg-type]


# -- documents -------------------------------------------------------------------------


def test_history_times_are_written_as_iso_8601_and_read_back() -> None:
    job = JobState("f")
    job.record_execution("r", "e", {"x": 1})
    document = job.serialize()
    stamp = document["execution_history"][0]["timestamp"]
    assert datetime.fromisoformat(stamp) == job.execution_history[0].timestamp
    loaded = JobState.deserialize(document)
    assert loaded.execution_history == job.execution_history
    assert loaded.serialize() == document


def test_a_document_with_history_times_in_seconds_is_still_read() -> None:
    document = JobState("f").serialize()
    record = {"routine_id": "r", "event_name": "e", "data": {}, "timestamp": 1_714_564_800.25}
    document["execution_history"] = [record]
    [loaded] = JobState.deserialize(document).execution_history
    assert loaded.timestamp == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize("stamp", ["yesterday", 1e20, True, None])
def test_a_history_time_that_is_not_a_time_is_refused(stamp: Any) -> None:
    document = JobState("f").serialize()
    document["execution_history"] = [
        {"routine_id": "r", "event_name": "e", "data": {}, "timestamp": stamp}
    ]
    with pytest.raises(SerializationError, match=r"'timestamp' field of execution_history\[0\]"):
        JobState.deserialize(document)


# -- the shared log --------------------------------------------------------------------


def test_get_shared_log_keeps_the_entries_the_filter_is_true_for() -> None:
    job = JobState("f")
    for level in ("info", "error", "info"):
        job.append_to_shared_log({"level": level})
    errors = job.get_shared_log(lambda entry: entry["level"] == "error")
    assert [e["level"] for e in errors] == ["error"]
    assert len(job.get_shared_log(filter_func=None)) == 3
    assert job.get_shared_log(lambda entry: False) == []


def test_a_shared_log_time_is_iso_8601_utc_and_a_given_one_is_kept() -> None:
    job = JobState("f")
    job.append_to_shared_log({"n": 1})
    job.append_to_shared_log({"n": 2, "timestamp": "mine"})
    first, second = job.get_shared_log()
    assert is_utc(datetime.fromisoformat(first["timestamp"]))
    assert second["timestamp"] == "mine"


def test_a_shared_log_entry_that_is_not_a_dict_is_a_type_and_a_value_error() -> None:
    assert issubclass(InvalidLogEntryError, TypeError)
    assert issubclass(InvalidLogEntryError, ValueError)
    with pytest.raises(ValueError, match="expects a mapping"):
        JobState("f").append_to_shared_log("text")  # type: ignore[arg-type]


# -- deserialize on an instance --------------------------------------------------------


def finished_job() -> JobState:
    job = recorder_flow().execute("recorder", {"n": 1})
    job.append_to_shared_log({"note": "done"})
    return job


def test_deserialize_on_a_new_job_rebuilds_into_it_and_returns_it() -> None:
    original = finished_job()
    fresh = JobState()
    rebuilt = fresh.deserialize(original.serialize())
    assert rebuilt is fresh
    assert fresh.job_id == original.job_id
    assert fresh.flow_id == "records"
    assert fresh.status == "completed"
    assert fresh.is_finished
    assert fresh.wait(0)
    assert fresh.execution_history == original.execution_history
    assert fresh.serialize() == original.serialize()


def test_deserialize_on_the_class_still_returns_a_new_job() -> None:
    original = finished_job()
    loaded = JobState.deserialize(original.serialize())
    assert isinstance(loaded, JobState)
    assert loaded is not original
    assert loaded.serialize() == original.serialize()


def test_deserialize_into_a_job_keeps_its_output_handler() -> None:
    class Handler:
        def handle(self, **kwargs: Any) -> None:
            pass

    handler = Handler()
    fresh = JobState()
    fresh.set_output_handler(handler)
    fresh.deserialize(finished_job().serialize())
    assert fresh.output_handler is handler


@pytest.mark.parametrize("used", ["history", "status"])
def test_deserialize_into_a_job_that_is_not_new_is_refused(used: str) -> None:
    job = JobState("mine")
    if used == "history":
        job.record_execution("r", "e", {})
    else:
        job = finished_job()
    before = job.serialize()
    with pytest.raises(DefinitionError, match=r"JobState\.deserialize\(document\)"):
        job.deserialize(JobState("other").serialize())
    assert job.serialize() == before


def test_a_refused_document_leaves_the_new_job_unchanged() -> None:
    fresh = JobState("mine")
    before = fresh.serialize()
    document = finished_job().serialize()
    document["errors"] = "not a list"
    with pytest.raises(SerializationError):
        fresh.deserialize(document)
    assert fresh.serialize() == before
