"""ConditionalRouter: conditions, priorities, default route, the published payload, errors."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from routilux import DefinitionError, Flow, Routine
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


def in_order(flow: Flow) -> None:
    """One delivery at a time per routine, so that messages arrive in the order sent."""
    for routine in flow.routines.values():
        routine.set_max_concurrency(1)


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
    in_order(flow)
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


def test_without_a_default_an_unmatched_message_goes_to_output_and_is_counted() -> None:
    flow, sinks = routed_flow([("high", "data['v'] > 10")])
    router = flow.routines["router"]
    unmatched = Payloads()
    flow.add_routine(unmatched, "unmatched")
    flow.connect("router", "output", "unmatched", "input")
    job = flow.execute("source", {"items": [{"v": 1}, {"v": 2}]})
    assert job.status == "completed"
    assert sinks["high"].received == []
    assert unmatched.received == [
        {"data": {"v": 1}, "route": "unmatched"},
        {"data": {"v": 2}, "route": "unmatched"},
    ]
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


@pytest.mark.parametrize(
    ("message", "data"),
    [
        ({"n": 1, "m": 2}, {"n": 1, "m": 2}),
        ({"n": {"n": 1}}, {"n": 1}),
        ({"data": None, "x": {"n": 1}}, {"n": 1}),
        ({"data": {"n": 1}, "x": 5}, {"n": 1}),
    ],
)
def test_the_data_is_taken_from_the_message_as_published(
    message: dict[str, Any], data: dict[str, Any]
) -> None:
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
    flow.execute("entry", message)
    assert sink.received == [data]


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("data.__class__", "underscore"),
        ("__import__('os')", "__import__"),
        ("9**9**9", "exceeds"),
        ("data.get(", "valid expression"),
        ("lambda: 1", "lambda"),
        ("getattr(data, 'x')", "getattr"),
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
        ({"route_priority": "best"}, "first_match"),
        ({"default_route": 3}, "default_route"),
    ],
)
def test_a_malformed_config_is_refused_with_a_clear_message(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        ConditionalRouter().set_config(**config)


def test_route_events_not_defined_are_defined_when_the_job_starts() -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    router = ConditionalRouter()
    flow.add_routine(router, "router")
    router.set_config(routes=[("high", "data > 5")], default_route="normal")
    router.define_event("high")
    flow.connect("source", "output", "router", "input")
    assert list(router.events) == ["output", "high"]
    job = flow.execute("source", {"items": [1, 9]})
    assert job.status == "completed"
    assert list(router.events) == ["output", "high", "normal"]
    assert router.events["normal"].params == ("data", "route")
    assert [r.event_name for r in job.get_execution_history("router")] == ["normal", "high"]


def test_a_condition_that_raises_is_no_match_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flow, sinks = routed_flow([("high", "data['v'] > 10")], default="low")
    with caplog.at_level(logging.WARNING, logger="routilux"):
        job = flow.execute("source", {"items": [{"w": 1}, {"v": 20}]})
    assert job.status == "completed"
    assert job.errors == []
    assert sinks["high"].received == [{"v": 20}]
    assert sinks["low"].received == [{"w": 1}]
    assert flow.routines["router"].get_stat("condition_errors") == 1
    assert "the condition of route 'high' raised ExpressionEvaluationError" in caplog.text


def test_a_raising_function_condition_is_called_once_and_is_no_match() -> None:
    calls: list[Any] = []

    def fails(data: Any) -> bool:
        calls.append(data)
        raise KeyError("missing")

    flow, sinks = routed_flow([("high", fails)], default="low")
    job = flow.execute("source", {"items": [{"v": 1}]})
    assert job.status == "completed"
    assert calls == [{"v": 1}]
    assert sinks["low"].received == [{"v": 1}]


# -- the published interface ----------------------------------------------------------------


class Payloads(Routine):
    """Keeps each whole payload it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.collect)

    def collect(self, **payload: Any) -> None:
        self.received.append(payload)


def test_a_flow_wired_as_the_published_docs_wire_it_gets_the_published_payload() -> None:
    from routilux.builtin_routines.control_flow import ConditionalRouter as PublishedPath

    router = PublishedPath()
    router.set_config(
        routes=[
            ("high", "data.get('priority') == 'high'"),
            ("low", "isinstance(data, dict) and data.get('priority') == 'low'"),
        ],
        default_route="normal",
    )
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(router, "router")
    sinks = {name: Payloads() for name in ("high", "low")}
    router.define_event("high")
    router.define_event("low")
    for name, sink in sinks.items():
        flow.add_routine(sink, name)
        flow.connect("router", name, name, "input")
    flow.connect("source", "output", "router", "input")
    items = [{"priority": "high"}, {"priority": "low"}, {"priority": "none"}]
    job = flow.execute("source", {"items": items})
    assert job.status == "completed"
    assert sinks["high"].received == [{"data": {"priority": "high"}, "route": "high"}]
    assert sinks["low"].received == [{"data": {"priority": "low"}, "route": "low"}]
    assert [r.event_name for r in job.get_execution_history("router")] == [
        "high",
        "low",
        "normal",
    ]


def test_add_route_appends_a_route_and_defines_its_event() -> None:
    router = ConditionalRouter()
    router.add_route("high", {"priority": "high"})
    router.add_route("low", lambda data: data.get("priority") == "low")
    assert [name for name, _ in router.get_config("routes")] == ["high", "low"]
    assert list(router.events) == ["output", "high", "low"]
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(router, "router")
    sink = Payloads()
    flow.add_routine(sink, "sink")
    flow.connect("source", "output", "router", "input")
    flow.connect("router", "low", "sink", "input")
    flow.execute("source", {"items": [{"priority": "low"}]})
    assert sink.received == [{"data": {"priority": "low"}, "route": "low"}]


def test_add_route_refuses_a_name_taken() -> None:
    router = ConditionalRouter()
    router.add_route("a", "True")
    with pytest.raises(DefinitionError, match="two routes named 'a'"):
        router.add_route("a", "False")


def test_expressions_may_read_the_router_stats() -> None:
    flow, sinks = routed_flow([("quiet", "stats.get('unrouted', 0) < 1")], default="busy")
    flow.routines["router"].set_stat("unrouted", 3)
    flow.execute("source", {"items": [1]})
    assert sinks["busy"].received == [1]


def _by_config(data: Any, config: dict[str, Any]) -> bool:
    return bool(data > config["limit"])


def _positional(value: Any, settings: dict[str, Any]) -> bool:
    return bool(value > settings["limit"])


def _with_default(value: Any, limit: int = 5) -> bool:
    return value > limit


def _named(value: Any, *, config: dict[str, Any], stats: dict[str, Any]) -> bool:
    return bool(value > config["limit"] and not stats)


@pytest.mark.parametrize("condition", [_by_config, _positional, _with_default, _named])
def test_a_function_condition_gets_config_and_stats_by_its_parameters(condition: Any) -> None:
    flow, sinks = routed_flow([("big", condition)], default="small")
    flow.routines["router"].set_config(limit=5)
    flow.execute("source", {"items": [3, 8]})
    assert sinks["big"].received == [8]
    assert sinks["small"].received == [3]


def test_a_dict_condition_may_hold_predicates_and_non_string_keys() -> None:
    flow, sinks = routed_flow([("match", {"n": lambda n: n > 2, 1: "one"})], default="rest")
    flow.execute("source", {"items": [{"n": 3, 1: "one"}, {"n": 1, 1: "one"}, {"n": 3}]})
    assert sinks["match"].received == [{"n": 3, 1: "one"}]
    assert sinks["rest"].received == [{"n": 1, 1: "one"}, {"n": 3}]


def test_a_condition_may_use_comprehensions_over_the_message() -> None:
    flow, sinks = routed_flow(
        [
            ("any_big", "any(x > 2 for x in data['items'])"),
            ("paid", "sum(i['qty'] for i in data.get('lines', []) if i['ok']) >= 5"),
        ],
        default="rest",
    )
    lines = [{"qty": 2, "ok": True}, {"qty": 9, "ok": False}, {"qty": 3, "ok": True}]
    messages = [{"items": [1, 3]}, {"items": [], "lines": lines}, {"items": [0]}]
    flow.execute("source", {"items": messages})
    assert sinks["any_big"].received == [messages[0]]
    assert sinks["paid"].received == [messages[1]]
    assert sinks["rest"].received == [messages[2]]
