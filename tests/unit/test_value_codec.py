"""Value encoding in job documents: types survive, JSON stays JSON, bad values are named."""

from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from routilux import JobState, SerializationError


def round_trip(value: Any) -> Any:
    job = JobState("f")
    job.update_shared_data("value", value)
    document = json.loads(json.dumps(job.serialize(), allow_nan=False))
    return JobState.deserialize(document).get_shared_data("value")


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


VALUES = {
    "none": None,
    "bool": True,
    "int": 42,
    "big int": 2**80,
    "float": 3.25,
    "string": "héllo ☃",
    "empty list": [],
    "list": [1, "a", None],
    "dict": {"a": 1, "b": [2, 3]},
    "tuple": (1, "a"),
    "empty tuple": (),
    "nested tuple": ((1, 2), [3, (4,)]),
    "set": {1, 2, 3},
    "frozenset": frozenset({"x", "y"}),
    "set of tuples": {(1, 2), (3, 4)},
    "bytes": b"\x00\x01\xfe\xff",
    "empty bytes": b"",
    "aware datetime": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2))),
    "naive datetime": datetime(2024, 5, 6, 7, 8, 9),
    "date": date(2024, 2, 29),
    "decimal": Decimal("12.3400"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "int keys": {1: "one", 2: "two"},
    "tuple keys": {(1, "a"): "x"},
    "mixed keys": {"s": 1, 2: "i", None: "n"},
    "dict with a tag key": {"$t": "tuple", "v": [1, 2]},
    "infinity": float("inf"),
    "minus infinity": float("-inf"),
    "deep": {"a": [{"b": ({"c": {1, 2}},)}]},
}


@pytest.mark.parametrize("value", list(VALUES.values()), ids=list(VALUES))
def test_value_round_trips_with_its_type(value: Any) -> None:
    assert same(round_trip(value), value)


def test_bool_stays_bool_and_int_stays_int() -> None:
    restored = round_trip([True, 1, False, 0])
    assert [type(v) for v in restored] == [bool, int, bool, int]


def test_nan_round_trips_as_nan() -> None:
    restored = round_trip(float("nan"))
    assert isinstance(restored, float)
    assert math.isnan(restored)


def test_the_document_of_special_values_is_plain_json() -> None:
    job = JobState("f")
    for name, value in VALUES.items():
        job.update_shared_data(name, value)
    job.update_shared_data("nan", float("nan"))
    text = json.dumps(job.serialize(), allow_nan=False)
    assert json.loads(text)["shared_data"]["string"] == "héllo ☃"


def test_a_str_enum_is_written_as_its_text() -> None:
    class Colour(str, Enum):
        RED = "red"

    assert same(round_trip(Colour.RED), "red")


def test_an_arbitrary_object_is_refused_with_its_path() -> None:
    class Thing:
        pass

    job = JobState("f")
    job.update_shared_data("outer", {"list": [0, Thing()]})
    with pytest.raises(SerializationError, match=r"shared_data\['outer'\]\['list'\]\[1\]"):
        job.serialize()


def test_an_object_as_a_dict_key_is_refused() -> None:
    job = JobState("f")
    job.update_shared_data("keys", {object(): 1})
    with pytest.raises(SerializationError, match=r"shared_data\['keys'\]"):
        job.serialize()


@pytest.mark.parametrize(
    "value",
    [complex(1, 2), timedelta(seconds=1), bytearray(b"x"), range(3)],
    ids=["complex", "timedelta", "bytearray", "range"],
)
def test_unsupported_builtin_types_are_refused_not_converted(value: Any) -> None:
    job = JobState("f")
    job.update_shared_data("v", value)
    with pytest.raises(SerializationError, match=type(value).__qualname__):
        job.serialize()


def test_a_self_referencing_list_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    job = JobState("f")
    job.update_shared_data("loop", loop)
    with pytest.raises(SerializationError, match="nests deeper"):
        job.serialize()


def test_an_unknown_value_tag_is_refused_on_reading() -> None:
    document = JobState("f").serialize()
    document["shared_data"] = {"x": {"$t": "object", "v": "os.system"}}
    with pytest.raises(SerializationError, match="unknown value tag 'object'"):
        JobState.deserialize(document)
