"""Hostile job documents: integers too long to read or out of range, and empty ids.

``JobState.load`` and ``JobState.deserialize`` raise SerializationError naming the field,
never a bare ValueError or OverflowError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routilux import JobState, SerializationError

HUGE = 10**5000


def document(**changes: Any) -> dict[str, Any]:
    doc = JobState("flow").serialize()
    doc.update(changes)
    return doc


def test_load_names_the_field_of_an_integer_too_long_to_read(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    text = json.dumps(document()).replace(
        '"history_dropped": 0', '"history_dropped": ' + "9" * 5000
    )
    path.write_text(text, encoding="utf-8")

    with pytest.raises(SerializationError) as caught:
        JobState.load(path)

    assert str(caught.value) == (
        f"{path} is not a valid JSON document: history_dropped is an integer of 5000 digits; "
        "at most 4300 are allowed."
    )


def test_load_of_json_nested_too_deeply_is_a_serialization_error(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")

    with pytest.raises(SerializationError, match="nests deeper than the JSON parser can follow"):
        JobState.load(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"version": HUGE}, r"Job document version <an integer of about 5000 digits> is not"),
        ({"schema": HUGE}, r"schema is <an integer of about 5000 digits>, expected"),
        ({"history_dropped": HUGE}, r"'history_dropped' field .* from 0 to 9223372036854775807"),
        (
            {"shared_data": {"x": {"$t": "ref", "v": HUGE}}},
            r"shared_data\['x'\] is a reference to code \(<an integer of about 5000 digits>\)",
        ),
        (
            {"shared_data": {"x": {"$t": HUGE, "v": 1}}},
            r"shared_data\['x'\] has the unknown value tag <an integer",
        ),
    ],
)
def test_deserialize_names_the_field_of_an_integer_too_long_to_show(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(SerializationError, match=message):
        JobState.deserialize(document(**changes))


@pytest.mark.parametrize("field", ["timestamp", "attempt"])
def test_an_error_record_number_out_of_range_is_named(field: str) -> None:
    record = {
        "error_type": "ValueError",
        "message": "m",
        "traceback": "t",
        "attempt": 1,
        "action": "stop",
        "timestamp": 1.0,
        field: HUGE,
    }
    with pytest.raises(SerializationError, match=rf"The '{field}' field of .*errors\[0\]"):
        JobState.deserialize(document(errors=[record]))


def test_a_pending_delay_beyond_any_float_is_named() -> None:
    pending = {"delivery_id": "d", "routine_id": "r", "slot": "s", "data": {}, "attempt": 1}
    with pytest.raises(SerializationError, match=r"'delay' field of pending_deliveries\[0\]"):
        JobState.deserialize(document(pending_deliveries=[{**pending, "delay": HUGE}]))


def test_an_empty_job_id_is_refused() -> None:
    with pytest.raises(SerializationError, match="The 'job_id' field of the job document must not"):
        JobState.deserialize(document(job_id=""))


@pytest.mark.parametrize("dropped", [-1, -(10**6)])
def test_a_negative_history_dropped_is_refused(dropped: int) -> None:
    with pytest.raises(
        SerializationError,
        match=rf"'history_dropped' field of the job document must be an integer from 0 .*{dropped}",
    ):
        JobState.deserialize(document(history_dropped=dropped))


def test_a_missing_or_null_history_dropped_still_reads_as_zero() -> None:
    doc = document()
    del doc["history_dropped"]

    assert JobState.deserialize(doc).history_dropped == 0
    assert JobState.deserialize(document(history_dropped=None)).history_dropped == 0
