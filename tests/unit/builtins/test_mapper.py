"""Mapper: dotted-path field mappings, defaults, strict mode, keep_unmapped, config, documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import Mapper

MakeFlow = Callable[..., Flow]


class Source(Routine):
    """Emits each item of its ``items`` entry parameter as ``data``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["data"])

    def send(self, items: list[Any]) -> None:
        for item in items:
            self.emit("out", data=item)


class Relay(Routine):
    """Emits its entry parameters as they are, with no ``data`` key."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, **message: Any) -> None:
        self.emit("out", **message)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, data: Any) -> None:
        self.received.append(data)


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


def mapper_flow(flow: Flow, **config: Any) -> tuple[Flow, Collector]:
    mapper = Mapper()
    mapper.set_config(**config)
    sink = Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(mapper, "mapper")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "mapper", "input")
    flow.connect("mapper", "output", "sink", "input")
    return flow, sink


def run(make_flow: MakeFlow, items: list[Any], **config: Any) -> tuple[JobState, list[Any]]:
    flow, sink = mapper_flow(make_flow(), **config)
    job = flow.execute("source", {"items": items})
    return job, sink.received


ORDER = {"customer": {"full_name": "Ada", "tier": "gold"}, "order": {"amount": 12.5}}


def test_mappings_rename_and_nest_fields_by_dotted_paths(make_flow: MakeFlow) -> None:
    job, out = run(
        make_flow, [ORDER], mappings={"user.name": "customer.full_name", "total": "order.amount"}
    )
    assert job.status == "completed"
    assert out == [{"user": {"name": "Ada"}, "total": 12.5}]


def test_targets_are_written_in_the_order_of_the_mappings(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [ORDER], mappings={"b": "order.amount", "a": "customer.tier"})
    assert list(out[0]) == ["b", "a"]


def test_a_source_path_reads_a_list_item_by_index(make_flow: MakeFlow) -> None:
    data = {"items": [{"sku": "A1"}, {"sku": "B2"}]}
    _, out = run(make_flow, [data], mappings={"first": "items.0.sku", "second": "items.1.sku"})
    assert out == [{"first": "A1", "second": "B2"}]


def test_an_index_out_of_range_finds_nothing(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"items": ["a"]}], mappings={"x": "items.1", "y": "items.0"})
    assert out == [{"y": "a"}]


def test_a_missing_source_leaves_the_target_out_when_not_strict(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": 1}], mappings={"x": "a", "y": "b.c"})
    assert out == [{"x": 1}]


def test_a_present_none_is_mapped_not_replaced_by_the_default(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": None}], mappings={"x": "a"}, defaults={"x": 0})
    assert out == [{"x": None}]


def test_a_missing_source_takes_the_default_of_its_target(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{}, {"n": 3}], mappings={"count": "n"}, defaults={"count": 0})
    assert out == [{"count": 0}, {"count": 3}]


def test_each_output_gets_its_own_copy_of_a_mutable_default(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{}, {}], mappings={"tags": "t"}, defaults={"tags": []})
    out[0]["tags"].append("changed")
    assert out[1]["tags"] == []


def test_strict_mode_fails_the_delivery_naming_the_paths(make_flow: MakeFlow) -> None:
    job, out = run(make_flow, [{"a": 1}], mappings={"total": "order.amount"}, strict=True)
    assert job.status == "failed"
    assert out == []
    assert "'order.amount'" in job.errors[0].message
    assert "'total'" in job.errors[0].message


def test_strict_mode_failures_follow_the_routine_error_policy(make_flow: MakeFlow) -> None:
    flow, sink = mapper_flow(make_flow(), mappings={"x": "a"}, strict=True)
    flow.routines["mapper"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"items": [{"b": 1}, {"a": 2}]})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["mapper"]
    assert sink.received == [{"x": 2}]


def test_strict_mode_accepts_a_missing_source_that_has_a_default(make_flow: MakeFlow) -> None:
    job, out = run(make_flow, [{}], mappings={"x": "a"}, defaults={"x": "d"}, strict=True)
    assert job.status == "completed"
    assert out == [{"x": "d"}]


def test_keep_unmapped_copies_the_top_level_keys_no_source_reads(make_flow: MakeFlow) -> None:
    data = {"id": 7, "customer": {"full_name": "Ada", "tier": "gold"}, "note": "hi"}
    _, out = run(make_flow, [data], mappings={"name": "customer.full_name"}, keep_unmapped=True)
    assert out == [{"id": 7, "note": "hi", "name": "Ada"}]


def test_keep_unmapped_lets_a_mapped_target_replace_a_kept_key(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"id": 7, "code": "X"}], mappings={"id": "code"}, keep_unmapped=True)
    assert out == [{"id": "X"}]


def test_a_target_inside_a_kept_dict_does_not_modify_the_input(make_flow: MakeFlow) -> None:
    data = {"meta": {"a": 1}, "b": 2}
    _, out = run(make_flow, [data], mappings={"meta.b": "b"}, keep_unmapped=True)
    assert out == [{"meta": {"a": 1, "b": 2}}]
    assert data == {"meta": {"a": 1}, "b": 2}


def test_a_target_through_a_kept_scalar_fails_the_delivery(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [{"meta": 5, "b": 2}], mappings={"meta.b": "b"}, keep_unmapped=True)
    assert job.status == "failed"
    assert "cannot write the target 'meta.b'" in job.errors[0].message


def test_without_keep_unmapped_only_the_targets_are_output(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": 1, "b": 2}], mappings={"x": "a"})
    assert out == [{"x": 1}]


def test_empty_mappings_give_an_empty_dict(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": 1}])
    assert out == [{}]


def test_empty_mappings_with_keep_unmapped_copy_the_input(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": 1}, {}], keep_unmapped=True)
    assert out == [{"a": 1}, {}]


def test_unicode_keys_are_mapped(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"客户": {"名字": "李雷"}}], mappings={"ユーザー.名前": "客户.名字"})
    assert out == [{"ユーザー": {"名前": "李雷"}}]


def test_ten_thousand_mappings_map_every_field(make_flow: MakeFlow) -> None:
    data = {f"k{i}": i for i in range(10_000)}
    mappings = {f"out.v{i}": f"k{i}" for i in range(10_000)}
    _, out = run(make_flow, [data], mappings=mappings)
    assert out[0]["out"] == {f"v{i}": i for i in range(10_000)}


def test_a_message_without_a_data_key_is_mapped_whole(make_flow: MakeFlow) -> None:
    flow = make_flow()
    mapper = Mapper()
    mapper.set_config(mappings={"who": "name"})
    sink = Collector()
    flow.add_routine(Relay(), "relay")
    flow.add_routine(mapper, "mapper")
    flow.add_routine(sink, "sink")
    flow.connect("relay", "out", "mapper", "input")
    flow.connect("mapper", "output", "sink", "input")
    flow.execute("relay", {"name": "Ada"})
    assert sink.received == [{"who": "Ada"}]


@pytest.mark.parametrize("data", [None, [1, 2], "text", 42])
def test_data_that_is_not_a_dict_fails_the_delivery(make_flow: MakeFlow, data: Any) -> None:
    job, out = run(make_flow, [data], mappings={"x": "a"})
    assert job.status == "failed"
    assert out == []
    assert f"expects data to be a dict, not {type(data).__name__}" in job.errors[0].message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mappings": [("a", "b")]}, "mappings must be a dict"),
        ({"mappings": {"": "a"}}, "bad target path ''"),
        ({"mappings": {"a..b": "a"}}, "empty segment"),
        ({"mappings": {"a": "b."}}, "bad source path 'b.' of 'a'"),
        ({"mappings": {"a": "x.__class__"}}, "underscore"),
        ({"mappings": {"_a": "x"}}, "underscore"),
        ({"mappings": {"a": 3}}, "must be a string, not int"),
        ({"mappings": {"a": "x" * 1001}}, "longer than 1000"),
        ({"mappings": {"user": "a", "user.name": "b"}}, "both 'user' and 'user.name'"),
        ({"mappings": {"a": "x"}, "defaults": {"b": 1}}, "'b', which is not a target"),
        ({"defaults": [1]}, "defaults must be a dict"),
        ({"strict": "yes"}, "strict must be True or False"),
        ({"keep_unmapped": 1}, "keep_unmapped must be True or False"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Mapper().set_config(**config)


def test_a_refused_config_leaves_the_previous_mappings_in_force(make_flow: MakeFlow) -> None:
    flow, sink = mapper_flow(make_flow(), mappings={"x": "a"})
    with pytest.raises(DefinitionError):
        flow.routines["mapper"].set_config(mappings={"x": "__a"})
    flow.execute("source", {"items": [{"a": 1}]})
    assert sink.received == [{"x": 1}]


def test_a_flow_document_round_trips_and_maps_the_same(make_flow: MakeFlow) -> None:
    config = {
        "mappings": {"user.name": "customer.full_name", "total": "order.amount", "n": "x"},
        "defaults": {"n": 0},
        "strict": True,
        "keep_unmapped": True,
    }
    flow, sink = mapper_flow(make_flow(), **config)
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        assert rebuilt.routines["mapper"].config() == config
        flow.execute("source", {"items": [ORDER]})
        rebuilt.execute("source", {"items": [ORDER]})
        rebuilt_sink = rebuilt.routines["sink"]
        assert isinstance(rebuilt_sink, Collector)
        assert (
            rebuilt_sink.received
            == sink.received
            == [{"user": {"name": "Ada"}, "total": 12.5, "n": 0}]
        )
    finally:
        rebuilt.shutdown()
