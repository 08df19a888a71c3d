"""Flow documents: malformed documents are refused with the path of the problem."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import Flow, SerializationError  # noqa: E402
from routilux._serde._doc_reader import MAX_STRING_LENGTH  # noqa: E402
from routilux._serde._flow_spec import MAX_ROUTINES  # noqa: E402
from routilux.builtin_routines import ConditionalRouter  # noqa: E402

Doc = dict[str, Any]


def base_doc() -> Doc:
    flow = Flow(flow_id="f")
    router = ConditionalRouter()
    router.set_config(routes=[("big", "data > 1")])
    router.define_event("big")
    flow.add_routine(router, "router")
    flow.add_routine(fx.Step(), "step")
    flow.connect("router", "big", "step", "input")
    return flow.serialize()


def router(doc: Doc) -> Doc:
    routine: Doc = doc["routines"]["router"]
    return routine


def setting(path: Callable[[Doc], Doc], key: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        path(doc)[key] = value

    return change


def dropping(path: Callable[[Doc], Doc], key: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        del path(doc)[key]

    return change


def top(doc: Doc) -> Doc:
    return doc


def slot0(doc: Doc) -> Doc:
    slot: Doc = router(doc)["slots"][0]
    return slot


def policy(doc: Doc) -> Doc:
    doc["error_handler"] = {
        "strategy": "stop",
        "max_retries": 1,
        "retry_delay": 1,
        "retry_backoff": 1,
        "retryable_exceptions": ["builtins:Exception"],
        "is_critical": False,
    }
    handler: Doc = doc["error_handler"]
    return handler


CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("no schema", dropping(top, "schema"), r"Not a flow document: its schema is None"),
    ("job schema", setting(top, "schema", "routilux.job_state"), r"schema is 'routilux.job_state'"),
    (
        "version 3",
        setting(top, "version", 3),
        r"version 3 is not supported; .* reads versions 1 and 2",
    ),
    ("version true", setting(top, "version", True), r"version True is not supported"),
    ("version text", setting(top, "version", "1"), r"version '1' is not supported"),
    ("missing routines", dropping(top, "routines"), r"the document has no 'routines' field"),
    ("unknown field", setting(top, "clock", "fake"), r"the document has the unknown field 'clock'"),
    ("flow_id int", setting(top, "flow_id", 3), r"flow_id must be a string, not an integer"),
    (
        "workers bool",
        setting(top, "max_workers", True),
        r"max_workers must be an integer, not a boolean",
    ),
    (
        "timeout text",
        setting(top, "execution_timeout", "1"),
        r"execution_timeout must be a number or null, not a string",
    ),
    ("routines list", setting(top, "routines", []), r"routines must be an object, not a list"),
    (
        "connections object",
        setting(top, "connections", {}),
        r"connections must be a list, not an object",
    ),
    (
        "routine list",
        setting(lambda d: d["routines"], "router", []),
        r"routines\['router'\] must be an object, not a list",
    ),
    (
        "empty id",
        setting(lambda d: d["routines"], "", {}),
        r"routines\[''\] has an empty routine id",
    ),
    ("no class", dropping(router, "class"), r"routines\['router'\] has no 'class' field"),
    (
        "class int",
        setting(router, "class", 1),
        r"routines\['router'\]\.class must be an import path",
    ),
    (
        "config list",
        setting(router, "config", []),
        r"routines\['router'\]\.config must be an object, not a list",
    ),
    (
        "config bad tag",
        setting(router, "config", {"$t": "pickle", "v": ""}),
        r"routines\['router'\]\.config has the unknown value tag 'pickle'",
    ),
    (
        "config tagged keys",
        setting(router, "config", {"$t": "dict", "v": [[1, 2]]}),
        r"config must be an object with string keys",
    ),
    ("slots object", setting(router, "slots", {}), r"routines\['router'\]\.slots must be a list"),
    (
        "slot list",
        setting(router, "slots", [[]]),
        r"routines\['router'\]\.slots\[0\] must be an object",
    ),
    (
        "handler int",
        setting(slot0, "handler", 5),
        r"routines\['router'\]\.slots\[0\]\.handler must be a string or null, not an integer",
    ),
    (
        "handler dunder",
        setting(slot0, "handler", "__init__"),
        r"routines\['router'\]\.slots\[0\]\.handler must be the name of a method",
    ),
    (
        "handler dotted",
        setting(slot0, "handler", "a.b"),
        r"slots\[0\]\.handler must be the name of a method",
    ),
    ("empty slot name", setting(slot0, "name", ""), r"slots\[0\]\.name must not be empty"),
    (
        "merge unknown",
        setting(slot0, "merge_strategy", "replace"),
        r"merge_strategy must be 'override', 'append' or the import path",
    ),
    (
        "merge null",
        setting(slot0, "merge_strategy", None),
        r"merge_strategy must be 'override', 'append'",
    ),
    (
        "merge dunder path",
        setting(slot0, "merge_strategy", "os:__import__"),
        r"merge_strategy must be an import path",
    ),
    (
        "slot twice",
        setting(
            router,
            "slots",
            [{"name": "input", "handler": "route", "merge_strategy": "override"}] * 2,
        ),
        r"routines\['router'\]\.slots\[1\]\.name repeats the name 'input'",
    ),
    (
        "event twice",
        setting(router, "events", [{"name": "big", "params": []}] * 2),
        r"routines\['router'\]\.events\[1\]\.name repeats the name 'big'",
    ),
    (
        "event params",
        setting(router, "events", [{"name": "big", "params": [1]}]),
        r"events\[0\]\.params\[0\] must be a string",
    ),
    (
        "event no params",
        setting(router, "events", [{"name": "big"}]),
        r"events\[0\] has no 'params' field",
    ),
    (
        "max_concurrency float",
        setting(router, "max_concurrency", 1.5),
        r"max_concurrency must be an integer or null",
    ),
    (
        "ray_address number",
        setting(top, "ray_address", 5),
        r"ray_address must be a string or null, not an integer",
    ),
    (
        "ray_address empty",
        setting(top, "ray_address", ""),
        r"setting ray_address is refused: Flow ray_address must be a non-empty string",
    ),
    (
        "ray_actor string",
        setting(router, "ray_actor", "yes"),
        r"routines\['router'\]\.ray_actor must be a boolean",
    ),
    (
        "routes object",
        setting(router, "routes", {}),
        r"routines\['router'\]\.routes must be a list",
    ),
    (
        "route two kinds",
        setting(router, "routes", [{"name": "a", "expression": "1", "fields": {}}]),
        r"routes\[0\] must have exactly one of",
    ),
    (
        "route no kind",
        setting(router, "routes", [{"name": "a"}]),
        r"routes\[0\] must have exactly one of",
    ),
    (
        "route fn path",
        setting(router, "routes", [{"name": "a", "function": "lambda: 1"}]),
        r"routes\[0\]\.function must be an import path",
    ),
    (
        "routes twice",
        setting(lambda d: router(d)["config"], "routes", []),
        r"has routes both in its 'routes' field and in its config",
    ),
    (
        "policy strategy",
        setting(policy, "strategy", "panic"),
        r"error_handler\.strategy must be one of 'stop', 'continue', 'skip', 'retry'",
    ),
    (
        "policy exceptions",
        setting(policy, "retryable_exceptions", "builtins:Exception"),
        r"error_handler\.retryable_exceptions must be a list",
    ),
    (
        "policy exception path",
        setting(policy, "retryable_exceptions", ["Exception"]),
        r"retryable_exceptions\[0\] must be an import path",
    ),
    (
        "policy critical",
        setting(policy, "is_critical", 0),
        r"error_handler\.is_critical must be a boolean",
    ),
    (
        "connection unknown source",
        setting(lambda d: d["connections"][0], "source", "ghost"),
        r"connections\[0\]\.source names the routine 'ghost', which the document does not "
        r"define; routines: 'router', 'step'",
    ),
    (
        "connection mapping",
        setting(lambda d: d["connections"][0], "param_mapping", {"a": 1}),
        r"connections\[0\]\.param_mapping\['a'\] must be a string",
    ),
    (
        "connection missing slot",
        dropping(lambda d: d["connections"][0], "slot"),
        r"connections\[0\] has no 'slot' field",
    ),
    (
        "tuple in document",
        setting(slot0, "name", ("input",)),
        r"routines\['router'\]\.slots\[0\]\.name holds a tuple, which is not a JSON value",
    ),
    (
        "nan in document",
        setting(top, "execution_timeout", float("nan")),
        r"execution_timeout is nan, which JSON cannot hold",
    ),
    (
        "non-string key",
        setting(router, "config", {1: "x"}),
        r"routines\['router'\]\.config has the key 1",
    ),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_document_is_refused_with_its_path(
    change: Callable[[Doc], None], message: str
) -> None:
    doc = base_doc()
    change(doc)
    with pytest.raises(SerializationError, match=message) as caught:
        Flow.deserialize(doc)
    assert str(caught.value).endswith(".")


@pytest.mark.parametrize("document", [None, [], "routilux.flow", 1, b"{}"])
def test_document_that_is_not_an_object_is_refused(document: Any) -> None:
    with pytest.raises(SerializationError, match="A flow document must be an object"):
        Flow.deserialize(document)


def test_too_many_routines_are_refused() -> None:
    doc = base_doc()
    entry = doc["routines"]["step"]
    doc["routines"] = {f"r{i}": entry for i in range(MAX_ROUTINES + 1)}
    with pytest.raises(
        SerializationError, match=rf"routines has {MAX_ROUTINES + 1} entries; at most"
    ):
        Flow.deserialize(doc)


def test_huge_string_is_refused() -> None:
    doc = base_doc()
    doc["routines"]["step"]["config"]["text"] = "x" * (MAX_STRING_LENGTH + 1)
    with pytest.raises(
        SerializationError,
        match=r"routines\['step'\]\.config\['text'\] is a string of 1000001 characters",
    ):
        Flow.deserialize(doc)


def test_long_string_within_the_limit_is_accepted() -> None:
    doc = base_doc()
    doc["routines"]["step"]["config"]["text"] = "x" * 100_000
    assert Flow.deserialize(doc).routines["step"].get_config("text") == "x" * 100_000


def test_deep_nesting_is_refused() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    doc = base_doc()
    doc["routines"]["step"]["config"]["deep"] = deep
    with pytest.raises(SerializationError, match="nests deeper than"):
        Flow.deserialize(doc)


def test_the_brief_example_path_is_named() -> None:
    doc = base_doc()
    doc["routines"]["router"]["slots"][0]["handler"] = ["route"]
    with pytest.raises(SerializationError) as caught:
        Flow.deserialize(doc)
    assert str(caught.value) == (
        "Flow document: routines['router'].slots[0].handler must be a string or null, not a list."
    )


def test_messages_stay_readable_with_a_huge_routine_id() -> None:
    doc = base_doc()
    doc["routines"]["x" * 500_000] = {**doc["routines"]["step"], "class": 1}
    with pytest.raises(SerializationError) as caught:
        Flow.deserialize(doc)
    assert len(str(caught.value)) < 400
    assert "xxx...'].class must be an import path" in str(caught.value)
