"""keep_logs in flow documents and flow files: written as a level name, read strictly."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from routilux import Flow, SerializationError


@pytest.mark.parametrize(
    ("keep_logs", "written", "level"),
    [
        (True, "INFO", logging.INFO),
        ("warning", "WARNING", logging.WARNING),
        (logging.DEBUG, "DEBUG", logging.DEBUG),
        (15, 15, 15),  # A level without a name is written as its number.
    ],
)
def test_keep_logs_is_written_as_its_level_and_round_trips(
    keep_logs: Any, written: Any, level: int
) -> None:
    doc = Flow(keep_logs=keep_logs).serialize()

    assert doc["keep_logs"] == written
    assert Flow.deserialize(doc).keep_logs == level
    assert Flow().deserialize(doc).keep_logs == level
    assert Flow.deserialize(doc).serialize() == doc


def test_a_flow_that_keeps_no_logs_writes_nothing_and_absent_is_off() -> None:
    doc = Flow(keep_logs=True).serialize()
    assert "keep_logs" not in Flow().serialize()

    del doc["keep_logs"]

    assert Flow.deserialize(doc).keep_logs is None


@pytest.mark.parametrize(("value", "level"), [(False, None), ("error", logging.ERROR), (0, 0)])
def test_a_document_may_say_false_a_level_name_in_any_case_or_a_number(
    value: Any, level: int | None
) -> None:
    doc = Flow().serialize() | {"keep_logs": value}

    assert Flow.deserialize(doc).keep_logs == level


@pytest.mark.parametrize("value", ["LOUD", -1, None, 2.5, ["INFO"], ""])
def test_a_document_with_a_bad_keep_logs_is_refused_naming_the_key(value: Any) -> None:
    doc = Flow().serialize() | {"keep_logs": value}

    with pytest.raises(SerializationError, match=r"^Flow document: keep_logs must be false"):
        Flow.deserialize(doc)


def test_a_yaml_flow_file_keeps_logs(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    text = json.dumps(Flow("files").serialize(), indent=2)
    path.write_text(text.replace('"flow_id"', '"keep_logs": "INFO",\n  "flow_id"'), "utf-8")

    assert Flow.from_file(path).keep_logs == logging.INFO


def test_a_flow_file_with_a_bad_keep_logs_names_the_file_the_key_and_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "flow.yaml"
    lines = ["schema: routilux.flow", "version: 2", "flow_id: files", "keep_logs: loud"]
    lines += ["execution_strategy: sequential", "max_workers: 5", "execution_timeout: null"]
    lines += ["max_deliveries: null", "record_history: true", "retain_jobs: 100"]
    lines += ["error_handler: null", "routines: {}", "connections: []"]
    path.write_text("\n".join(lines) + "\n", "utf-8")

    with pytest.raises(SerializationError) as caught:
        Flow.from_file(path)

    message = str(caught.value)
    assert str(path) in message
    assert "keep_logs: must be false" in message
    assert f"{path}:4:" in message


def test_save_and_load_keep_the_level(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    Flow("saved", keep_logs="ERROR").save(path)

    assert json.loads(path.read_text("utf-8"))["keep_logs"] == "ERROR"
    assert Flow.load(path).keep_logs == logging.ERROR
