"""DataFlattener: flatten and unflatten, separators, depth, lists, collisions, config, documents."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.builtin_routines import DataFlattener

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


class Collector(Routine):
    """Keeps each payload, and its flat (or rebuilt) dict in ``received``."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []
        self.payloads: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **payload: Any) -> None:
        self.payloads.append(payload)
        key = "flattened_data" if "flattened_data" in payload else "unflattened_data"
        self.received.append(payload[key])


def in_order(flow: Flow) -> None:
    """One delivery at a time per routine, so that messages arrive in the order sent."""
    for routine in flow.routines.values():
        routine.set_max_concurrency(1)


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


def flattener_flow(flow: Flow, **config: Any) -> tuple[Flow, Collector]:
    flattener = DataFlattener()
    flattener.set_config(**config)
    sink = Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(flattener, "flattener")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "flattener", "input")
    flow.connect("flattener", "output", "sink", "input")
    in_order(flow)
    return flow, sink


def run(make_flow: MakeFlow, items: list[Any], **config: Any) -> tuple[JobState, list[Any]]:
    flow, sink = flattener_flow(make_flow(), **config)
    job = flow.execute("source", {"items": items})
    return job, sink.received


NESTED = {"user": {"name": "Ada", "langs": ["en", "fr"]}, "items": [{"sku": "A1", "qty": 2}]}
FLAT = {
    "user.name": "Ada",
    "user.langs.0": "en",
    "user.langs.1": "fr",
    "items.0.sku": "A1",
    "items.0.qty": 2,
}


def test_nested_dicts_and_lists_flatten_to_joined_keys(make_flow: MakeFlow) -> None:
    job, out = run(make_flow, [NESTED])
    assert job.status == "completed"
    assert out == [FLAT]
    assert list(out[0]) == list(FLAT)


def test_joined_keys_unflatten_to_nested_dicts_and_lists(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [FLAT], mode="unflatten")
    assert out == [NESTED]


def test_without_preserve_lists_lists_stay_values(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": {"b": [1, {"c": 2}]}}], preserve_lists=False)
    assert out == [{"a.b": [1, {"c": 2}]}]


def test_flatten_lists_is_another_name_for_preserve_lists(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a.0": "x", "a.1": "y"}], mode="unflatten", flatten_lists=False)
    assert out == [{"a": {"0": "x", "1": "y"}}]


def test_a_custom_separator_joins_and_splits_keys(make_flow: MakeFlow) -> None:
    _, flat = run(make_flow, [NESTED], separator="__")
    assert "items__0__sku" in flat[0]
    _, nested = run(make_flow, flat, separator="__", mode="unflatten")
    assert nested == [NESTED]


def test_max_depth_limits_the_levels_flattened(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": {"b": {"c": 1}}, "d": 2}], max_depth=1)
    assert out == [{"a.b": {"c": 1}, "d": 2}]


def test_max_depth_limits_how_often_a_key_is_split(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a.b.c": 1}], mode="unflatten", max_depth=1)
    assert out == [{"a": {"b.c": 1}}]


def test_max_depth_zero_leaves_the_data_as_it_is(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": {"b": 1}}], max_depth=0)
    assert out == [{"a": {"b": 1}}]


def test_empty_containers_are_kept_so_that_they_round_trip(make_flow: MakeFlow) -> None:
    data = {"a": {}, "b": [], "c": {"d": []}}
    _, flat = run(make_flow, [data])
    assert flat == [{"a": {}, "b": [], "c.d": []}]
    _, nested = run(make_flow, flat, mode="unflatten")
    assert nested == [data]


def test_an_empty_dict_gives_an_empty_dict(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{}])
    assert out == [{}]


def test_int_keys_are_written_with_str(make_flow: MakeFlow) -> None:
    _, out = run(make_flow, [{"a": {1: "x", 2: {"b": None}}}])
    assert out == [{"a.1": "x", "a.2.b": None}]


@pytest.mark.parametrize("key", [1.5, None, (1, 2), True])
def test_a_key_of_another_type_fails_the_delivery(make_flow: MakeFlow, key: Any) -> None:
    job, _ = run(make_flow, [{"a": {key: 1}}])
    assert job.status == "failed"
    assert f"cannot flatten the key {key!r} of type {type(key).__name__}" in job.errors[0].message


def test_a_non_str_key_cannot_be_unflattened(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [{1: "x"}], mode="unflatten")
    assert job.status == "failed"
    assert "can only unflatten str keys, not 1 of type int" in job.errors[0].message


def test_keys_that_meet_when_flattened_fail_the_delivery(make_flow: MakeFlow) -> None:
    job, out = run(make_flow, [{"a.b": 1, "a": {"b": 2}}])
    assert job.status == "failed"
    assert out == []
    assert "two values the key 'a.b'" in job.errors[0].message


def test_an_int_key_meeting_its_str_key_fails_the_delivery(make_flow: MakeFlow) -> None:
    job, _ = run(make_flow, [{1: "x", "1": "y"}])
    assert "two values the key '1'" in job.errors[0].message


@pytest.mark.parametrize("data", [{"a": 1, "a.b": 2}, {"a.b": 2, "a": 1}, {"a": {}, "a.b": 1}])
def test_a_key_that_is_both_a_value_and_a_prefix_fails_unflattening(
    make_flow: MakeFlow, data: dict[str, Any]
) -> None:
    job, _ = run(make_flow, [data], mode="unflatten")
    assert job.status == "failed"
    assert "is both a value and a container" in job.errors[0].message


def test_a_collision_follows_the_routine_error_policy(make_flow: MakeFlow) -> None:
    flow, sink = flattener_flow(make_flow())
    flow.routines["flattener"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"items": [{"a.b": 1, "a": {"b": 2}}, {"x": {"y": 1}}]})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["flattener"]
    assert sink.received == [{"x.y": 1}]


def test_a_dict_that_contains_itself_fails_the_delivery(make_flow: MakeFlow) -> None:
    looped: dict[str, Any] = {"a": 1}
    looped["self"] = looped
    flow, _ = flattener_flow(make_flow())
    job = flow.execute("source", {"items": [{"root": looped}]})
    assert job.status == "failed"
    assert "cycle: 'root.self' contains itself" in job.errors[0].message


def test_a_shared_sub_dict_is_not_a_cycle(make_flow: MakeFlow) -> None:
    shared = {"v": 1}
    _, out = run(make_flow, [{"a": shared, "b": shared}])
    assert out == [{"a.v": 1, "b.v": 1}]


def test_only_dicts_keyed_zero_to_n_become_lists(make_flow: MakeFlow) -> None:
    data = {"a.0": 1, "a.1": 2, "b.1": 3, "c.0": 4, "c.x": 5, "d.00": 6, "0": 7}
    _, out = run(make_flow, [data], mode="unflatten")
    assert out == [{"a": [1, 2], "b": {"1": 3}, "c": {"0": 4, "x": 5}, "d": {"00": 6}, "0": 7}]


def test_lists_nested_in_lists_are_rebuilt(make_flow: MakeFlow) -> None:
    data = {"m": [[1, 2], [3, [4]]]}
    _, flat = run(make_flow, [data])
    _, nested = run(make_flow, flat, mode="unflatten")
    assert nested == [data]


def test_the_input_is_not_modified(make_flow: MakeFlow) -> None:
    data = {"a": {"b": [1]}}
    run(make_flow, [data])
    assert data == {"a": {"b": [1]}}


def test_unicode_keys_flatten_and_unflatten(make_flow: MakeFlow) -> None:
    data = {"ключ": {"値": "ü"}}
    _, flat = run(make_flow, [data], separator="→")
    assert flat == [{"ключ→値": "ü"}]
    _, nested = run(make_flow, flat, separator="→", mode="unflatten")
    assert nested == [data]


def test_data_nested_five_thousand_levels_deep_flattens(make_flow: MakeFlow) -> None:
    data: dict[str, Any] = {"v": 1}
    for _ in range(5000):
        data = {"k": data}
    _, out = run(make_flow, [data], max_depth=None)
    assert out == [{".".join(["k"] * 5000 + ["v"]): 1}]


def test_a_hundred_thousand_keys_unflatten(make_flow: MakeFlow) -> None:
    flat = {f"row.{i}": i for i in range(100_000)}
    _, out = run(make_flow, [flat], mode="unflatten")
    assert out == [{"row": list(range(100_000))}]


# Keys without the separator or digits (a dict keyed "0".."n-1" comes back a list).
_KEYS = st.text(alphabet="abcxyzé_ -", max_size=4)
_NESTED = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEYS, _NESTED, max_size=5))
def test_unflatten_rebuilds_what_flatten_made(data: dict[str, Any]) -> None:
    flow = Flow()
    flattener, unflattener = DataFlattener(), DataFlattener()
    unflattener.set_config(mode="unflatten")
    sink = Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(flattener, "flatten")
    flow.add_routine(unflattener, "unflatten")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "flatten", "input")
    flow.connect("flatten", "output", "unflatten", "input", {"flattened_data": "data"})
    flow.connect("unflatten", "output", "sink", "input")
    flow.execute("source", {"items": [data]})
    assert sink.received == [data]


@pytest.mark.parametrize(
    ("data", "payload"),
    [
        (None, {"flattened_data": {}, "original_type": "dict", "depth": 0}),
        ([1, [2]], {"flattened_data": {"0": 1, "1.0": 2}, "original_type": "list", "depth": 2}),
        ("a.b", {"flattened_data": {"value": "a.b"}, "original_type": "str", "depth": 0}),
        (42, {"flattened_data": {"value": 42}, "original_type": "int", "depth": 0}),
        ((1, 2), {"flattened_data": {"value": (1, 2)}, "original_type": "tuple", "depth": 0}),
    ],
)
def test_data_that_is_not_a_dict_flattens_as_published(
    make_flow: MakeFlow, data: Any, payload: dict[str, Any]
) -> None:
    flow, sink = flattener_flow(make_flow())
    flow.execute("source", {"items": [data]})
    assert sink.payloads == [payload]


@pytest.mark.parametrize("data", [[1, 2], "a.b"])
def test_unflattening_data_that_is_not_a_dict_fails_the_delivery(
    make_flow: MakeFlow, data: Any
) -> None:
    job, _ = run(make_flow, [data], mode="unflatten")
    assert job.status == "failed"
    assert f"unflattens a dict, not {type(data).__name__}" in job.errors[0].message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "expand"}, "mode must be 'flatten' or 'unflatten', not 'expand'"),
        ({"separator": ""}, "separator must be a non-empty string"),
        ({"separator": 1}, "separator must be a non-empty string"),
        ({"separator": "x" * 101}, "at most 100 characters"),
        ({"max_depth": -1}, "max_depth must be a whole number of zero or more"),
        ({"max_depth": 1.5}, "max_depth must be"),
        ({"max_depth": True}, "max_depth must be"),
        ({"preserve_lists": "yes"}, "preserve_lists must be True or False"),
        ({"flatten_lists": "yes"}, "preserve_lists must be True or False"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        DataFlattener().set_config(**config)


def test_a_flow_document_round_trips_and_flattens_the_same(make_flow: MakeFlow) -> None:
    config = {"mode": "unflatten", "separator": "/", "max_depth": 2, "preserve_lists": False}
    flow, sink = flattener_flow(make_flow(), **config)
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        assert rebuilt.routines["flattener"].config() == config
        items = [{"a/0/b/c": 1, "x": 2}]
        flow.execute("source", {"items": items})
        rebuilt.execute("source", {"items": items})
        rebuilt_sink = rebuilt.routines["sink"]
        assert isinstance(rebuilt_sink, Collector)
        assert rebuilt_sink.received == sink.received == [{"a": {"0": {"b/c": 1}}, "x": 2}]
    finally:
        rebuilt.shutdown()


class PublishedSink(Routine):
    """A handler written for the published payload, with its three keys as parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, str, int]] = []
        self.define_slot("input", handler=self.take)

    def take(self, flattened_data: Any, original_type: str, depth: int) -> None:
        self.seen.append((flattened_data, original_type, depth))


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.utils import DataFlattener as PublishedPath

    flattener = PublishedPath()
    flattener.set_config(separator=".", max_depth=100, preserve_lists=True)
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(flattener, "flattener")
    flow.add_routine(PublishedSink(), "sink")
    flow.connect("source", "out", "flattener", "input")
    flow.connect("flattener", "output", "sink", "input")
    job = flow.execute("source", {"items": [{"a": {"b": 1, "c": [2, {"d": 3}]}}, {"x": 1}]})
    assert job.status == "completed"
    assert flow.routines["sink"].seen == [  # type: ignore[attr-defined]
        ({"a.b": 1, "a.c.0": 2, "a.c.1.d": 3}, "dict", 4),
        ({"x": 1}, "dict", 1),
    ]


def test_the_published_keys_are_the_defaults() -> None:
    assert DataFlattener().config() == {
        "separator": ".",
        "preserve_lists": True,
        "max_depth": 100,
        "mode": "flatten",
    }


def test_a_message_with_one_key_flattens_its_value_as_published(make_flow: MakeFlow) -> None:
    flow = make_flow()
    flattener = DataFlattener()
    sink = Collector()
    entry = Routine()
    entry.define_slot("trigger", handler=lambda **kw: entry.emit("out", **kw))
    entry.define_event("out")
    for rid, routine in (("entry", entry), ("flattener", flattener), ("sink", sink)):
        flow.add_routine(routine, rid)
    flow.connect("entry", "out", "flattener", "input")
    flow.connect("flattener", "output", "sink", "input")
    flow.execute("entry", {"record": {"a": {"b": 1}}})
    assert sink.payloads == [{"flattened_data": {"a.b": 1}, "original_type": "dict", "depth": 2}]


def test_max_depth_stops_at_the_default_hundred_levels(make_flow: MakeFlow) -> None:
    data: dict[str, Any] = {"v": 1}
    for _ in range(101):
        data = {"k": data}
    _, out = run(make_flow, [data])
    [flat] = out
    [(key, value)] = flat.items()
    assert key == ".".join(["k"] * 101)
    assert value == {"v": 1}


def test_unflatten_mode_names_its_result_unflattened_data(make_flow: MakeFlow) -> None:
    flow, sink = flattener_flow(make_flow(), mode="unflatten")
    flow.execute("source", {"items": [{"a.b": 1, "c": 2}]})
    assert sink.payloads == [
        {"unflattened_data": {"a": {"b": 1}, "c": 2}, "original_type": "dict", "depth": 2}
    ]
