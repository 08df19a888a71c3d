"""Flow files: Flow.save writes the document atomically; Flow.load reads it strictly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import Flow, SerializationError  # noqa: E402


def rich_flow() -> Flow:
    flow = Flow(flow_id="rich")
    flow.add_routine(fx.Source(), "source")
    flow.add_routine(fx.Gather(), "gather")
    flow.connect("source", "out", "gather", "input", {"tag": "label"})
    return flow


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    flow = rich_flow()
    flow.save(path)
    assert json.loads(path.read_text(encoding="utf-8")) == flow.serialize()
    assert Flow.load(path).serialize() == flow.serialize()


def test_save_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text("old", encoding="utf-8")
    rich_flow().save(path)
    assert Flow.load(path).flow_id == "rich"
    assert [p.name for p in tmp_path.iterdir()] == ["flow.json"]


def test_save_of_an_unserializable_flow_leaves_no_file(tmp_path: Path) -> None:
    flow = Flow()
    flow.add_routine(fx.LambdaHandler(), "bad")
    with pytest.raises(SerializationError):
        flow.save(tmp_path / "flow.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema": "routilux.flow", "version": 1, "routines": {', "not a valid JSON document"),
        ('{"schema": "routilux.flow", "schema": "x"}', "'schema' twice"),
        ('{"a": NaN}', "not a valid JSON document"),
        ("[" * 100_000 + "]" * 100_000, "not a valid JSON document"),
        ("", "not a valid JSON document"),
    ],
)
def test_load_refuses_invalid_json(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "flow.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SerializationError, match=message):
        Flow.load(path)


def test_load_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_bytes(b'{"schema": "\xff"}')
    with pytest.raises(SerializationError, match="not a valid JSON document"):
        Flow.load(path)


def test_load_of_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Flow.load(tmp_path / "missing.json")
