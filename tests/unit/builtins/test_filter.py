"""Filter: each message goes to ``passed`` or ``rejected`` by a condition."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.builtin_routines import Filter

MakeFlow = Callable[..., Flow]


def is_even(data: Any) -> bool:
    """A module-level condition, so a flow document can name it."""
    return bool(data % 2 == 0)


class Source(Routine):
    """Emits each value of its ``values`` entry parameter as ``data``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["data"])

    def send(self, values: list[Any]) -> None:
        for value in values:
            self.emit("out", data=value)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **message: Any) -> None:
        self.received.append(message)

    def data(self) -> list[Any]:
        return [m["data"] for m in self.received]


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


def filter_flow(flow: Flow, **config: Any) -> tuple[Flow, Filter, Collector, Collector]:
    filter_ = Filter()
    filter_.set_config(**config)
    passed, rejected = Collector(), Collector()
    flow.add_routine(Source(), "source")
    flow.add_routine(filter_, "filter")
    flow.add_routine(passed, "passed")
    flow.add_routine(rejected, "rejected")
    flow.connect("source", "out", "filter", "input")
    flow.connect("filter", "passed", "passed", "input")
    flow.connect("filter", "rejected", "rejected", "input")
    return flow, filter_, passed, rejected


def test_an_expression_sends_each_message_to_passed_or_rejected(make_flow: MakeFlow) -> None:
    flow, _, passed, rejected = filter_flow(make_flow(), condition="data > 10")
    job = flow.execute("source", {"values": [5, 15, 10, 20]})
    assert job.status == "completed"
    assert passed.received == [{"data": 15}, {"data": 20}]
    assert rejected.received == [{"data": 5}, {"data": 10}]


def test_an_expression_can_read_the_filters_config(make_flow: MakeFlow) -> None:
    flow, filter_, passed, _ = filter_flow(
        make_flow(), condition="data >= config['minimum']", minimum=3
    )
    flow.execute("source", {"values": [2, 3]})
    filter_.set_config(minimum=1)
    flow.execute("source", {"values": [2]})
    assert passed.data() == [3, 2]


def test_a_callable_condition_receives_the_data(make_flow: MakeFlow) -> None:
    flow, _, passed, rejected = filter_flow(make_flow(), condition=is_even)
    flow.execute("source", {"values": [1, 2, 3, 4]})
    assert passed.data() == [2, 4]
    assert rejected.data() == [1, 3]


def test_the_result_is_converted_with_bool(make_flow: MakeFlow) -> None:
    flow, _, passed, rejected = filter_flow(make_flow(), condition="data")
    flow.execute("source", {"values": [0, 1, "", "x", [], [0], None]})
    assert passed.data() == [1, "x", [0]]
    assert rejected.data() == [0, "", [], None]


def test_unicode_data_is_filtered_like_any_other(make_flow: MakeFlow) -> None:
    flow, _, passed, _ = filter_flow(make_flow(), condition="data.startswith('ż')")
    flow.execute("source", {"values": ["żółw", "zebra", "żaba"]})
    assert passed.data() == ["żółw", "żaba"]


def test_a_message_without_a_data_key_is_filtered_whole(make_flow: MakeFlow) -> None:
    flow = make_flow()
    filter_ = Filter()
    filter_.set_config(condition="data['n'] == 1")
    flow.add_routine(filter_, "filter")
    passed = Collector()
    flow.add_routine(passed, "passed")
    flow.connect("filter", "passed", "passed", "input")
    entry = Relay()
    flow.add_routine(entry, "entry")
    flow.connect("entry", "out", "filter", "input")
    flow.execute("entry", {"n": 1, "label": "one"})
    assert passed.received == [{"data": {"n": 1, "label": "one"}}]


class Relay(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.relay)
        self.define_event("out")

    def relay(self, **message: Any) -> None:
        self.emit("out", **message)


def test_a_failing_condition_fails_the_delivery_by_default(make_flow: MakeFlow) -> None:
    flow, _, passed, rejected = filter_flow(make_flow(), condition="data['v'] > 1")
    job = flow.execute("source", {"values": [{"w": 1}]})
    assert job.status == "failed"
    assert job.errors[0].error_type == "ExecutionError"
    assert job.errors[0].message == (
        "The condition of Filter 'filter' failed: Expression \"data['v'] > 1\" failed "
        "during evaluation: KeyError: 'v'"
    )
    assert passed.received == rejected.received == []


def test_a_failing_condition_under_continue_lets_the_next_message_through(
    make_flow: MakeFlow,
) -> None:
    flow, filter_, passed, _ = filter_flow(make_flow(), condition="data['v'] > 1")
    filter_.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"values": [{"w": 1}, {"v": 2}]})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["filter"]
    assert passed.data() == [{"v": 2}]


def test_on_error_reject_sends_a_failing_message_to_rejected_with_the_error(
    make_flow: MakeFlow,
) -> None:
    flow, filter_, passed, rejected = filter_flow(
        make_flow(), condition="data['v'] > 1", on_error="reject"
    )
    job = flow.execute("source", {"values": [{"w": 1}, {"v": 2}, {"v": 0}]})
    assert job.status == "completed"
    assert job.errors == []
    assert passed.data() == [{"v": 2}]
    assert rejected.received == [
        {
            "data": {"w": 1},
            "error": "Expression \"data['v'] > 1\" failed during evaluation: KeyError: 'v'",
        },
        {"data": {"v": 0}},
    ]
    assert filter_.get_stat("errors") == 1


def test_on_error_reject_catches_a_callable_that_raises(make_flow: MakeFlow) -> None:
    flow, _, _, rejected = filter_flow(make_flow(), condition=is_even, on_error="reject")
    flow.execute("source", {"values": [None]})
    assert rejected.received == [
        {
            "data": None,
            "error": "TypeError: unsupported operand type(s) for %: 'NoneType' and 'int'",
        }
    ]


def test_stats_count_passed_and_rejected_across_jobs(make_flow: MakeFlow) -> None:
    flow, filter_, _, _ = filter_flow(make_flow(), condition="data > 0", on_error="reject")
    flow.execute("source", {"values": [1, 2, -1]})
    flow.execute("source", {"values": [3, "x"]})
    assert filter_.get_stat("passed") == 3
    assert filter_.get_stat("rejected") == 2
    assert filter_.get_stat("errors") == 1


def test_a_flow_without_a_condition_is_refused_before_the_job_starts() -> None:
    flow, _, _, _ = filter_flow(Flow())
    with pytest.raises(DefinitionError, match=r"'filter'.*set_config\(condition=\.\.\.\)"):
        flow.execute("source", {"values": [1]})


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("data.__class__", "underscore"),
        ("__import__('os')", "__import__"),
        ("9**9**9", "exceeds"),
        ("data >", "valid expression"),
        ("(x for x in data)", "generator expression"),
    ],
)
def test_a_rejected_expression_is_refused_at_set_config_with_the_reason(
    expression: str, reason: str
) -> None:
    with pytest.raises(DefinitionError, match=r"^Filter condition is rejected: ") as caught:
        Filter().set_config(condition=expression)
    assert reason.lower() in str(caught.value).lower()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"condition": 42}, "Filter condition must be an expression string or a callable"),
        ({"condition": ["data"]}, "Filter condition must be an expression string or a callable"),
        ({"on_error": "ignore"}, "Filter on_error must be 'raise' or 'reject', not 'ignore'"),
        ({"on_error": None}, "Filter on_error must be 'raise' or 'reject', not None"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key_and_the_expectation(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        Filter().set_config(**config)


def test_a_refused_condition_leaves_the_previous_one_in_force(make_flow: MakeFlow) -> None:
    flow, filter_, passed, _ = filter_flow(make_flow(), condition="data > 1")
    with pytest.raises(DefinitionError):
        filter_.set_config(condition="data.__dict__")
    flow.execute("source", {"values": [1, 2]})
    assert passed.data() == [2]
    assert filter_.get_config("condition") == "data > 1"


def test_a_flow_with_an_expression_round_trips_and_filters_the_same(
    make_flow: MakeFlow,
) -> None:
    flow, _, passed, _ = filter_flow(make_flow(), condition="data % 3 == 0", on_error="reject")
    assert_round_trip(flow, passed, [1, 3, 6, "x"])


def test_a_flow_with_a_module_level_function_round_trips_and_filters_the_same(
    make_flow: MakeFlow,
) -> None:
    flow, _, passed, _ = filter_flow(make_flow(), condition=is_even)
    assert_round_trip(flow, passed, [1, 2, 4])


def assert_round_trip(flow: Flow, passed: Collector, values: list[Any]) -> None:
    document = flow.serialize()
    rebuilt = Flow.deserialize(document)
    try:
        assert rebuilt.serialize() == document
        flow.execute("source", {"values": values})
        rebuilt.execute("source", {"values": values})
        rebuilt_passed = rebuilt.routines["passed"]
        assert isinstance(rebuilt_passed, Collector)
        assert rebuilt_passed.received == passed.received
        assert passed.received
    finally:
        rebuilt.shutdown()
