"""Splitter: one message holding a list becomes one message per item."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.builtin_routines import Splitter

MakeFlow = Callable[..., Flow]


class Source(Routine):
    """Emits each message of its ``messages`` entry parameter on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.emit("out", **message)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **message: Any) -> None:
        self.received.append(message)


@pytest.fixture(params=["sequential", "concurrent"])
def make_flow(request: pytest.FixtureRequest) -> Iterator[MakeFlow]:
    flows: list[Flow] = []

    def make(**options: Any) -> Flow:
        flow = Flow(execution_strategy=request.param, **options)
        flows.append(flow)
        return flow

    yield make
    for flow in flows:
        flow.shutdown()


def split_flow(flow: Flow, **config: Any) -> tuple[Flow, Splitter, Collector, Collector]:
    splitter = Splitter()
    splitter.set_config(**config)
    items, empties = Collector(), Collector()
    items.set_max_concurrency(1)  # Receives the items in order in the concurrent strategy too.
    flow.add_routine(Source(), "source")
    flow.add_routine(splitter, "split")
    flow.add_routine(items, "items")
    flow.add_routine(empties, "empties")
    flow.connect("source", "out", "split", "input")
    flow.connect("split", "item", "items", "input")
    flow.connect("split", "empty", "empties", "input")
    return flow, splitter, items, empties


def test_each_item_becomes_a_message_with_its_index_and_the_count(make_flow: MakeFlow) -> None:
    flow, _, items, _ = split_flow(make_flow())
    job = flow.execute("source", {"messages": [{"data": ["a", "b", "c"]}]})
    assert job.status == "completed"
    assert items.received == [
        {"item": "a", "index": 0, "count": 3},
        {"item": "b", "index": 1, "count": 3},
        {"item": "c", "index": 2, "count": 3},
    ]


def test_a_one_item_list_gives_one_message(make_flow: MakeFlow) -> None:
    flow, _, items, empties = split_flow(make_flow())
    flow.execute("source", {"messages": [{"data": [{"id": 7}]}]})
    assert items.received == [{"item": {"id": 7}, "index": 0, "count": 1}]
    assert empties.received == []


def test_an_empty_list_emits_no_item_and_one_empty_event(make_flow: MakeFlow) -> None:
    flow, _, items, empties = split_flow(make_flow())
    job = flow.execute("source", {"messages": [{"data": []}]})
    assert job.status == "completed"
    assert items.received == []
    assert empties.received == [{"count": 0}]


@pytest.mark.parametrize("sequence", [(1, 2), range(1, 3)], ids=["tuple", "range"])
def test_tuples_and_other_sequences_count_as_lists(make_flow: MakeFlow, sequence: Any) -> None:
    flow, _, items, _ = split_flow(make_flow())
    flow.execute("source", {"messages": [{"data": sequence}]})
    assert [m["item"] for m in items.received] == [1, 2]


def test_none_and_unicode_items_pass_through_unchanged(make_flow: MakeFlow) -> None:
    flow, _, items, _ = split_flow(make_flow())
    flow.execute("source", {"messages": [{"data": [None, "żółw 🐢", ""]}]})
    assert [m["item"] for m in items.received] == [None, "żółw 🐢", ""]


def test_a_large_list_is_split_completely_in_order(make_flow: MakeFlow) -> None:
    flow, splitter, items, _ = split_flow(make_flow(record_history=False))
    flow.execute("source", {"messages": [{"data": list(range(20_000))}]})
    assert [m["index"] for m in items.received] == list(range(20_000))
    assert splitter.get_stat("items") == 20_000


@settings(max_examples=50, deadline=None)
@given(st.lists(st.none() | st.booleans() | st.integers() | st.text(), max_size=30))
def test_any_list_is_split_into_its_items_in_order(values: list[Any]) -> None:
    flow, _, items, empties = split_flow(Flow())
    flow.execute("source", {"messages": [{"data": values}]})
    assert [m["item"] for m in items.received] == values
    assert [m["index"] for m in items.received] == list(range(len(values)))
    assert {m["count"] for m in items.received} <= {len(values)}
    assert empties.received == ([] if values else [{"count": 0}])


def test_keep_fields_copies_the_other_keys_of_the_message(make_flow: MakeFlow) -> None:
    flow, _, items, empties = split_flow(make_flow(), keep_fields=True)
    flow.execute("source", {"messages": [{"data": [1], "order": 5}, {"data": [], "order": 6}]})
    assert items.received == [{"order": 5, "item": 1, "index": 0, "count": 1}]
    assert empties.received == [{"order": 6, "count": 0}]


def test_the_splitters_keys_win_over_kept_message_keys_of_the_same_name(
    make_flow: MakeFlow,
) -> None:
    flow, _, items, _ = split_flow(make_flow(), keep_fields=True)
    flow.execute("source", {"messages": [{"data": ["x"], "index": 99, "count": -1}]})
    assert items.received == [{"item": "x", "index": 0, "count": 1}]


def test_without_keep_fields_other_keys_are_dropped(make_flow: MakeFlow) -> None:
    flow, _, items, _ = split_flow(make_flow())
    flow.execute("source", {"messages": [{"data": [1], "order": 5}]})
    assert items.received == [{"item": 1, "index": 0, "count": 1}]


def test_field_reads_the_list_at_a_dotted_path(make_flow: MakeFlow) -> None:
    flow, _, items, _ = split_flow(make_flow(), field="payload.rows", keep_fields=True)
    message = {"payload": {"rows": ["r1", "r2"], "other": 1}, "batch": "b"}
    flow.execute("source", {"messages": [message]})
    assert items.received == [
        {"batch": "b", "item": "r1", "index": 0, "count": 2},
        {"batch": "b", "item": "r2", "index": 1, "count": 2},
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"a": 1}, "got dict {'a': 1}"),
        ("abc", "got str 'abc'"),
        (b"abc", "got bytes b'abc'"),
        (None, "got NoneType None"),
        (42, "got int 42"),
        ({1, 2}, "got set {1, 2}"),
    ],
)
def test_a_non_list_fails_the_delivery_naming_the_routine_and_what_it_got(
    make_flow: MakeFlow, value: Any, shown: str
) -> None:
    flow, _, items, empties = split_flow(make_flow())
    job = flow.execute("source", {"messages": [{"data": value}]})
    assert job.status == "failed"
    assert job.errors[0].error_type == "TypeError"
    assert job.errors[0].message == f"Splitter 'split' expected a list at 'data', {shown}."
    assert items.received == empties.received == []


def test_a_message_without_the_field_fails_naming_the_path_and_the_keys(
    make_flow: MakeFlow,
) -> None:
    flow, _, _, _ = split_flow(make_flow())
    job = flow.execute("source", {"messages": [{"rows": [1]}]})
    assert job.errors[0].error_type == "ValueError"
    assert "Splitter 'split' found no 'data' in the message; its keys: 'rows'." in (
        job.errors[0].message
    )


def test_a_path_through_a_non_mapping_fails_naming_where_it_stopped(
    make_flow: MakeFlow,
) -> None:
    flow, _, _, _ = split_flow(make_flow(), field="payload.rows")
    job = flow.execute("source", {"messages": [{"payload": [1, 2]}]})
    assert job.errors[0].error_type == "TypeError"
    assert "'payload' is list [1, 2], not a mapping" in job.errors[0].message


def test_a_list_longer_than_max_items_is_refused_before_anything_is_emitted(
    make_flow: MakeFlow,
) -> None:
    flow, _, items, _ = split_flow(make_flow(), max_items=3)
    job = flow.execute("source", {"messages": [{"data": [1, 2, 3, 4]}]})
    assert job.status == "failed"
    assert "refuses a list of 4 items at 'data': more than max_items (3)" in job.errors[0].message
    assert items.received == []


def test_a_list_of_exactly_max_items_is_split(make_flow: MakeFlow) -> None:
    flow, _, items, _ = split_flow(make_flow(), max_items=3)
    job = flow.execute("source", {"messages": [{"data": [1, 2, 3]}]})
    assert job.status == "completed"
    assert len(items.received) == 3


def test_a_bad_message_under_continue_does_not_stop_the_next_one(make_flow: MakeFlow) -> None:
    flow, splitter, items, _ = split_flow(make_flow())
    splitter.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"messages": [{"data": "oops"}, {"data": [1]}]})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["split"]
    assert items.received == [{"item": 1, "index": 0, "count": 1}]


def test_stats_count_lists_and_items_across_jobs(make_flow: MakeFlow) -> None:
    flow, splitter, _, _ = split_flow(make_flow())
    flow.execute("source", {"messages": [{"data": [1, 2]}, {"data": []}]})
    flow.execute("source", {"messages": [{"data": [3]}]})
    assert splitter.get_stat("lists") == 3
    assert splitter.get_stat("items") == 3


def test_the_defaults_read_data_drop_other_keys_and_allow_a_million_items() -> None:
    assert Splitter().config() == {"field": "data", "keep_fields": False, "max_items": 1_000_000}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"field": ""}, "Splitter field must be a dotted path"),
        ({"field": "a..b"}, "Splitter field must be a dotted path"),
        ({"field": 3}, "Splitter field must be a dotted path"),
        ({"keep_fields": "yes"}, "Splitter keep_fields must be True or False, not 'yes'"),
        ({"max_items": 0}, "Splitter max_items must be a positive integer, not 0"),
        ({"max_items": True}, "Splitter max_items must be a positive integer, not True"),
        ({"max_items": 2.5}, "Splitter max_items must be a positive integer, not 2.5"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key_and_the_expectation(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        Splitter().set_config(**config)


def test_a_refused_config_leaves_the_previous_one_in_force() -> None:
    splitter = Splitter()
    splitter.set_config(max_items=5)
    with pytest.raises(DefinitionError):
        splitter.set_config(max_items=-1)
    assert splitter.get_config("max_items") == 5


def test_a_serialized_flow_round_trips_and_splits_the_same(make_flow: MakeFlow) -> None:
    flow, _, items, _ = split_flow(make_flow(), field="payload.rows", keep_fields=True)
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        message = {"payload": {"rows": [1, 2]}, "tag": "t"}
        flow.execute("source", {"messages": [message]})
        rebuilt.execute("source", {"messages": [message]})
        rebuilt_items = rebuilt.routines["items"]
        assert isinstance(rebuilt_items, Collector)
        assert rebuilt_items.received == items.received
        assert len(items.received) == 2
    finally:
        rebuilt.shutdown()
