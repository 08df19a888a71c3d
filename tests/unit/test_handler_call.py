"""How a delivered message is adapted to the handler's signature."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine


class Source(Routine):
    """Emits its entry params, unchanged, on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, **message: Any) -> None:
        self.emit("out", **message)


class Target(Routine):
    """A routine whose ``input`` slot calls the given handler."""

    def __init__(self, handler: Callable[..., Any]) -> None:
        super().__init__()
        self.define_slot("input", handler=handler)
        self.define_event("out")


def deliver(handler: Callable[..., Any], message: dict[str, Any], **flow_kwargs: Any) -> JobState:
    """Send ``message`` to a slot whose handler is ``handler``; return the job."""
    flow = Flow(**flow_kwargs)
    flow.add_routine(Source(), "source")
    target = Target(handler)
    flow.add_routine(target, "target")
    flow.connect("source", "out", "target", "input")
    return flow.execute("source", entry_params=message)


def test_var_keyword_handler_gets_every_key() -> None:
    calls: list[dict[str, Any]] = []

    def handler(**kwargs: Any) -> None:
        calls.append(kwargs)

    deliver(handler, {"a": 1, "b": 2, "data": 3})
    assert calls == [{"a": 1, "b": 2, "data": 3}]


def test_named_and_var_keyword_handler_gets_named_keys_and_the_rest() -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def handler(data: Any = None, **kwargs: Any) -> None:
        calls.append((data, kwargs))

    deliver(handler, {"data": "d", "x": 1})
    assert calls == [("d", {"x": 1})]


def test_sole_data_parameter_gets_the_whole_message_when_it_has_no_data_key() -> None:
    calls: list[Any] = []

    def handler(data: Any) -> None:
        calls.append(data)

    deliver(handler, {"a": 1, "b": 2})
    assert calls == [{"a": 1, "b": 2}]


def test_sole_data_parameter_gets_the_data_value_when_the_message_has_one() -> None:
    calls: list[Any] = []

    def handler(data: Any = None) -> None:
        calls.append(data)

    deliver(handler, {"data": [1, 2], "other": "ignored"})
    assert calls == [[1, 2]]


def test_named_parameters_get_their_keys_and_unknown_keys_are_not_passed() -> None:
    calls: list[tuple[Any, Any]] = []

    def handler(a: Any, b: Any) -> None:
        calls.append((a, b))

    job = deliver(handler, {"a": 1, "b": 2, "unknown": 3})
    assert job.status == "completed"
    assert calls == [(1, 2)]


def test_optional_named_parameter_keeps_its_default_when_the_key_is_absent() -> None:
    calls: list[tuple[Any, Any]] = []

    def handler(a: Any, b: Any = "default") -> None:
        calls.append((a, b))

    deliver(handler, {"a": 1})
    assert calls == [(1, "default")]


def test_keyword_only_parameters_get_their_keys() -> None:
    calls: list[tuple[Any, Any]] = []

    def handler(*, a: Any, b: Any = None) -> None:
        calls.append((a, b))

    deliver(handler, {"a": 1, "b": 2})
    assert calls == [(1, 2)]


def test_sole_non_data_parameter_gets_only_its_key() -> None:
    calls: list[Any] = []

    def handler(value: Any) -> None:
        calls.append(value)

    deliver(handler, {"value": 5, "other": 6})
    assert calls == [5]


def test_missing_required_key_fails_with_handler_arguments_error() -> None:
    def handler(a: Any, b: Any, c: Any = None) -> None:
        raise AssertionError("must not be called")

    job = deliver(handler, {"a": 1, "z": 2})
    assert job.status == "failed"
    [error] = job.errors
    assert error.error_type == "HandlerArgumentsError"
    assert (error.routine_id, error.slot) == ("target", "input")


def test_handler_arguments_error_names_the_slot_and_the_missing_keys() -> None:
    def handler(a: Any, b: Any, c: Any) -> None:
        raise AssertionError("must not be called")

    job = deliver(handler, {"a": 1})
    message = job.errors[0].message
    assert "'input'" in message
    assert "target" in message.lower()
    assert "'b', 'c'" in message


def test_missing_required_key_goes_through_the_error_policy() -> None:
    flow_handler = ErrorHandler(strategy=ErrorStrategy.CONTINUE)
    flow = Flow()
    flow.set_error_handler(flow_handler)
    flow.add_routine(Source(), "source")
    flow.add_routine(Target(lambda needed, also: None), "target")
    flow.connect("source", "out", "target", "input")
    job = flow.execute("source", entry_params={"other": 1})
    assert job.status == "completed"
    assert [(e.error_type, e.action) for e in job.errors] == [("HandlerArgumentsError", "continue")]


def test_a_required_positional_only_parameter_among_others_is_refused_when_defined() -> None:
    def handler(value: Any, /, other: Any = None) -> None:
        pass

    with pytest.raises(DefinitionError, match="positional-only parameter 'value'"):
        Target(handler)


def test_positional_only_parameter_with_a_default_is_accepted_and_not_passed() -> None:
    calls: list[tuple[Any, Any]] = []

    def handler(flag: Any = "default", /, value: Any = None) -> None:
        calls.append((flag, value))

    deliver(handler, {"flag": "from message", "value": 1})
    assert calls == [("default", 1)]


def test_zero_parameter_handler_is_called() -> None:
    calls: list[str] = []

    def handler() -> None:
        calls.append("called")

    job = deliver(handler, {"a": 1})
    assert job.status == "completed"
    assert calls == ["called"]


def test_var_positional_only_handler_gets_the_whole_message_as_its_one_argument() -> None:
    calls: list[tuple[Any, ...]] = []

    def handler(*args: Any) -> None:
        calls.append(args)

    deliver(handler, {"a": 1})
    assert calls == [({"a": 1},)]


def test_a_lone_required_parameter_whose_key_is_absent_gets_the_whole_message() -> None:
    calls: list[Any] = []

    def handler(payload: Any) -> None:
        calls.append(payload)

    job = deliver(handler, {"a": 1, "b": 2})
    assert job.status == "completed"
    assert calls == [{"a": 1, "b": 2}]


def test_a_lone_keyword_only_parameter_whose_key_is_absent_gets_the_whole_message() -> None:
    calls: list[Any] = []

    def handler(*, payload: Any) -> None:
        calls.append(payload)

    deliver(handler, {"a": 1})
    assert calls == [{"a": 1}]


def test_first_required_parameter_gets_the_whole_message_when_no_parameter_is_a_key() -> None:
    calls: list[tuple[Any, Any]] = []

    def handler(payload: Any, scale: Any = 10) -> None:
        calls.append((payload, scale))

    deliver(handler, {"a": 1})
    assert calls == [({"a": 1}, 10)]


def test_first_required_parameter_missing_while_another_is_a_key_still_fails() -> None:
    def handler(payload: Any, scale: Any = 10) -> None:
        raise AssertionError("must not be called")

    job = deliver(handler, {"scale": 2})
    assert job.status == "failed"
    assert job.errors[0].error_type == "HandlerArgumentsError"


def test_a_lone_positional_only_parameter_gets_its_key_or_the_whole_message() -> None:
    calls: list[Any] = []

    def handler(value: Any, /) -> None:
        calls.append(value)

    deliver(handler, {"value": 5, "other": 6})
    deliver(handler, {"other": 6})
    assert calls == [5, {"other": 6}]


def test_bound_method_handler_does_not_count_self() -> None:
    class Holder:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def handle(self, data: Any) -> None:
            self.seen.append(data)

    holder = Holder()
    deliver(holder.handle, {"a": 1})
    assert holder.seen == [{"a": 1}]


def test_functools_partial_handler_gets_the_remaining_parameters() -> None:
    calls: list[tuple[Any, Any]] = []

    def handler(prefix: str, value: Any) -> None:
        calls.append((prefix, value))

    deliver(functools.partial(handler, "p"), {"value": 1, "extra": 2})
    assert calls == [("p", 1)]


def test_callable_object_handler_is_adapted_by_its_call_signature() -> None:
    class Collector:
        def __init__(self) -> None:
            self.seen: list[Any] = []

        def __call__(self, value: Any) -> None:
            self.seen.append(value)

    collector = Collector()
    deliver(collector, {"value": 7, "other": 8})
    assert collector.seen == [7]


def test_lambda_handler_is_adapted() -> None:
    seen: list[Any] = []
    deliver(lambda x, y=0: seen.append(x + y), {"x": 1, "y": 2, "z": 3})
    assert seen == [3]


# -- async handlers --------------------------------------------------------------------


class AsyncRelay(Routine):
    """An ``async def`` handler that records and forwards."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.contexts: list[Any] = []
        self.define_slot("input", handler=self.relay)
        self.define_event("out")

    async def relay(self, value: Any) -> None:
        self.seen.append(value)
        self.contexts.append(self.get_execution_context())
        if value == "boom":
            raise RuntimeError("async failure")
        self.emit("out", value=value * 2)


class Recorder(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.receive)

    def receive(self, **message: Any) -> None:
        self.seen.append(message)


def async_flow(**flow_kwargs: Any) -> tuple[Flow, AsyncRelay, Recorder]:
    flow = Flow(**flow_kwargs)
    relay, recorder = AsyncRelay(), Recorder()
    flow.add_routine(Source(), "source")
    flow.add_routine(relay, "relay")
    flow.add_routine(recorder, "recorder")
    flow.connect("source", "out", "relay", "input")
    flow.connect("relay", "out", "recorder", "input")
    return flow, relay, recorder


def test_async_handler_runs_and_its_emits_are_delivered() -> None:
    flow, relay, recorder = async_flow()
    job = flow.execute("source", entry_params={"value": 21})
    assert job.status == "completed"
    assert relay.seen == [21]
    assert recorder.seen == [{"value": 42}]


def test_async_handler_sees_its_execution_context() -> None:
    flow, relay, _ = async_flow()
    job = flow.execute("source", entry_params={"value": 1})
    assert relay.contexts == [(flow, job, "relay")]


def test_async_handler_failure_goes_through_the_error_policy() -> None:
    flow, relay, recorder = async_flow()
    relay.set_as_optional()
    job = flow.execute("source", entry_params={"value": "boom"})
    assert job.status == "completed"
    assert recorder.seen == []
    assert [(e.routine_id, e.error_type, e.action) for e in job.errors] == [
        ("relay", "RuntimeError", "continue")
    ]


def test_async_handlers_work_in_consecutive_jobs() -> None:
    flow, _, recorder = async_flow()
    first = flow.execute("source", entry_params={"value": 1})
    second = flow.execute("source", entry_params={"value": 2})
    assert (first.status, second.status) == ("completed", "completed")
    assert recorder.seen == [{"value": 2}, {"value": 4}]
