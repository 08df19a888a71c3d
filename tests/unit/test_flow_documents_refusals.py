"""Flow documents: what serialize refuses to write, and what deserialize refuses to build."""

from __future__ import annotations

import copy
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine, SerializationError  # noqa: E402
from routilux.builtin_routines import ConditionalRouter  # noqa: E402

FX = "tests.fixtures.flow_routines"


def flow_of(**routines: Routine) -> Flow:
    flow = Flow(flow_id="f")
    for routine_id, routine in routines.items():
        flow.add_routine(routine, routine_id)
    return flow


def base_doc() -> dict[str, Any]:
    flow = flow_of(step=fx.Step(), gather=fx.Gather())
    flow.connect("step", "out", "gather", "input")
    return flow.serialize()


def refused(doc: dict[str, Any], match: str) -> SerializationError:
    with pytest.raises(SerializationError, match=match) as caught:
        Flow.deserialize(doc)
    return caught.value


# -- serialize refuses -------------------------------------------------------


def router_with(condition: Any) -> Flow:
    router = ConditionalRouter()
    router.set_config(routes=[("r", condition)])
    router.define_event("r")
    return flow_of(router=router)


def _nested_condition() -> Callable[[Any], bool]:
    def nested(data: Any) -> bool:
        return True

    return nested


class _Callable:
    def __call__(self, data: Any) -> bool:
        return True

    def method(self, data: Any) -> bool:
        return True


@pytest.mark.parametrize(
    ("condition", "what"),
    [
        (lambda data: True, "a lambda"),
        (_nested_condition(), "the nested function _nested_condition.<locals>.nested"),
        (_Callable().method, "the bound method _Callable.method"),
        (_Callable(), "a _Callable object, not a function"),
        (functools.partial(fx.is_even), "a partial object, not a function"),
    ],
)
def test_condition_that_is_not_a_module_level_function_is_refused(
    condition: Any, what: str
) -> None:
    with pytest.raises(SerializationError) as caught:
        router_with(condition).serialize()
    message = str(caught.value)
    assert message.startswith("Cannot serialize routines['router'].routes[0].function:")
    assert f"the condition of route 'r' is {what}" in message
    assert "use a module-level function or a string expression" in message


def test_handler_that_is_a_lambda_is_refused_naming_routine_and_slot() -> None:
    with pytest.raises(SerializationError) as caught:
        flow_of(odd=fx.LambdaHandler()).serialize()
    message = str(caught.value)
    assert "routines['odd'].slots[0].handler" in message
    assert "slot 'input' of routine 'odd'" in message
    assert "is a lambda; pass a method of the routine" in message


def test_handler_bound_to_another_routine_is_refused() -> None:
    with pytest.raises(
        SerializationError, match=r"is the bound method Step\.process; pass a method of the routine"
    ):
        flow_of(foreign=fx.ForeignHandler()).serialize()


def test_handler_that_is_a_dunder_method_is_refused() -> None:
    with pytest.raises(SerializationError, match=r"the method '__call__', whose name is special"):
        flow_of(call=fx.CallHandler()).serialize()


def test_merge_function_that_is_a_lambda_is_refused() -> None:
    routine = fx.Step()
    routine.define_slot("merged", handler=routine.other, merge_strategy=lambda old, new: new)
    with pytest.raises(SerializationError) as caught:
        flow_of(step=routine).serialize()
    assert "routines['step'].slots[1].merge_strategy" in str(caught.value)
    assert "merge function of slot 'merged' is a lambda" in str(caught.value)


def test_config_value_the_codec_cannot_write_is_refused_with_its_path() -> None:
    routine = fx.Step()
    routine.set_config(callback=print)
    with pytest.raises(SerializationError, match=r"routines\['step'\]\.config\['callback'\]"):
        flow_of(step=routine).serialize()


def test_class_defined_in_a_function_is_refused() -> None:
    class Local(Routine):
        pass

    with pytest.raises(SerializationError) as caught:
        flow_of(local=Local()).serialize()
    assert "routines['local'].class" in str(caught.value)
    assert "is defined inside a function" in str(caught.value)
    assert "register_routine" in str(caught.value)


def test_class_of_main_not_at_the_scripts_top_level_is_refused() -> None:
    main_class = type("Script", (Routine,), {"__module__": "__main__"})
    with pytest.raises(
        SerializationError, match=r"of __main__ but not found at the top level .*register_routine"
    ):
        flow_of(script=main_class()).serialize()


def test_exception_class_defined_in_a_function_is_refused() -> None:
    class LocalError(Exception):
        pass

    routine = fx.Step()
    routine.set_error_handler(ErrorHandler(ErrorStrategy.RETRY, retryable_exceptions=(LocalError,)))
    with pytest.raises(SerializationError, match=r"error_handler\.retryable_exceptions\[0\]"):
        flow_of(step=routine).serialize()


# -- deserialize refuses: the routine does not fit the document ---------------


def test_slot_handler_that_differs_from_the_class_says_what_differs() -> None:
    doc = base_doc()
    doc["routines"]["step"]["slots"][0]["handler"] = "other"
    error = refused(doc, r"routines\['step'\]\.slots\[0\] does not match the slot 'input'")
    assert "the document has handler 'other', the class has 'process'" in str(error)


def test_slot_merge_strategy_that_differs_from_the_class_says_what_differs() -> None:
    doc = base_doc()
    doc["routines"]["gather"]["slots"][0]["merge_strategy"] = "append"
    error = refused(doc, "does not match the slot 'input' that Gather.__init__ defines")
    assert f"the document has merge strategy 'append', the class has '{FX}:keep_larger'" in str(
        error
    )


def test_event_params_that_differ_from_the_class_say_what_differs() -> None:
    doc = base_doc()
    doc["routines"]["step"]["events"][0]["params"] = ["value"]
    refused(doc, r"the document has params \['value'\], the class has \['value', 'tag'\]")


def test_slot_the_class_lacks_is_defined_with_the_named_method() -> None:
    doc = base_doc()
    doc["routines"]["step"]["slots"].append(
        {"name": "more", "handler": "other", "merge_strategy": "append"}
    )
    step = Flow.deserialize(doc).routines["step"]
    assert step.slots["more"].handler == step.other
    assert step.slots["more"].merge_strategy == "append"


def test_slot_the_class_lacks_may_have_a_merge_function_and_no_handler() -> None:
    doc = base_doc()
    doc["routines"]["step"]["slots"].append(
        {"name": "more", "handler": None, "merge_strategy": f"{FX}:keep_larger"}
    )
    slot = Flow.deserialize(doc).routines["step"].slots["more"]
    assert (slot.handler, slot.merge_strategy) == (None, fx.keep_larger)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("_hidden", "starts with '_'"),
        ("missing", "is not a method defined by Step"),
        ("emit", "is defined by Routine itself, not a handler"),
        ("set_config", "is defined by Routine itself, not a handler"),
        ("slots", "is defined by Routine itself, not a handler"),
    ],
)
def test_slot_the_class_lacks_needs_a_public_method_of_the_class(handler: str, reason: str) -> None:
    doc = base_doc()
    doc["routines"]["step"]["slots"].append(
        {"name": "more", "handler": handler, "merge_strategy": "override"}
    )
    refused(doc, rf"routines\['step'\]\.slots\[1\]\.handler {handler!r} {reason}")


def test_handlers_are_not_fetched_through_getattr() -> None:
    doc = flow_of(dynamic=fx.Dynamic()).serialize()
    doc["routines"]["dynamic"]["slots"].append(
        {"name": "more", "handler": "anything", "merge_strategy": "override"}
    )
    refused(doc, "'anything' is not a method defined by Dynamic")


def test_event_the_class_lacks_is_defined() -> None:
    doc = base_doc()
    doc["routines"]["step"]["events"].append({"name": "late", "params": ["x"]})
    assert Flow.deserialize(doc).routines["step"].events["late"].params == ("x",)


def test_class_that_needs_arguments_is_refused_naming_it() -> None:
    doc = base_doc()
    doc["routines"]["step"]["class"] = f"{FX}:NeedsArguments"
    refused(
        doc, r"names NeedsArguments, which cannot be created without arguments \(it needs 'size'\)"
    )


def test_class_whose_init_raises_is_refused_with_the_cause() -> None:
    doc = base_doc()
    doc["routines"]["step"]["class"] = f"{FX}:BrokenInit"
    error = refused(doc, r"BrokenInit, whose __init__ raised RuntimeError\('broken on purpose'\)")
    assert isinstance(error.__cause__, RuntimeError)


def test_class_whose_init_skips_super_is_refused() -> None:
    doc = base_doc()
    doc["routines"]["step"]["class"] = f"{FX}:NoSuperInit"
    refused(doc, r"does not call super\(\)\.__init__\(\)")


def test_config_refused_by_validate_config_names_the_routine() -> None:
    doc = base_doc()
    doc["routines"]["step"]["config"]["offset"] = "ten"
    refused(
        doc, r"routines\['step'\]\.config is refused by the routine: Step offset must be an integer"
    )


def test_routes_on_a_routine_that_is_not_a_router_are_refused() -> None:
    doc = base_doc()
    doc["routines"]["step"]["routes"] = [{"name": "x", "expression": "True"}]
    refused(doc, r"routines\['step'\]\.routes is only for a ConditionalRouter, not a Step")


def test_router_expression_is_checked_again_when_rebuilt() -> None:
    doc = router_with("data > 1").serialize()
    doc["routines"]["router"]["routes"][0]["expression"] = "__import__('os').system('true')"
    refused(doc, r"routines\['router'\]\.config is refused by the routine: .*route 'r'")


def test_a_router_route_without_an_event_gets_one_when_a_job_starts() -> None:
    doc = router_with("data > 1").serialize()
    doc["routines"]["router"]["events"] = []
    flow = Flow.deserialize(doc)  # Events may be defined later, as in the seed.

    job = flow.execute("router", {"data": 2}, entry_slot="input")

    assert job.status == "completed", job.error
    assert "r" in flow.routines["router"].events


def test_model_limits_are_refused_with_the_place() -> None:
    doc = base_doc()
    doc["routines"]["step"]["timeout"] = -1
    refused(doc, r"routines\['step'\]\.timeout is refused: .*positive number")
    doc = base_doc()
    doc["max_workers"] = 0
    refused(doc, "the flow's setting max_workers is refused: Flow max_workers must be a positive")


def test_connection_the_model_refuses_names_the_connection() -> None:
    doc = base_doc()
    doc["connections"][0]["slot"] = "nope"
    refused(doc, r"connections\[0\] is refused: Routine 'gather' has no slot 'nope'")
    doc = base_doc()
    doc["connections"].append(copy.deepcopy(doc["connections"][0]))
    refused(doc, r"connections\[1\] is refused: The flow already has the connection")


def test_error_handler_the_model_refuses_names_its_place() -> None:
    doc = base_doc()
    doc["error_handler"] = {
        "strategy": "retry",
        "max_retries": -1,
        "retry_delay": 1,
        "retry_backoff": 1,
        "retryable_exceptions": ["builtins:Exception"],
        "is_critical": False,
    }
    refused(doc, "error_handler is refused: ErrorHandler max_retries must be a non-negative")
    doc["error_handler"].update(max_retries=1, retryable_exceptions=[])
    refused(doc, "retryable_exceptions must be a non-empty tuple")
