"""ConditionalRouter: conditions, priorities, default route and configuration errors."""

from __future__ import annotations

from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.builtin_routines import ConditionalRouter


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("output", ["data"])

    def send(self, **message: Any) -> None:
        for item in message.get("items", []):
            self.emit("output", data=item)


class Collector(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, data: Any) -> None:
        self.received.append(data)


def routed_flow(
    routes: list[tuple[str, Any]], *, default: str | None = None, priority: str = "first_match"
) -> tuple[Flow, dict[str, Collector]]:
    flow = Flow()
    flow.add_routine(Source(), "source")
    router = ConditionalRouter()
    flow.add_routine(router, "router")
    router.set_config(routes=routes, default_route=default, route_priority=priority)
    names = {name for name, _ in routes} | ({default} if default else set())
    sinks: dict[str, Collector] = {}
    flow.connect("source", "output", "router", "input")
    for name in sorted(names):
        router.define_event(name)
        sinks[name] = Collector()
        flow.add_routine(sinks[name], f"sink_{name}")
        flow.connect("router", name, f"sink_{name}", "input")
    return flow, sinks


def test_a_string_condition_routes_to_the_first_matching_route() -> None:
    flow, sinks = routed_flow(
        [("high", "data.get('value', 0) > 10"), ("low", "data.get('value', 0) <= 10")]
    )
    job = flow.execute("source", {"items": [{"value": 15}, {"value": 5}]})
    assert job.status == "completed"
    assert sinks["high"].received == [{"value": 15}]
    assert sinks["low"].received == [{"value": 5}]


def test_first_match_emits_on_one_route_only() -> None:
    flow, sinks = routed_flow([("big", "data['v'] > 1"), ("bigger", "data['v'] > 2")])
    flow.execute("source", {"items": [{"v": 5}]})
    assert sinks["big"].received == [{"v": 5}]
    assert sinks["bigger"].received == []


def test_all_matches_emits_on_every_matching_route_in_order() -> None:
    flow, sinks = routed_flow(
        [("big", "data['v'] > 1"), ("bigger", "data['v'] > 2"), ("huge", "data['v'] > 100")],
        priority="all_matches",
    )
    job = flow.execute("source", {"items": [{"v": 5}]})
    assert sinks["big"].received == [{"v": 5}]
    assert sinks["bigger"].received == [{"v": 5}]
    assert sinks["huge"].received == []
    assert [r.event_name for r in job.get_execution_history("router")] == ["big", "bigger"]


def test_the_default_route_takes_what_no_condition_matches() -> None:
    flow, sinks = routed_flow([("high", "data['v'] > 10")], default="other")
    flow.execute("source", {"items": [{"v": 1}, {"v": 11}]})
    assert sinks["other"].received == [{"v": 1}]
    assert sinks["high"].received == [{"v": 11}]


def test_without_a_default_an_unmatched_message_is_counted_as_unrouted() -> None:
    flow, sinks = routed_flow([("high", "data['v'] > 10")])
    router = flow.routines["router"]
    job = flow.execute("source", {"items": [{"v": 1}, {"v": 2}]})
    assert job.status == "completed"
    assert sinks["high"].received == []
    assert router.get_stat("unrouted") == 2


def test_a_dict_condition_matches_when_every_field_is_equal() -> None:
    flow, sinks = routed_flow([("urgent", {"kind": "alert", "level": 3})], default="rest")
    flow.execute(
        "source",
        {"items": [{"kind": "alert", "level": 3}, {"kind": "alert", "level": 2}, "text"]},
    )
    assert sinks["urgent"].received == [{"kind": "alert", "level": 3}]
    assert sinks["rest"].received == [{"kind": "alert", "level": 2}, "text"]


def test_a_dict_condition_does_not_match_a_missing_field_even_against_none() -> None:
    flow, sinks = routed_flow([("none", {"x": None})], default="rest")
    flow.execute("source", {"items": [{}, {"x": None}]})
    assert sinks["none"].received == [{"x": None}]
    assert sinks["rest"].received == [{}]


def test_a_callable_condition_receives_the_data() -> None:
    seen: list[Any] = []

    def is_even(data: Any) -> bool:
        seen.append(data)
        return bool(data % 2 == 0)

    flow, sinks = routed_flow([("even", is_even)], default="odd")
    flow.execute("source", {"items": [1, 2, 3]})
    assert seen == [1, 2, 3]
    assert sinks["even"].received == [2]
    assert sinks["odd"].received == [1, 3]


def test_an_expression_can_read_the_router_config() -> None:
    flow, sinks = routed_flow([("over", "data['v'] > config.get('threshold', 0)")], default="ok")
    flow.routines["router"].set_config(threshold=7)
    flow.execute("source", {"items": [{"v": 5}, {"v": 9}]})
    assert sinks["over"].received == [{"v": 9}]
    assert sinks["ok"].received == [{"v": 5}]


def test_a_message_without_a_data_key_is_routed_whole() -> None:
    flow = Flow()
    router = ConditionalRouter()
    flow.add_routine(router, "router")
    router.set_config(routes=[("yes", "data['n'] == 1")])
    router.define_event("yes")
    sink = Collector()
    flow.add_routine(sink, "sink")
    flow.connect("router", "yes", "sink", "input")
    entry = Routine()
    entry.define_slot("trigger", handler=lambda **kw: entry.emit("out", **kw))
    entry.define_event("out")
    flow.add_routine(entry, "entry")
    flow.connect("entry", "out", "router", "input")
    flow.execute("entry", {"n": 1})
    assert sink.received == [{"n": 1}]


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("data.__class__", "underscore"),
        ("__import__('os')", "__import__"),
        ("9**9**9", "exceeds"),
        ("data.get(", "valid expression"),
        ("[x for x in data]", "comprehension"),
    ],
)
def test_a_rejected_expression_fails_at_set_config_naming_the_route(
    expression: str, reason: str
) -> None:
    router = ConditionalRouter()
    with pytest.raises(DefinitionError, match=r"route 'risky'") as caught:
        router.set_config(routes=[("safe", "True"), ("risky", expression)])
    assert reason.lower() in str(caught.value).lower()


def test_a_rejected_config_leaves_the_previous_routes_in_force() -> None:
    flow, sinks = routed_flow([("high", "data['v'] > 10")], default="low")
    with pytest.raises(DefinitionError):
        flow.routines["router"].set_config(routes=[("high", "data.__dict__")])
    flow.execute("source", {"items": [{"v": 11}]})
    assert sinks["high"].received == [{"v": 11}]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"routes": "high"}, "list of"),
        ({"routes": [("high",)]}, "pair"),
        ({"routes": [("", "True")]}, "non-empty string name"),
        ({"routes": [("a", "True"), ("a", "False")]}, "two routes named 'a'"),
        ({"routes": [("a", 42)]}, "expression string, a dict"),
        ({"routes": [("a", {1: 2})]}, "string keys"),
        ({"route_priority": "best"}, "first_match"),
        ({"default_route": 3}, "default_route"),
    ],
)
def test_a_malformed_config_is_refused_with_a_clear_message(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        ConditionalRouter().set_config(**config)


def test_a_route_without_an_event_is_refused_before_the_job_starts() -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    router = ConditionalRouter()
    flow.add_routine(router, "router")
    router.set_config(routes=[("high", "True")], default_route="low")
    router.define_event("high")
    flow.connect("source", "output", "router", "input")
    with pytest.raises(DefinitionError, match=r"'router'.*no event 'low'.*define_event\('low'\)"):
        flow.execute("source", {"items": [1]})


def test_a_condition_that_raises_at_run_time_is_a_handler_failure_naming_the_route() -> None:
    flow, sinks = routed_flow([("high", "data['v'] > 10")], default="low")
    flow.routines["router"].set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    job = flow.execute("source", {"items": [{"w": 1}, {"v": 20}]})
    assert job.status == "completed"
    assert [e.routine_id for e in job.errors] == ["router"]
    assert "route 'high'" in job.errors[0].message
    assert sinks["high"].received == [{"v": 20}]
    assert sinks["low"].received == []


def test_a_condition_failure_stops_the_job_under_the_default_policy() -> None:
    flow, _ = routed_flow([("high", lambda data: data["missing"])], default="low")
    job = flow.execute("source", {"items": [{"v": 1}]})
    assert job.status == "failed"
    assert job.errors[0].error_type == "ExecutionError"
