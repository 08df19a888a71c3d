"""Flow documents: functions and classes in routine config, written as references.

A reference is ``{"$t": "ref", "v": "package.module:QualName"}``: a tagged
value of the value codec, so a user dict with a ``"$t"`` key is escaped as
before, and a JSON Schema's ``"$ref"`` key is plain data.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import config_refs as cr  # noqa: E402
from tests.fixtures import flags  # noqa: E402
from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import Flow, JobState, Routine, SerializationError  # noqa: E402
from routilux._serde._refs import DENIED_MODULES  # noqa: E402
from routilux.builtin_routines import ConditionalRouter  # noqa: E402

CR = "tests.fixtures.config_refs"
FX = "tests.fixtures.flow_routines"
Doc = dict[str, Any]


def ref(path: str) -> Doc:
    return {"$t": "ref", "v": path}


def step_with(**config: Any) -> Flow:
    flow = Flow(flow_id="refs")
    step = fx.Step()
    step.set_config(**config)
    flow.add_routine(step, "step")
    return flow


def config_doc(**config: Any) -> Doc:
    doc: Doc = step_with(**config).serialize()["routines"]["step"]["config"]
    return doc


def reloaded(flow: Flow) -> Flow:
    """The flow rebuilt from its document, as JSON text; the documents must be equal."""
    doc = flow.serialize()
    rebuilt = Flow.deserialize(json.loads(json.dumps(doc, allow_nan=False)))
    assert rebuilt.serialize() == doc
    return rebuilt


def doc_with_config(**config: Any) -> Doc:
    doc = step_with().serialize()
    doc["routines"]["step"]["config"].update(config)
    return doc


# -- writing: the document form ---------------------------------------------------


def test_function_at_the_top_of_config_is_a_reference() -> None:
    assert config_doc(f=cr.double)["f"] == ref(f"{CR}:double")


def test_class_at_the_top_of_config_is_a_reference() -> None:
    assert config_doc(model=cr.Settings)["model"] == ref(f"{CR}:Settings")


def test_nested_class_exception_classes_and_routine_classes_are_references() -> None:
    doc = config_doc(
        inner=cr.Settings.Inner,
        retry_on=(cr.RetryableError, ValueError, ConnectionError, fx.Outer.InnerError),
        routine=fx.Step,
    )
    assert doc["inner"] == ref(f"{CR}:Settings.Inner")
    assert doc["retry_on"] == {
        "$t": "tuple",
        "v": [
            ref(f"{CR}:RetryableError"),
            ref("builtins:ValueError"),
            ref("builtins:ConnectionError"),
            ref(f"{FX}:Outer.InnerError"),
        ],
    }
    assert doc["routine"] == ref(f"{FX}:Step")


def test_references_at_every_depth() -> None:
    doc = config_doc(
        steps=[cr.double, {"then": [cr.add_one, (cr.Settings,)]}],
        by_name={"a": {"b": {"c": cr.double}}},
        by_key={cr.double: "d", cr.Settings: "s"},
        members=frozenset({cr.double, cr.add_one}),
    )
    assert doc["steps"] == [
        ref(f"{CR}:double"),
        {"then": [ref(f"{CR}:add_one"), {"$t": "tuple", "v": [ref(f"{CR}:Settings")]}]},
    ]
    assert doc["by_name"] == {"a": {"b": {"c": ref(f"{CR}:double")}}}
    assert doc["by_key"] == {
        "$t": "dict",
        "v": [[ref(f"{CR}:double"), "d"], [ref(f"{CR}:Settings"), "s"]],
    }
    # Set members are written in a canonical order, whatever the set's order.
    assert doc["members"] == {"$t": "frozenset", "v": [ref(f"{CR}:add_one"), ref(f"{CR}:double")]}


def test_user_dict_with_the_tag_key_is_escaped_and_may_hold_references() -> None:
    doc = config_doc(d={"$t": "ref", "v": cr.double})
    assert doc["d"] == {"$t": "dict", "v": [["$t", "ref"], ["v", ref(f"{CR}:double")]]}


def test_user_dict_that_looks_like_a_reference_is_escaped_and_stays_data() -> None:
    looks_like = {"$t": "ref", "v": "os:system"}
    flow = step_with(d=looks_like)
    doc = flow.serialize()["routines"]["step"]["config"]
    assert doc["d"] == {"$t": "dict", "v": [["$t", "ref"], ["v", "os:system"]]}
    assert reloaded(flow).routines["step"].get_config("d") == looks_like


def test_json_schema_ref_keys_are_plain_data() -> None:
    schema = {"$ref": "#/definitions/order", "definitions": {"order": {"type": "object"}}}
    flow = step_with(schema=schema)
    assert flow.serialize()["routines"]["step"]["config"]["schema"] == schema
    assert reloaded(flow).routines["step"].get_config("schema") == schema


# -- reading: the same objects -----------------------------------------------------


def test_references_load_as_the_same_objects() -> None:
    config = {
        "f": cr.double,
        "model": cr.Settings,
        "inner": cr.Settings.Inner,
        "retry_on": (cr.RetryableError, ValueError, ConnectionError, fx.Outer.InnerError),
        "steps": [cr.double, {"then": [cr.add_one, (cr.Settings,)]}],
        "by_key": {cr.double: "d", cr.Settings: "s"},
        "members": frozenset({cr.double, cr.add_one}),
        "plain": {"$t": 1, "$ref": fx.Step},
    }
    loaded = reloaded(step_with(**config)).routines["step"].config()
    assert loaded == {"offset": 1, **config}
    assert loaded["f"] is cr.double
    assert loaded["model"] is cr.Settings
    assert loaded["inner"] is cr.Settings.Inner
    assert all(a is b for a, b in zip(loaded["retry_on"], config["retry_on"], strict=True))
    assert type(loaded["retry_on"]) is tuple
    assert loaded["steps"][1]["then"][1][0] is cr.Settings
    assert loaded["plain"]["$ref"] is fx.Step


def test_a_rebuilt_routine_runs_its_referenced_functions() -> None:
    flow = Flow(flow_id="apply")
    apply = cr.Apply()
    apply.set_config(steps=[cr.double, cr.add_one], retry_on=(cr.RetryableError,))
    flow.add_routine(apply, "apply")
    flow.add_routine(fx.Gather(), "gather")
    flow.connect("apply", "out", "gather", "input")
    rebuilt = reloaded(flow)
    assert rebuilt.routines["apply"].get_config("steps") == [cr.double, cr.add_one]
    job = rebuilt.execute("apply", {"value": 20})
    assert [(r.routine_id, r.data) for r in job.execution_history] == [
        ("apply", {"value": 41}),
        ("gather", {"value": 41}),
    ]


def test_pydantic_model_class_round_trips() -> None:
    pytest.importorskip("pydantic")
    from tests.fixtures import config_models

    flow = step_with(model=config_models.Order)
    doc = flow.serialize()
    assert doc["routines"]["step"]["config"]["model"] == ref("tests.fixtures.config_models:Order")
    assert reloaded(flow).routines["step"].get_config("model") is config_models.Order


def test_resolving_a_class_calls_nothing_not_even_its_metaclass() -> None:
    doc = doc_with_config(model=ref(f"{CR}:Tripwire"), models=[ref(f"{CR}:Tripwire")])
    flags.EVENTS.clear()
    loaded = Flow.deserialize(doc).routines["step"]
    assert flags.EVENTS == []
    assert loaded.get_config("model") is cr.Tripwire
    assert loaded.get_config("models")[0] is cr.Tripwire


def test_router_routes_keep_their_own_format_next_to_config_references() -> None:
    flow = Flow(flow_id="router")
    router = ConditionalRouter()
    router.set_config(routes=[("even", fx.is_even), ("big", "data > 5")], default_route="big")
    router.define_event("even")
    router.define_event("big")
    flow.add_routine(router, "router")
    entry = flow.serialize()["routines"]["router"]
    assert entry["routes"] == [
        {"name": "even", "function": f"{FX}:is_even"},
        {"name": "big", "expression": "data > 5"},
    ]
    assert "routes" not in entry["config"]
    assert reloaded(flow).routines["router"].get_config("routes")[0][1] is fx.is_even


def test_a_router_fields_condition_holds_data_not_references() -> None:
    flow = Flow(flow_id="router")
    router = ConditionalRouter()
    router.set_config(routes=[("r", {"tag": "x"})])
    router.define_event("r")
    flow.add_routine(router, "router")
    doc = flow.serialize()
    doc["routines"]["router"]["routes"][0]["fields"] = {"tag": ref(f"{FX}:is_even")}
    with pytest.raises(SerializationError, match=r"routes\[0\]\.fields\['tag'\] is a reference"):
        Flow.deserialize(doc)


# -- writing: refusals ---------------------------------------------------------------


def _nested() -> Callable[[Any], Any]:
    def inner(value: Any) -> Any:
        return value

    return inner


def _local_class() -> type:
    class Local:
        pass

    return Local


class _CallableObject:
    def __call__(self, value: Any) -> Any:
        return value

    def method(self, value: Any) -> Any:
        return value


def _in_main(value: Any) -> Any:
    return value


_in_main.__module__ = "__main__"
_MainClass = type("MainClass", (), {"__module__": "__main__"})
_FIX = "a routine's config may hold only functions and classes defined at module level"


@pytest.mark.parametrize(
    ("value", "what"),
    [
        (lambda value: value, "the callable is a lambda"),
        (cr.halve, "the callable is a lambda"),
        (_nested(), "the callable is the nested function _nested.<locals>.inner"),
        (_CallableObject().method, "the callable is the bound method _CallableObject.method"),
        (_CallableObject(), "the callable is a _CallableObject object, not a function"),
        (functools.partial(cr.double), "the callable is a partial object, not a function"),
        (cr.Settings.static, "the function Settings.static, defined in a class"),
        (_in_main, "the callable _in_main is of __main__ but not found at the top level"),
        (_local_class(), "the class _local_class.<locals>.Local is defined inside a function"),
        (_MainClass, "the class MainClass is of __main__ but not found at the top level"),
        ([].append, "a builtin_function_or_method object, not a function"),
    ],
    ids=[
        "lambda",
        "module-level lambda",
        "nested function",
        "bound method",
        "callable object",
        "partial",
        "static method",
        "function in __main__",
        "class in a function",
        "class in __main__",
        "builtin method",
    ],
)
def test_callable_that_is_not_module_level_is_refused_naming_the_path(
    value: Any, what: str
) -> None:
    flow = step_with(steps=[1, {"k": value}])
    with pytest.raises(SerializationError) as caught:
        flow.serialize()
    message = str(caught.value)
    assert message.startswith("Cannot serialize routines['step'].config['steps'][1]['k']: ")
    assert what in message
    assert _FIX in message


@pytest.mark.parametrize(
    ("value", "module"),
    [
        (len, "builtins"),
        (print, "builtins"),
        (eval, "builtins"),
        (int, "builtins"),
        (object, "builtins"),
        (os.system, "posix" if os.name == "posix" else "nt"),
        (cr.run_command, "posix" if os.name == "posix" else "nt"),
        (os.makedirs, "os"),
        (os.path.join, os.path.__name__),  # posixpath
        (os.path.exists, "genericpath"),
        (shutil.rmtree, "shutil"),
        (subprocess.Popen, "subprocess"),
        (subprocess.run, "subprocess"),
        (sys.exit, "sys"),
        (functools.partial, "functools"),
    ],
)
def test_function_or_class_of_a_denied_module_is_refused(value: Any, module: str) -> None:
    with pytest.raises(SerializationError) as caught:
        step_with(f=value).serialize()
    message = str(caught.value)
    assert message.startswith("Cannot serialize routines['step'].config['f']: ")
    assert f"is of the module {module!r}" in message
    assert "deny-list" in message
    assert "call it from a module-level function of your own module" in message


def test_exception_classes_of_denied_modules_are_allowed() -> None:
    retry_on = (ValueError, ConnectionError, subprocess.CalledProcessError, OSError)
    doc = config_doc(retry_on=retry_on)
    assert doc["retry_on"]["v"][2] == ref("subprocess:CalledProcessError")
    assert reloaded(step_with(retry_on=retry_on)).routines["step"].get_config("retry_on") == (
        retry_on
    )


def test_the_deny_list_names_the_dangerous_modules() -> None:
    assert {"builtins", "os", "sys", "subprocess", "importlib", "shutil", "socket"} <= (
        DENIED_MODULES
    )


def test_a_value_that_is_not_callable_keeps_the_codec_message() -> None:
    with pytest.raises(SerializationError, match="values of type _Opaque are not supported"):
        step_with(f=[_Opaque()]).serialize()


class _Opaque:
    pass


# -- reading: refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"{CR}:halve", f"names '{CR}:halve', which is a lambda"),
        (f"{CR}:Settings.static", "which is a staticmethod, not a module-level function"),
        (f"{CR}:WATCHED", "which is a _Watched, not a module-level function or a class"),
        (f"{FX}:Step.process", "defined in a class"),
        (f"{CR}:no_such_thing", f"module '{CR}' defines no 'no_such_thing'"),
        (f"{CR}:run_command", "of the module 'posix'" if os.name == "posix" else "'nt'"),
        (f"{CR}:rmtree", "of the module 'shutil'"),
        (f"{CR}:Popen", "of the module 'subprocess'"),
        ("os.path:join", "of the module 'os.path'"),
        ("builtins:int", "of the module 'builtins'"),
        ("builtins:len", "of the module 'builtins'"),
        ("routilux._serde._refs:import_object", "of the module 'routilux._serde._refs'"),
        ("builtins:__import__", "must be an import path"),
        ("__main__:not_in_this_script", "of the script that wrote the document"),
        (f"{CR}:Settings.__init__", "must be an import path"),
        (42, "must be an import path .*not a value of type int"),
    ],
)
def test_reference_that_is_not_allowed_is_refused_naming_the_path(path: Any, message: str) -> None:
    doc = doc_with_config(f=[ref(f"{FX}:total"), {"k": ref(path)}])
    flags.EVENTS.clear()
    with pytest.raises(SerializationError, match=message) as caught:
        Flow.deserialize(doc)
    assert str(caught.value).startswith("Flow document: routines['step'].config['f'][1]['k'] ")
    assert flags.EVENTS == []


def test_exception_class_of_a_denied_module_that_is_not_imported_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "ftplib", raising=False)
    doc = doc_with_config(retry_on=[ref("ftplib:Error")])
    with pytest.raises(SerializationError, match="of the module 'ftplib', which is not imported"):
        Flow.deserialize(doc)
    assert "ftplib" not in sys.modules


def test_exception_class_of_a_denied_module_loads_when_it_is_imported() -> None:
    doc = doc_with_config(retry_on=[ref("subprocess:CalledProcessError"), ref("builtins:OSError")])
    loaded = Flow.deserialize(doc).routines["step"].get_config("retry_on")
    assert loaded == [subprocess.CalledProcessError, OSError]


def test_reference_with_extra_keys_is_refused() -> None:
    doc = doc_with_config(f={"$t": "ref", "v": f"{CR}:double", "w": 1})
    with pytest.raises(SerializationError, match="tagged value with unexpected keys"):
        Flow.deserialize(doc)


def test_reference_as_a_top_level_config_key_is_refused() -> None:
    doc = step_with().serialize()
    doc["routines"]["step"]["config"] = {"$t": "dict", "v": [[ref(f"{CR}:double"), 1]]}
    with pytest.raises(SerializationError, match=r"config must be an object with string keys"):
        Flow.deserialize(doc)


def test_a_config_the_routine_refuses_is_reported_after_references_resolve() -> None:
    doc = doc_with_config(offset=ref(f"{CR}:double"))
    with pytest.raises(SerializationError, match="config is refused by the routine: Step offset"):
        Flow.deserialize(doc)


# -- job documents hold data -----------------------------------------------------------


def test_job_documents_refuse_to_write_functions_and_classes() -> None:
    for value in (cr.double, cr.Settings):
        job = JobState("f")
        job.update_shared_data("f", value)
        with pytest.raises(SerializationError, match=r"shared_data\['f'\].*not supported"):
            job.serialize()


def test_job_documents_refuse_references() -> None:
    doc = JobState("f").serialize()
    doc["shared_data"] = {"f": ref(f"{CR}:double")}
    with pytest.raises(SerializationError, match=r"shared_data\['f'\] is a reference to code"):
        JobState.deserialize(doc)


def test_job_documents_keep_ref_keys_as_data() -> None:
    job = JobState("f")
    job.update_shared_data("schema", {"$ref": f"{CR}:double"})
    loaded = JobState.deserialize(json.loads(json.dumps(job.serialize())))
    assert loaded.get_shared_data("schema") == {"$ref": f"{CR}:double"}


def test_a_routine_class_in_config_does_not_count_as_the_routine() -> None:
    loaded = reloaded(step_with(kind=cr.Apply)).routines["step"]
    assert isinstance(loaded, fx.Step)
    assert loaded.get_config("kind") is cr.Apply
    assert issubclass(loaded.get_config("kind"), Routine)


def test_the_documented_deny_list_is_the_deny_list() -> None:
    text = (Path(_ROOT) / "docs" / "serialization.md").read_text(encoding="utf-8")
    table = text.split("**The deny-list.**")[1].split("The one exception")[0]
    rows = [line.split("|")[2] for line in table.splitlines() if line.startswith("| ")]
    documented = {name for row in rows for name in re.findall(r"`([^`]+)`", row)}
    assert documented == DENIED_MODULES
