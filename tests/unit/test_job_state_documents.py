"""JobState documents: serialize/deserialize, save/load, and malformed input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from routilux import (
    ErrorHandler,
    ErrorStrategy,
    Flow,
    JobState,
    PendingDelivery,
    Routine,
    RoutineStats,
    SerializationError,
)


class Worker(Routine):
    """Emits, writes shared data and log, and fails on ``bad`` items."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.work)
        self.define_slot("input", handler=self.work)
        self.define_event("out")

    def work(self, items: list[Any] | None = None, item: Any = None) -> None:
        context = self.get_execution_context()
        assert context is not None
        if items is not None:
            context.job_state.update_shared_data("batch", tuple(items))
            for value in items:
                self.emit("out", item=value)
            return
        if item == "bad":
            raise ValueError("bad item")
        context.job_state.append_to_shared_log({"item": item})


def rich_job() -> JobState:
    """A finished job with history, errors, routine states, shared data and log."""
    flow = Flow(flow_id="docs")
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow.add_routine(Worker(), "source")
    flow.add_routine(Worker(), "sink")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source", entry_params={"items": ["a", "bad", "c"]})
    job.update_shared_data("when", {"sets": {1, 2}, "raw": b"\x00\xff"})
    job.pending_deliveries = [
        PendingDelivery("docs:9", "sink", "input", {"item": ("t", 1)}, attempt=2, delay=1.5)
    ]
    return job


def snapshot(job: JobState) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "flow_id": job.flow_id,
        "status": job.status,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "current_routine_id": job.current_routine_id,
        "error": job.error,
        "routine_states": job.routine_states,
        "routine_stats": job.all_routine_stats(),
        "history": [tuple(r) for r in job.execution_history],
        "shared_data": job.shared_data,
        "shared_log": job.shared_log,
        "errors": job.errors,
        "pending": job.pending_deliveries,
    }


# -- round trips -----------------------------------------------------------------------


def test_serialize_is_json_compatible_with_schema_and_version() -> None:
    document = rich_job().serialize()
    assert json.loads(json.dumps(document, allow_nan=False)) == document
    assert document["schema"] == "routilux.job_state"
    assert document["version"] == 1


def test_deserialize_of_serialize_is_the_same_job() -> None:
    job = rich_job()
    assert snapshot(JobState.deserialize(job.serialize())) == snapshot(job)


def test_round_trip_through_json_text_is_the_same_job() -> None:
    job = rich_job()
    text = json.dumps(job.serialize())
    assert snapshot(JobState.deserialize(json.loads(text))) == snapshot(job)


def test_round_trip_keeps_the_errors_in_detail() -> None:
    job = rich_job()
    restored = JobState.deserialize(job.serialize())
    [error] = restored.errors
    assert (error.routine_id, error.slot, error.error_type, error.action, error.attempt) == (
        "sink",
        "input",
        "ValueError",
        "continue",
        1,
    )
    assert "bad item" in error.traceback
    assert error.delivery_id == job.errors[0].delivery_id


def test_round_trip_keeps_pending_deliveries() -> None:
    restored = JobState.deserialize(rich_job().serialize())
    assert restored.pending_deliveries == [
        PendingDelivery("docs:9", "sink", "input", {"item": ("t", 1)}, attempt=2, delay=1.5)
    ]


def test_round_trip_keeps_a_failed_status_and_its_error() -> None:
    flow = Flow()
    flow.add_routine(Worker(), "source")
    flow.add_routine(Worker(), "sink")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source", entry_params={"items": ["bad", "x"]})
    restored = JobState.deserialize(job.serialize())
    assert restored.status == "failed"
    assert restored.error == job.error
    assert restored.error is not None


def test_a_restored_finished_job_is_finished() -> None:
    restored = JobState.deserialize(rich_job().serialize())
    assert restored.is_finished
    assert restored.wait(timeout=0) is True


def test_a_restored_pending_job_is_not_finished() -> None:
    restored = JobState.deserialize(JobState("f").serialize())
    assert restored.status == "pending"
    assert restored.wait(timeout=0) is False


def test_deserialize_does_not_share_state_with_the_document() -> None:
    document = rich_job().serialize()
    restored = JobState.deserialize(document)
    restored.update_shared_data("new", 1)
    restored.routine_states["sink"]["status"] = "changed"
    assert JobState.deserialize(document).get_shared_data("new") is None
    assert document["routine_states"]["sink"]["status"] == "error_continued"


def test_the_engine_records_are_fields_of_their_own() -> None:
    document = rich_job().serialize()
    assert document["routine_states"] == {
        "source": {"status": "completed"},
        "sink": {"status": "error_continued", "error": "bad item"},
    }
    assert document["routine_stats"] == {
        "source": {"deliveries": 1, "failures": 0, "skips": 0},
        "sink": {"deliveries": 3, "failures": 1, "skips": 0},
    }
    assert (document["job_values"], document["timers"]) == ({}, {})


def test_round_trip_keeps_routine_stats_job_values_and_timers() -> None:
    job = rich_job()
    job._job_values = {"sink": {"seen": ("a", "c")}}
    job._timers = {"sink": {"flush": 9}}
    restored = JobState.deserialize(job.serialize())
    assert restored.all_routine_stats() == {
        "source": RoutineStats(deliveries=1),
        "sink": RoutineStats(deliveries=3, failures=1),
    }
    assert restored.job_values("sink") == {"seen": ("a", "c")}
    assert restored.routine_timers("sink") == {"flush": f"{job.job_id}:9"}
    assert restored.routine_states == job.routine_states


def legacy(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as routilux wrote it before the engine's records had fields of their own."""
    doc = copy.deepcopy(document)
    for key in ("routine_stats", "job_values", "timers"):
        del doc[key]
    doc["routine_states"] = {
        "source": {"status": "completed", "deliveries": 1, "failures": 0, "skips": 0},
        "sink": {
            "mine": {"$t": "tuple", "v": [1, 2]},
            "status": "failed",
            "deliveries": 3,
            "failures": 1,
            "skips": 0,
            "values": {"seen": {"$t": "set", "v": ["a"]}},
            "timers": {"flush": 9},
        },
    }
    return doc


def test_an_older_document_has_the_engine_records_taken_out_of_its_states(
    document: dict[str, Any],
) -> None:
    restored = JobState.deserialize(legacy(document))
    assert restored.routine_states == {"sink": {"mine": (1, 2)}}
    assert restored.all_routine_stats() == {
        "source": RoutineStats(deliveries=1),
        "sink": RoutineStats(deliveries=3, failures=1),
    }
    assert restored.job_values("sink") == {"seen": {"a"}}
    assert restored.routine_timers("sink") == {"flush": f"{restored.job_id}:9"}


def test_an_older_document_keeps_keys_that_the_engine_did_not_write(
    document: dict[str, Any],
) -> None:
    old = legacy(document)
    old["routine_states"] = {"r": {"deliveries": "many", "status": "busy", "timers": [1]}}
    restored = JobState.deserialize(old)
    assert restored.routine_states == {"r": {"deliveries": "many", "status": "busy", "timers": [1]}}
    assert restored.all_routine_stats() == {}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    job = rich_job()
    path = tmp_path / "job.json"
    job.save(path)
    assert snapshot(JobState.load(path)) == snapshot(job)


def test_save_accepts_a_string_path(tmp_path: Path) -> None:
    job = rich_job()
    job.save(str(tmp_path / "job.json"))
    assert JobState.load(str(tmp_path / "job.json")).job_id == job.job_id


def test_save_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    first, second = JobState("a"), JobState("b")
    first.save(path)
    second.save(path)
    assert JobState.load(path).job_id == second.job_id


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    rich_job().save(tmp_path / "job.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.json"]


def test_a_failing_save_leaves_the_existing_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    good = rich_job()
    good.save(path)
    before = path.read_bytes()
    bad = JobState("f")
    bad.update_shared_data("thing", object())
    with pytest.raises(SerializationError):
        bad.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.json"]


def test_a_failing_save_creates_no_file(tmp_path: Path) -> None:
    bad = JobState("f")
    bad.update_shared_data("thing", object())
    with pytest.raises(SerializationError):
        bad.save(tmp_path / "job.json")
    assert list(tmp_path.iterdir()) == []


def test_load_of_a_file_that_is_not_json_raises(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SerializationError, match="not a valid JSON document"):
        JobState.load(path)


def test_load_of_another_json_document_raises(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    with pytest.raises(SerializationError, match="schema"):
        JobState.load(path)


# -- values that cannot be written -----------------------------------------------------


class Opaque:
    pass


def test_an_unencodable_shared_value_raises_naming_its_path() -> None:
    job = JobState("f")
    job.update_shared_data("outer", [1, {"inner": Opaque()}])
    with pytest.raises(SerializationError, match=r"shared_data\['outer'\]\[1\]\['inner'\]") as info:
        job.serialize()
    assert "Opaque" in str(info.value)


def test_an_unencodable_emitted_value_raises_naming_the_history_record() -> None:
    class Emits(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=lambda: self.emit("out", thing=Opaque()))
            self.define_event("out")

    flow = Flow()
    flow.add_routine(Emits(), "emits")
    job = flow.execute("emits")
    with pytest.raises(SerializationError, match=r"execution_history\[0\]\.data\['thing'\]"):
        job.serialize()


def test_an_unencodable_log_value_raises_naming_its_path() -> None:
    job = JobState("f")
    job.append_to_shared_log({"obj": Opaque()})
    with pytest.raises(SerializationError, match=r"shared_log\[0\]\['obj'\]"):
        job.serialize()


def test_an_unencodable_routine_state_value_raises_naming_its_path() -> None:
    job = JobState("f")
    job.update_routine_state("r", {"handle": Opaque()})
    with pytest.raises(SerializationError, match=r"routine_states\['r'\]\['handle'\]"):
        job.serialize()


# -- malformed documents ---------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return rich_job().serialize()


def broken(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with the item at ``path`` set (or removed, for ``...``)."""
    doc = copy.deepcopy(document)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@pytest.mark.parametrize("value", [None, [], "job", 5])
def test_a_document_that_is_not_an_object_raises(value: Any) -> None:
    with pytest.raises(SerializationError, match="must be an object"):
        JobState.deserialize(value)


@pytest.mark.parametrize("schema", ["routilux.flow", None, ...])
def test_a_document_of_another_schema_raises(document: dict[str, Any], schema: Any) -> None:
    with pytest.raises(SerializationError, match="schema"):
        JobState.deserialize(broken(document, ("schema",), schema))


@pytest.mark.parametrize("version", [2, 0, "1", None, ...])
def test_a_document_of_another_version_raises(document: dict[str, Any], version: Any) -> None:
    with pytest.raises(SerializationError, match="version"):
        JobState.deserialize(broken(document, ("version",), version))


@pytest.mark.parametrize(
    "key",
    [
        "job_id",
        "flow_id",
        "status",
        "created_at",
        "updated_at",
        "routine_states",
        "execution_history",
        "shared_data",
        "shared_log",
        "errors",
        "pending_deliveries",
    ],
)
def test_a_document_missing_a_field_raises(document: dict[str, Any], key: str) -> None:
    with pytest.raises(SerializationError, match=key):
        JobState.deserialize(broken(document, (key,), ...))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("job_id",), 5),
        (("flow_id",), None),
        (("status",), 3),
        (("status",), "done"),
        (("created_at",), "yesterday"),
        (("updated_at",), 1700000000),
        (("current_routine_id",), 5),
        (("error",), ["list"]),
        (("routine_states",), []),
        (("execution_history",), {}),
        (("shared_data",), []),
        (("shared_log",), {}),
        (("errors",), {}),
        (("pending_deliveries",), "none"),
        (("execution_history", 0), "record"),
        (("execution_history", 0, "routine_id"), 1),
        (("execution_history", 0, "data"), []),
        (("execution_history", 0, "timestamp"), "now"),
        (("execution_history", 0, "timestamp"), ...),
        (("errors", 0), 5),
        (("errors", 0, "attempt"), "1"),
        (("errors", 0, "attempt"), True),
        (("errors", 0, "message"), ...),
        (("errors", 0, "timestamp"), None),
        (("pending_deliveries", 0), ["sink"]),
        (("pending_deliveries", 0, "delivery_id"), ...),
        (("pending_deliveries", 0, "attempt"), 1.5),
        (("pending_deliveries", 0, "delay"), "soon"),
        (("routine_stats",), []),
        (("routine_stats", "sink"), 3),
        (("routine_stats", "sink", "deliveries"), -1),
        (("routine_stats", "sink", "failures"), "1"),
        (("routine_stats", "sink", "skips"), True),
        (("job_values",), [1]),
        (("job_values",), {"sink": [1]}),
        (("timers",), {"sink": {"flush": "soon"}}),
        (("timers",), {"sink": 5}),
    ],
)
def test_a_document_with_a_wrong_type_raises(
    document: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    with pytest.raises(SerializationError):
        JobState.deserialize(broken(document, path, value))


def test_a_routine_state_that_is_not_an_object_raises(document: dict[str, Any]) -> None:
    with pytest.raises(SerializationError, match="routine_states"):
        JobState.deserialize(broken(document, ("routine_states", "sink"), 5))


@pytest.mark.parametrize(
    "value",
    [
        {"$t": "pickle", "v": "gASV"},
        {"$t": "bytes", "v": "not base64!"},
        {"$t": "tuple", "v": "not a list"},
        {"$t": "tuple", "v": [], "extra": 1},
        {"$t": "dict", "v": [[1]]},
        {"$t": "set", "v": [[1, 2]]},
        {"$t": "datetime", "v": "not a date"},
        {"$t": "decimal", "v": "x"},
        {"$t": "uuid", "v": 5},
        {"$t": None, "v": 1},
    ],
)
def test_a_malformed_tagged_value_raises(document: dict[str, Any], value: Any) -> None:
    with pytest.raises(SerializationError, match=r"shared_data\['bad'\]"):
        JobState.deserialize(broken(document, ("shared_data", "bad"), value))


def test_serialization_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        JobState.deserialize([])  # type: ignore[arg-type]
