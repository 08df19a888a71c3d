"""Merge strategies: what a slot keeps and what its handler receives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, Routine


class Source(Routine):
    """Emits each message of its ``messages`` entry param on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.emit("out", **message)


class Sink(Routine):
    """Records what its handler receives and the slot data it sees then."""

    def __init__(self, merge_strategy: Any = "override", *, handler: bool = True) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.slot = self.define_slot(
            "input", handler=self.receive if handler else None, merge_strategy=merge_strategy
        )

    def receive(self, **message: Any) -> None:
        self.received.append(message)
        self.snapshots.append(
            {k: list(v) if isinstance(v, list) else v for k, v in self.slot.data.items()}
        )


def run(sink: Sink, messages: list[dict[str, Any]], flow: Flow | None = None) -> Any:
    flow = flow or Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    return flow.execute("source", entry_params={"messages": messages})


# -- override --------------------------------------------------------------------------


def test_override_is_the_default() -> None:
    assert Sink().slot.merge_strategy == "override"


def test_override_handler_receives_each_message() -> None:
    sink = Sink()
    run(sink, [{"a": 1}, {"b": 2}])
    assert sink.received == [{"a": 1}, {"b": 2}]


def test_override_slot_data_becomes_the_last_message_without_earlier_keys() -> None:
    sink = Sink()
    run(sink, [{"a": 1, "keep": "no"}, {"b": 2}])
    assert dict(sink.slot.data) == {"b": 2}


# -- append ----------------------------------------------------------------------------


def test_append_accumulates_every_value_per_key_in_arrival_order() -> None:
    sink = Sink("append")
    run(
        sink,
        [{"data": "x", "source": "A"}, {"data": "y", "source": "B"}, {"data": "z", "source": "C"}],
    )
    assert dict(sink.slot.data) == {"data": ["x", "y", "z"], "source": ["A", "B", "C"]}


def test_append_handler_receives_the_message_just_delivered() -> None:
    sink = Sink("append")
    run(sink, [{"v": 1}, {"v": 2}])
    assert sink.received == [{"v": 1}, {"v": 2}]


def test_append_merges_at_delivery_time() -> None:
    sink = Sink("append")
    run(sink, [{"v": 1}, {"v": 2}, {"v": 3}])
    assert sink.snapshots == [{"v": [1]}, {"v": [1, 2]}, {"v": [1, 2, 3]}]


def test_append_keeps_separate_lists_for_keys_that_appear_later() -> None:
    sink = Sink("append")
    run(sink, [{"a": 1}, {"a": 2, "b": "x"}])
    assert dict(sink.slot.data) == {"a": [1, 2], "b": ["x"]}


def test_append_list_values_are_appended_whole() -> None:
    sink = Sink("append")
    run(sink, [{"v": [1, 2]}, {"v": [3]}])
    assert dict(sink.slot.data) == {"v": [[1, 2], [3]]}


def test_assigning_an_empty_dict_to_private_data_resets_an_append_slot() -> None:
    sink = Sink("append")
    run(sink, [{"v": 1}, {"v": 2}])
    sink.slot._data = {}
    assert dict(sink.slot.data) == {}
    run(sink, [{"v": 3}])
    assert dict(sink.slot.data) == {"v": [3]}


def test_private_data_reads_the_accumulated_lists() -> None:
    sink = Sink("append")
    run(sink, [{"v": 1}, {"v": 2}])
    assert sink.slot._data == {"v": [1, 2]}


def test_slot_reset_forgets_the_data() -> None:
    sink = Sink("append")
    run(sink, [{"v": 1}])
    sink.slot.reset()
    assert dict(sink.slot.data) == {}


def test_slot_data_is_a_read_only_view() -> None:
    sink = Sink("append")
    run(sink, [{"v": 1}])
    view = sink.slot.data
    with pytest.raises(TypeError):
        view["v"] = "changed"  # type: ignore[index]
    run(sink, [{"v": 2}])
    assert view["v"] == [1, 2]


def test_a_slot_without_handler_still_merges() -> None:
    sink = Sink("append", handler=False)
    job = run(sink, [{"v": 1}, {"v": 2}])
    assert job.status == "completed"
    assert dict(sink.slot.data) == {"v": [1, 2]}


# -- callable merge --------------------------------------------------------------------


def summing(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {"total": old.get("total", 0) + new["v"], "last": new["v"]}


def test_callable_merge_result_is_stored_and_passed_to_the_handler() -> None:
    sink = Sink(summing)
    run(sink, [{"v": 1}, {"v": 2}, {"v": 4}])
    assert sink.received == [
        {"total": 1, "last": 1},
        {"total": 3, "last": 2},
        {"total": 7, "last": 4},
    ]
    assert dict(sink.slot.data) == {"total": 7, "last": 4}


def test_callable_merge_receives_the_old_data_and_the_new_message() -> None:
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        calls.append((dict(old), dict(new)))
        return {**old, **new}

    run(Sink(merge), [{"a": 1}, {"b": 2}])
    assert calls == [({}, {"a": 1}), ({"a": 1}, {"b": 2})]


def test_callable_merge_cannot_change_slot_data_by_mutating_its_argument() -> None:
    def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        old["sneaky"] = True
        return dict(new)

    sink = Sink(merge)
    run(sink, [{"v": 1}])
    assert dict(sink.slot.data) == {"v": 1}


def test_callable_merge_returning_a_non_dict_fails_the_delivery() -> None:
    sink = Sink(lambda old, new: [old, new])
    job = run(sink, [{"v": 1}])
    assert job.status == "failed"
    assert sink.received == []
    assert [(e.routine_id, e.error_type) for e in job.errors] == [("sink", "ExecutionError")]
    assert "must return a dict" in job.errors[0].message
    assert dict(sink.slot.data) == {}


def test_callable_merge_failure_goes_through_the_error_policy() -> None:
    def merge(old: dict[str, Any], new: dict[str, Any]) -> Mapping[str, Any]:
        if new["v"] == 2:
            raise KeyError("bad message")
        return dict(new)

    sink = Sink(merge)
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = run(sink, [{"v": 1}, {"v": 2}, {"v": 3}])
    assert job.status == "completed"
    assert sink.received == [{"v": 1}, {"v": 3}]
    assert [(e.error_type, e.action) for e in job.errors] == [("KeyError", "continue")]


# -- refused strategies ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["replace", "APPEND", "", 5, None])
def test_unknown_merge_strategy_raises_when_the_slot_is_defined(strategy: object) -> None:
    routine = Sink()
    with pytest.raises(DefinitionError, match="'override', 'append' or a callable"):
        routine.define_slot("other", handler=None, merge_strategy=strategy)  # type: ignore[arg-type]
    assert "other" not in routine.slots


def test_merge_callable_type_is_accepted() -> None:
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] = summing
    assert Sink(merge).slot.merge_strategy is summing


def test_slot_deliver_keeps_a_copy_of_the_callers_message() -> None:
    sink = Sink()
    slot = sink.get_slot("input")
    message = {"x": 1}
    slot.deliver(message)
    message["x"] = 2
    assert dict(slot.data) == {"x": 1}


class Scribbler(Routine):
    """Changes the dict its ``data`` handler receives."""

    def __init__(self) -> None:
        super().__init__()
        self.slot = self.define_slot("input", handler=self.scribble)

    def scribble(self, data: dict[str, Any]) -> None:
        data["x"] = "changed"


def test_a_handler_changing_its_message_changes_no_other_slot() -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    scribbler, sink = Scribbler(), Sink()
    flow.add_routine(scribbler, "scribbler")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "scribbler", "input")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source", entry_params={"messages": [{"x": 1}]})
    assert dict(scribbler.slot.data) == {"x": 1}
    assert dict(sink.slot.data) == {"x": 1}
    assert sink.received == [{"x": 1}]
    emitted = [record.data for record in job.execution_history if record.event_name == "out"]
    assert emitted == [{"x": 1}]


class InPlace(Routine):
    """Changes its override slot's ``_data`` in place, as a routine may."""

    def __init__(self) -> None:
        super().__init__()
        self.slot = self.define_slot("input", handler=self.take)

    def take(self, **message: Any) -> None:
        self.slot._data["x"] = "changed"


def test_changing_slot_data_in_place_changes_no_message() -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    in_place, sink = InPlace(), Sink()
    flow.add_routine(in_place, "in_place")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "in_place", "input")
    flow.connect("source", "out", "sink", "input")
    job = flow.execute("source", entry_params={"messages": [{"x": 1}]})
    assert dict(in_place.slot.data) == {"x": "changed"}
    assert sink.received == [{"x": 1}]
    assert dict(sink.slot.data) == {"x": 1}
    emitted = [record.data for record in job.execution_history if record.event_name == "out"]
    assert emitted == [{"x": 1}]
