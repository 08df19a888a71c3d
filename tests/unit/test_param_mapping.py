"""param_mapping: key renames on one connection."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import DefinitionError, Flow, Routine


class Source(Routine):
    """Emits its entry params on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda **message: self.emit("out", **message))
        self.define_event("out")


class Recorder(Routine):
    def __init__(self, merge_strategy: str = "override") -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.slot = self.define_slot("input", handler=self.receive, merge_strategy=merge_strategy)

    def receive(self, **message: Any) -> None:
        self.received.append(message)


def run(message: dict[str, Any], *mappings: dict[str, str] | None) -> tuple[Any, list[Recorder]]:
    """Connect the source to one recorder per mapping and send ``message``."""
    flow = Flow()
    flow.add_routine(Source(), "source")
    recorders = []
    for i, mapping in enumerate(mappings):
        recorder = Recorder()
        flow.add_routine(recorder, f"r{i}")
        flow.connect("source", "out", f"r{i}", "input", param_mapping=mapping)
        recorders.append(recorder)
    return flow.execute("source", entry_params=message), recorders


def test_without_mapping_keys_pass_unchanged() -> None:
    _, [recorder] = run({"a": 1, "b": 2}, None)
    assert recorder.received == [{"a": 1, "b": 2}]


def test_rename_passes_the_value_under_the_new_key_only() -> None:
    _, [recorder] = run({"result": 5, "other": 6}, {"result": "value"})
    assert recorder.received == [{"value": 5, "other": 6}]


def test_noop_rename_changes_nothing() -> None:
    _, [recorder] = run({"a": 1, "b": 2}, {"a": "a"})
    assert recorder.received == [{"a": 1, "b": 2}]


def test_mapping_of_a_key_absent_from_the_message_is_ignored() -> None:
    _, [recorder] = run({"a": 1}, {"missing": "renamed"})
    assert recorder.received == [{"a": 1}]


def test_keys_can_be_swapped() -> None:
    _, [recorder] = run({"a": 1, "b": 2}, {"a": "b", "b": "a"})
    assert recorder.received == [{"b": 1, "a": 2}]


def test_several_keys_are_renamed_at_once() -> None:
    _, [recorder] = run({"x": 1, "y": 2, "z": 3}, {"x": "left", "y": "right"})
    assert recorder.received == [{"left": 1, "right": 2, "z": 3}]


def test_mapping_applies_only_to_its_own_connection() -> None:
    _, [renamed, plain] = run({"result": 5}, {"result": "value"}, None)
    assert renamed.received == [{"value": 5}]
    assert plain.received == [{"result": 5}]


def test_history_records_the_data_as_emitted_not_as_renamed() -> None:
    job, _ = run({"result": 5}, {"result": "value"})
    assert [r.data for r in job.execution_history] == [{"result": 5}]


def test_renamed_keys_fill_named_handler_parameters() -> None:
    seen: list[Any] = []

    class Named(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", handler=lambda value: seen.append(value))

    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(Named(), "named")
    flow.connect("source", "out", "named", "input", param_mapping={"result": "value"})
    job = flow.execute("source", entry_params={"result": 9})
    assert job.status == "completed"
    assert seen == [9]


def test_append_slot_accumulates_under_the_renamed_key() -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    recorder = Recorder("append")
    flow.add_routine(recorder, "agg")
    flow.connect("source", "out", "agg", "input", param_mapping={"result": "value"})
    flow.execute("source", entry_params={"result": 1})
    flow.execute("source", entry_params={"result": 2})
    assert dict(recorder.slot.data) == {"value": [1, 2]}


def test_empty_mapping_is_no_mapping() -> None:
    _, [recorder] = run({"a": 1}, {})
    assert recorder.received == [{"a": 1}]


def test_a_rename_onto_a_key_the_message_also_has_fails_the_emit_naming_both() -> None:
    job, [recorder] = run({"x": "X", "y": "Y"}, {"x": "y"})
    assert recorder.received == []  # Neither value is passed on half-lost.
    assert job.status == "failed"
    (record,) = job.errors
    assert record.routine_id == "source"
    assert record.error_type == "ExecutionError"
    assert "renames 'x' to 'y', but the message also has that key" in record.message
    assert "'r0'.'input'" in record.message


def test_swapping_two_keys_loses_nothing() -> None:
    _, [recorder] = run({"x": "X", "y": "Y"}, {"x": "y", "y": "x"})
    assert recorder.received == [{"y": "X", "x": "Y"}]


def test_connect_refuses_a_rename_onto_a_key_the_event_declares() -> None:
    flow = Flow()
    source = Routine()
    source.define_event("out", ["x", "y"])
    flow.add_routine(source, "source")
    flow.add_routine(Recorder(), "sink")
    with pytest.raises(DefinitionError, match="renames 'x' to 'y', but the event also carries"):
        flow.connect("source", "out", "sink", "input", param_mapping={"x": "y"})
    assert flow.connections == []
    flow.connect("source", "out", "sink", "input", param_mapping={"x": "y", "y": "old_y"})
