"""One routine's document: serialize, deserialize (both forms) and serializable fields."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# Entries name the fixture routines by import path (tests.fixtures...), so the
# repository root must be importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fixtures.kept_fields import Plain, Thresholded  # noqa: E402

from routilux import (  # noqa: E402 - after the sys.path set-up above
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    Flow,
    Routine,
    SerializationError,
)

FX = "tests.fixtures.kept_fields"


def configured() -> Thresholded:
    routine = Thresholded()
    routine.threshold = 7
    routine.labels = ["a", "b"]
    routine.set_config(mode="strict")
    routine.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return routine


def test_serialize_is_the_routine_entry_of_a_flow_document() -> None:
    routine = configured()
    flow = Flow()
    flow.add_routine(routine, "gate")
    assert routine.serialize() == flow.serialize()["routines"]["gate"]


def test_the_entry_keeps_class_config_fields_slots_events_and_policy() -> None:
    entry = configured().serialize()
    assert entry["class"] == f"{FX}:Thresholded"
    assert entry["config"] == {"mode": "strict"}
    assert entry["fields"] == {"threshold": 7, "labels": ["a", "b"]}
    assert entry["slots"] == [{"name": "input", "handler": "check", "merge_strategy": "override"}]
    assert entry["events"] == [{"name": "above", "params": ["value"]}]
    assert entry["error_handler"]["strategy"] == "continue"


def test_an_entry_without_fields_has_no_fields_key() -> None:
    assert "fields" not in Plain().serialize()


def test_deserialize_on_the_class_builds_the_routine() -> None:
    rebuilt = Routine.deserialize(configured().serialize())
    assert isinstance(rebuilt, Thresholded)
    assert (rebuilt.threshold, rebuilt.labels) == (7, ["a", "b"])
    assert rebuilt.config() == {"mode": "strict"}
    assert rebuilt.error_handler is not None
    assert rebuilt.error_handler.strategy is ErrorStrategy.CONTINUE


def test_deserialize_on_an_instance_applies_the_entry_to_it() -> None:
    routine = Thresholded()
    assert routine.deserialize(configured().serialize()) is routine
    assert (routine.threshold, routine.labels, routine.config()) == (
        7,
        ["a", "b"],
        {"mode": "strict"},
    )


def test_deserialize_on_an_instance_of_another_class_is_refused() -> None:
    with pytest.raises(SerializationError, match=r"into a Plain: the entry is of class"):
        Plain().deserialize(configured().serialize())


def test_deserialize_on_an_unrelated_class_is_refused() -> None:
    with pytest.raises(SerializationError, match="as a Plain: the entry is of class"):
        Plain.deserialize(configured().serialize())


def test_a_malformed_entry_is_refused() -> None:
    entry = configured().serialize()
    del entry["slots"]
    with pytest.raises(SerializationError, match="slots"):
        Routine.deserialize(entry)


def test_deserialize_honours_allowed_modules() -> None:
    with pytest.raises(SerializationError):
        Routine.deserialize(
            {**Plain().serialize(), "class": "json.decoder:JSONDecoder"},
            allowed_modules=["tests"],
        )


def test_fields_are_set_before_the_config_is_applied() -> None:
    seen: list[Any] = []

    class Watching(Thresholded):
        def validate_config(self, config: Any) -> None:
            seen.append(self.threshold)

    routine = Watching()
    routine.threshold = 3
    routine.set_config(x=1)
    flow = Flow()
    flow.add_routine(routine, "w")
    seen.clear()
    registry = {"Watching": Watching}
    Flow.deserialize(flow.serialize(registry=registry), registry=registry)
    assert seen == [3]


def test_flow_documents_round_trip_the_fields() -> None:
    flow = Flow()
    flow.add_routine(configured(), "gate")
    rebuilt = Flow.deserialize(flow.serialize())
    routine = rebuilt.routines["gate"]
    assert isinstance(routine, Thresholded)
    assert (routine.threshold, routine.labels) == (7, ["a", "b"])
    assert routine.serializable_fields == ("threshold", "labels")


def test_a_field_value_the_codec_refuses_names_the_routine_and_field() -> None:
    routine = Thresholded()
    routine.threshold = object()  # type: ignore[assignment]
    flow = Flow()
    flow.add_routine(routine, "gate")
    with pytest.raises(SerializationError, match=r"routines\['gate'\]\.fields\['threshold'\]"):
        flow.serialize()


def test_a_field_the_routine_lacks_is_refused_on_write() -> None:
    routine = Plain()
    routine.add_serializable_fields("missing")
    with pytest.raises(SerializationError, match="has no attribute of that name"):
        routine.serialize()


def test_remove_serializable_fields_stops_keeping_them() -> None:
    routine = configured()
    routine.remove_serializable_fields(["labels", "unknown"])
    assert routine.serializable_fields == ("threshold",)
    assert routine.serialize()["fields"] == {"threshold": 7}


def test_adding_a_field_twice_keeps_it_once() -> None:
    routine = Plain()
    routine.add_serializable_fields(["a", "a"])
    routine.add_serializable_fields("a")
    assert routine.serializable_fields == ("a",)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("__dict__", "special"),
        ("input", "one of its slots"),
        ("above", "one of its events"),
        ("check", "one of its methods"),
        ("serialize", "one of its methods"),
        ("_config", "Routine itself uses"),
        ("not a name", "must be an attribute name"),
    ],
)
def test_names_that_are_not_plain_attributes_are_refused(name: str, reason: str) -> None:
    with pytest.raises(DefinitionError, match=reason):
        Thresholded().add_serializable_fields([name])


def test_a_document_field_with_a_refused_name_is_refused_on_read() -> None:
    entry = Plain().serialize()
    entry["fields"] = {"take": 1}
    with pytest.raises(SerializationError, match=r"fields.*one of its methods"):
        Routine.deserialize(entry)
