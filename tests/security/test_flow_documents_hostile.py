"""Hostile flow documents: each is refused with a SerializationError, and runs nothing.

Two kinds of proof that nothing ran:

* an audit hook (installed once, recording only while a test asks, and only
  on that thread) sees no import, exec, compile, process, file or socket
  event while the document is read, and ``sys.modules`` gains no module;
* a canary module (``tests.fixtures.canary``) records its import and the use
  of its contents. The rules allow importing a module the document names as
  a routine class, merge function, condition, exception class or config
  reference, so the canary tests check what the rules promise: a module the
  document does not name in one of those places is never imported, a
  malformed document imports nothing, and resolving a name never calls or
  creates anything.
"""

from __future__ import annotations

import copy
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import config_refs as cr  # noqa: E402
from tests.fixtures import flags  # noqa: E402
from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import Flow, JobState, SerializationError  # noqa: E402
from routilux._expression._parse import PARSE_FILENAME  # noqa: E402
from routilux.builtin_routines import ConditionalRouter  # noqa: E402

Doc = dict[str, Any]
FX = "tests.fixtures.flow_routines"
CR = "tests.fixtures.config_refs"
CANARY = "tests.fixtures.canary"
MISSING_MODULE = "routilux_hostile_no_such_module"

# --- audit hook gate ------------------------------------------------------

_GATE: dict[str, Any] = {"thread": None}
_EVENTS: list[tuple[str, tuple[Any, ...]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _GATE["thread"] == threading.get_ident():
        _EVENTS.append((event, args))


sys.addaudithook(_audit)

_FORBIDDEN = (
    *("import", "exec", "compile", "open", "marshal.", "pickle.", "code.__new__"),
    *("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.kill"),
    *("subprocess.", "ctypes.", "socket.", "webbrowser.", "builtins.input", "shutil."),
)


class Recording:
    """Records audit events and new modules while a document is read."""

    def __init__(self, allowed_files: Path | None = None) -> None:
        self.allowed_files = allowed_files
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.new_modules: set[str] = set()

    def __enter__(self) -> Recording:
        self._modules = set(sys.modules)
        _EVENTS.clear()
        _GATE["thread"] = threading.get_ident()
        return self

    def __exit__(self, *exc_info: object) -> None:
        _GATE["thread"] = None
        self.events = list(_EVENTS)
        self.new_modules = set(sys.modules) - self._modules

    def forbidden(self) -> list[str]:
        """The forbidden events seen, except the expression parser's and reads of test files."""
        return [event for event, args in self.events if self._is_forbidden(event, args)]

    def _is_forbidden(self, event: str, args: tuple[Any, ...]) -> bool:
        if event == "compile" and args[-1] == PARSE_FILENAME:
            return False  # ast.parse of a router expression: a tree, not code.
        if (
            event == "open"
            and self.allowed_files
            and str(args[0]).startswith(str(self.allowed_files))
        ):
            return False  # Flow.load reading the test's own file.
        return event.startswith(_FORBIDDEN)


def test_the_gate_sees_imports_and_process_events() -> None:
    with Recording() as recording:
        compile("1", "<probe>", "eval")
        os.system  # noqa: B018 - looking up is not calling: no event
    assert recording.forbidden() == ["compile"]


# --- documents ---------------------------------------------------------------


def base_doc() -> Doc:
    flow = Flow(flow_id="hostile")
    flow.add_routine(fx.Step(), "step")
    flow.add_routine(fx.Gather(), "gather")
    flow.connect("step", "out", "gather", "input")
    return flow.serialize()


def router_doc() -> Doc:
    flow = Flow(flow_id="hostile")
    router = ConditionalRouter()
    router.set_config(routes=[("even", fx.is_even)])
    router.define_event("even")
    flow.add_routine(router, "router")
    return flow.serialize()


def set_class(ref: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["routines"]["step"]["class"] = ref

    return change


def new_slot(handler: str, merge: str = "override") -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        slot = {"name": "extra", "handler": handler, "merge_strategy": merge}
        doc["routines"]["step"]["slots"].append(slot)

    return change


def set_at(path: tuple[Any, ...], value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"k": value}
    return value


def retry_on(*paths: str) -> Callable[[Doc], None]:
    policy = {
        "strategy": "retry",
        "max_retries": 1,
        "retry_delay": 0,
        "retry_backoff": 1,
        "retryable_exceptions": list(paths),
        "is_critical": False,
    }
    return set_at(("routines", "step", "error_handler"), policy)


def config_ref(path: Any) -> Callable[[Doc], None]:
    """Put a reference to ``path`` deep in the step's config."""
    return set_at((*_CONFIG, "steps"), [1, {"f": [{"$t": "ref", "v": path}]}])


_SLOT0 = ("routines", "step", "slots", 0)
_HANDLER = (*_SLOT0, "handler")
_CONFIG = ("routines", "step", "config")
_NOT_ROUTINE = "not a Routine subclass"
_NOT_FUNCTION = "not a module-level function"
_BAD_PATH = "must be an import path"
_METHOD = "must be the name of a method"
_BIG = 1_000_001
_DENIED = "deny-list"

# (id, change to the base document, regex the message must match)
HOSTILE: list[tuple[str, Callable[[Doc], None], str]] = [
    ("os:system", set_class("os:system"), f"builtin_function_or_method, {_NOT_ROUTINE}"),
    ("builtins:eval", set_class("builtins:eval"), f"builtin_function_or_method, {_NOT_ROUTINE}"),
    ("builtins:exec", set_class("builtins:exec"), _NOT_ROUTINE),
    ("subprocess:Popen", set_class("subprocess:Popen"), "subprocess"),
    ("flow class", set_class("routilux._flow:Flow"), f"the class Flow, {_NOT_ROUTINE}"),
    ("non-routine class", set_class(f"{FX}:NotARoutine"), f"class NotARoutine, {_NOT_ROUTINE}"),
    ("library function", set_class("routilux._serde.files:write_json_atomic"), _NOT_ROUTINE),
    ("os:__builtins__", set_class("os:__builtins__"), _BAD_PATH),
    ("x:__class__", set_class("x:__class__"), _BAD_PATH),
    ("dunder walk", set_class("builtins:object.__subclasses__"), _BAD_PATH),
    ("__main__", set_class("__main__:Step"), "of the script that wrote the document"),
    ("dunder method of a routine", set_class(f"{FX}:Step.__init__"), _BAD_PATH),
    ("relative path", set_class(".flow_routines:Step"), _BAD_PATH),
    ("empty path", set_class(""), _BAD_PATH),
    ("dot-dot segment", set_class("tests..fixtures:Step"), _BAD_PATH),
    ("space", set_class("os :system"), _BAD_PATH),
    ("slash", set_class("tests/fixtures/flow_routines:Step"), _BAD_PATH),
    ("two colons", set_class("os:path:join"), _BAD_PATH),
    ("non-ascii", set_class("os:sỳstem"), _BAD_PATH),
    ("over-long path", set_class("a" * 600 + ":X"), _BAD_PATH),
    ("path not a string", set_class(["os", "system"]), _BAD_PATH),
    ("missing module", set_class(f"{MISSING_MODULE}:Thing"), "cannot be imported: No module"),
    ("unregistered name", set_class("Greeter"), "which is not registered"),
    ("huge string", set_at((*_CONFIG, "x"), "x" * _BIG), f"{_BIG} characters"),
    ("huge key", set_at((*_CONFIG, "x" * _BIG), 1), f"has a key of {_BIG}"),
    ("deep nesting", set_at((*_CONFIG, "x"), nested(10_000)), "nests deeper than"),
    ("wrong schema", set_at(("schema",), "routilux.job_state"), "Not a flow document"),
    ("wrong version", set_at(("version",), 99), "version 99 is not supported"),
    ("list for routines", set_at(("routines",), []), "routines must be an object, not a list"),
    ("list for a routine", set_at(("routines", "step"), ["x"]), r"\['step'\] must be an object"),
    ("list for a slot", set_at(_SLOT0, ["process"]), r"slots\[0\] must be an object"),
    ("python object", set_at((*_CONFIG, "x"), os.system), "not a JSON value"),
    ("pickle tag", set_at(_CONFIG, {"$t": "pickle", "v": "gASV"}), "unknown value tag"),
    ("handler __init__", set_at(_HANDLER, "__init__"), _METHOD),
    ("handler __class__", set_at(_HANDLER, "__class__"), _METHOD),
    ("handler _private (new slot)", new_slot("_hidden"), "starts with '_'"),
    ("handler _private (init slot)", set_at(_HANDLER, "_hidden"), "does not match the slot"),
    ("handler not a method", new_slot("total"), "is not a method defined by Step"),
    ("handler of Routine", new_slot("set_config"), "is defined by Routine itself"),
    ("handler attribute path", new_slot("process.__func__"), _METHOD),
    ("merge os:system", new_slot("other", "os:system"), _NOT_FUNCTION),
    ("merge builtins:eval", new_slot("other", "builtins:eval"), _NOT_FUNCTION),
    ("merge a class", new_slot("other", f"{FX}:Step"), f"the class Step, {_NOT_FUNCTION}"),
    ("exception os:system", retry_on("os:system"), "not an exception class"),
    ("exception a plain class", retry_on("builtins:int"), "class int, not an exception class"),
    ("exception dunder", retry_on("builtins:__import__"), _BAD_PATH),
    ("unknown routine", set_at(("connections", 0, "target"), "ghost"), "the routine 'ghost'"),
    ("connection to a method", set_at(("connections", 0, "slot"), "process"), "no slot 'process'"),
    # Functions and classes in config: {"$t": "ref", "v": path}.
    ("ref os:system", config_ref("os:system"), f"module 'os'; .*{_DENIED}"),
    ("ref subprocess:Popen", config_ref("subprocess:Popen"), f"module 'subprocess'; .*{_DENIED}"),
    ("ref builtins:eval", config_ref("builtins:eval"), f"module 'builtins'; .*{_DENIED}"),
    ("ref builtins:exec", config_ref("builtins:exec"), f"module 'builtins'; .*{_DENIED}"),
    ("ref builtins:__import__", config_ref("builtins:__import__"), _BAD_PATH),
    ("ref importlib:import_module", config_ref("importlib:import_module"), _DENIED),
    ("ref importlib.util", config_ref("importlib.util:spec_from_file_location"), _DENIED),
    ("ref os.path:join", config_ref("os.path:join"), _DENIED),
    ("ref shutil:rmtree", config_ref("shutil:rmtree"), _DENIED),
    ("ref socket:socket", config_ref("socket:socket"), _DENIED),
    ("ref sys:exit", config_ref("sys:exit"), _DENIED),
    ("ref builtins:object", config_ref("builtins:object"), _DENIED),
    ("ref re-exported os.system", config_ref(f"{CR}:run_command"), _DENIED),
    ("ref re-exported Popen", config_ref(f"{CR}:Popen"), f"module 'subprocess'; .*{_DENIED}"),
    ("ref re-exported rmtree", config_ref(f"{CR}:rmtree"), f"module 'shutil'; .*{_DENIED}"),
    ("ref routilux import_object", config_ref("routilux._serde._refs:import_object"), _DENIED),
    ("ref dunder attribute", config_ref("builtins:object.__subclasses__"), _BAD_PATH),
    ("ref dunder of a class", config_ref(f"{CR}:Settings.__init__"), _BAD_PATH),
    ("ref __main__", config_ref("__main__:main"), "of the script that wrote the document"),
    ("ref __main__ dunder", config_ref("__main__:__builtins__"), _BAD_PATH),
    ("ref relative", config_ref(".config_refs:double"), _BAD_PATH),
    ("ref not a string", config_ref(["os", "system"]), _BAD_PATH),
    ("ref missing attribute", config_ref(f"{CR}:no_such_thing"), "defines no 'no_such_thing'"),
    ("ref missing module", config_ref(f"{MISSING_MODULE}:f"), "cannot be imported: No module"),
    ("ref stdlib not imported", config_ref("antigravity:fly"), "which is not imported"),
    ("ref callable object", config_ref(f"{CR}:WATCHED"), "not a module-level function or a cl"),
    ("ref module-level lambda", config_ref(f"{CR}:halve"), "which is a lambda"),
    ("ref static method", config_ref(f"{CR}:Settings.static"), "which is a staticmethod"),
    ("ref method", config_ref(f"{FX}:Step.process"), "defined in a class"),
    ("ref extra keys", set_at((*_CONFIG, "f"), {"$t": "ref", "v": "os:system", "x": 1}), "keys"),
    (
        "ref as a config key",
        set_at(_CONFIG, {"$t": "dict", "v": [[{"$t": "ref", "v": f"{CR}:double"}, 1]]}),
        "must be an object with string keys",
    ),
]


def _check_refused(doc: Doc, message: str) -> None:
    flags.EVENTS.clear()
    with Recording() as recording, pytest.raises(SerializationError, match=message):
        Flow.deserialize(doc)
    assert recording.forbidden() == []
    assert recording.new_modules == set()
    assert flags.EVENTS == []


@pytest.mark.parametrize(
    ("change", "message"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_hostile_document_is_refused_and_runs_nothing(
    change: Callable[[Doc], None], message: str
) -> None:
    doc = base_doc()
    change(doc)
    _check_refused(doc, message)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("os:system", f"builtin_function_or_method, {_NOT_FUNCTION}"),
        ("builtins:exec", _NOT_FUNCTION),
        ("routilux._flow:Flow", f"the class Flow, {_NOT_FUNCTION}"),
        ("os:__builtins__", _BAD_PATH),
    ],
)
def test_hostile_router_condition_is_refused_and_runs_nothing(path: str, message: str) -> None:
    doc = router_doc()
    doc["routines"]["router"]["routes"][0]["function"] = path
    _check_refused(doc, message)


def test_hostile_router_expression_is_refused_and_runs_nothing() -> None:
    doc = router_doc()
    doc["routines"]["router"]["routes"][0] = {
        "name": "even",
        "expression": "__import__('os').system('touch /tmp/routilux-hostile')",
    }
    _check_refused(doc, r"config is refused by the routine: .*route 'even'")


def test_hostile_router_fields_reference_is_refused_and_runs_nothing() -> None:
    doc = router_doc()
    doc["routines"]["router"]["routes"][0] = {
        "name": "even",
        "fields": {"x": {"$t": "ref", "v": "os:system"}},
    }
    _check_refused(doc, r"fields\['x'\] is a reference to code")


def test_resolving_a_config_reference_touches_nothing_it_names() -> None:
    """A class with a recording metaclass, and a recording object: nothing is called or read."""
    flags.EVENTS.clear()
    doc = base_doc()
    doc["routines"]["step"]["config"]["model"] = {"$t": "ref", "v": f"{CR}:Tripwire"}
    with Recording() as recording:
        flow = Flow.deserialize(doc)
    assert recording.forbidden() == []
    assert flags.EVENTS == []
    assert flow.routines["step"].get_config("model") is cr.Tripwire
    doc["routines"]["step"]["config"]["model"] = {"$t": "ref", "v": f"{CR}:WATCHED"}
    _check_refused(doc, "which is a _Watched, not a module-level function or a class")


def test_the_hostile_list_is_long_enough() -> None:
    assert len(HOSTILE) >= 25


# --- job documents hold data ----------------------------------------------------


def _job_doc() -> Doc:
    doc = JobState("hostile").serialize()
    record = {"routine_id": "step", "event_name": "out", "data": {"value": 1}, "timestamp": 0.0}
    doc["execution_history"] = [record]
    return doc


_REFERENCE = {"$t": "ref", "v": "os:system"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("shared_data",), r"shared_data\['x'\] is a reference to code \('os:system'\)"),
        (("routine_states",), r"routine_states\['x'\] is a reference to code"),
        (("execution_history", 0, "data"), r"execution_history\[0\]\.data\['x'\] is a ref"),
    ],
    ids=["shared_data", "routine_states", "execution_history"],
)
def test_reference_in_a_job_document_is_refused_and_runs_nothing(
    path: tuple[Any, ...], message: str
) -> None:
    for payload in ("os:system", "builtins:eval", f"{CANARY}:condition"):
        doc = _job_doc()
        set_at((*path, "x"), {**_REFERENCE, "v": payload})(doc)
        flags.EVENTS.clear()
        with Recording() as recording, pytest.raises(SerializationError, match="reference"):
            JobState.deserialize(doc)
        assert recording.forbidden() == []
        assert recording.new_modules == set()
        assert flags.EVENTS == []
    doc = _job_doc()
    set_at((*path, "x"), _REFERENCE)(doc)
    with pytest.raises(SerializationError, match=message):
        JobState.deserialize(doc)


def test_ref_keys_in_a_job_document_are_data() -> None:
    doc = _job_doc()
    doc["shared_data"] = {"x": {"$ref": "os:system"}}
    with Recording() as recording:
        job = JobState.deserialize(doc)
    assert recording.forbidden() == []
    assert job.get_shared_data("x") == {"$ref": "os:system"}


# --- JSON text -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"schema": "routilux.flow", "version": 1, "routines": {"a": {',
            "not a valid JSON document",
        ),
        ('{"routines": {"a": {}, "a": {"class": "os:system"}}}', "the key 'a' twice"),
        ('{"version": Infinity}', "not a valid JSON document"),
        ("\ufeff{}", "not a valid JSON document"),
    ],
    ids=["truncated", "duplicate routine ids", "infinity", "byte order mark"],
)
def test_hostile_json_text_is_refused_and_runs_nothing(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "flow.json"
    path.write_text(text, encoding="utf-8")
    recording = Recording(allowed_files=tmp_path)
    with recording, pytest.raises(SerializationError, match=message):
        Flow.load(path)
    assert recording.forbidden() == []
    assert recording.new_modules == set()


def test_truncations_of_a_real_document_are_all_refused(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    Flow.deserialize(base_doc()).save(path)
    text = path.read_text(encoding="utf-8")
    for end in range(0, len(text) - 1, 7):
        path.write_text(text[:end], encoding="utf-8")
        with pytest.raises(SerializationError):
            Flow.load(path)


# --- the canary ------------------------------------------------------------------


@pytest.fixture
def canary() -> Iterator[None]:
    """The canary is not imported at the start and end of the test; its record is empty."""
    sys.modules.pop(CANARY, None)
    flags.EVENTS.clear()
    yield
    sys.modules.pop(CANARY, None)
    flags.EVENTS.clear()


@pytest.mark.usefixtures("canary")
def test_canary_named_as_a_routine_class_is_never_instantiated() -> None:
    doc = base_doc()
    doc["routines"]["step"]["class"] = f"{CANARY}:Thing"
    with pytest.raises(SerializationError, match=f"the class Thing, {_NOT_ROUTINE}"):
        Flow.deserialize(doc)
    assert flags.EVENTS == ["imported"]  # The rules allow the import; nothing else ran.


@pytest.mark.usefixtures("canary")
def test_canary_named_only_as_data_is_never_imported() -> None:
    name = f"{CANARY}:Thing"
    doc = base_doc()
    doc["flow_id"] = name
    doc["routines"]["step"]["config"]["plugin"] = name
    doc["routines"]["step"]["events"].append({"name": name, "params": [name]})
    doc["routines"][name] = copy.deepcopy(doc["routines"]["gather"])
    doc["connections"][0]["param_mapping"] = {name: "value"}
    flow = Flow.deserialize(doc)
    assert flow.routines["step"].get_config("plugin") == name
    assert CANARY not in sys.modules
    assert flags.EVENTS == []


@pytest.mark.usefixtures("canary")
def test_malformed_document_naming_the_canary_imports_nothing() -> None:
    doc = router_doc()
    doc["routines"]["router"]["routes"][0]["function"] = f"{CANARY}:condition"
    doc["connections"] = [
        {"source": "router", "event": "even", "target": "ghost", "slot": "x", "param_mapping": None}
    ]
    with pytest.raises(SerializationError, match="names the routine 'ghost'"):
        Flow.deserialize(doc)
    assert CANARY not in sys.modules
    assert flags.EVENTS == []


@pytest.mark.usefixtures("canary")
def test_bad_class_stops_resolution_before_the_canary_function() -> None:
    doc = base_doc()
    doc["routines"]["step"]["slots"].append(
        {"name": "extra", "handler": "other", "merge_strategy": f"{CANARY}:condition"}
    )
    doc["routines"]["gather"]["class"] = "os:system"
    with pytest.raises(SerializationError, match=_NOT_ROUTINE):
        Flow.deserialize(doc)
    assert CANARY not in sys.modules


@pytest.mark.usefixtures("canary")
def test_canary_named_in_config_is_imported_but_nothing_in_it_runs() -> None:
    doc = base_doc()
    doc["routines"]["step"]["config"]["plugin"] = [
        {"$t": "ref", "v": f"{CANARY}:Thing"},
        {"$t": "ref", "v": f"{CANARY}:condition"},
    ]
    flow = Flow.deserialize(doc)
    assert flags.EVENTS == ["imported"]  # Neither created nor called.
    canary = sys.modules[CANARY]
    thing, condition = flow.routines["step"].get_config("plugin")
    assert (thing, condition) == (canary.Thing, canary.condition)
    assert flow.serialize() == doc
    assert flags.EVENTS == ["imported"]


@pytest.mark.usefixtures("canary")
def test_malformed_document_naming_the_canary_in_config_imports_nothing() -> None:
    doc = base_doc()
    doc["routines"]["step"]["config"]["plugin"] = {"$t": "ref", "v": f"{CANARY}:Thing"}
    doc["routines"]["gather"]["config"]["bad"] = {"$t": "ref", "v": "os:__builtins__"}
    with pytest.raises(SerializationError, match=_BAD_PATH):
        Flow.deserialize(doc)
    assert CANARY not in sys.modules
    assert flags.EVENTS == []


@pytest.mark.usefixtures("canary")
def test_bad_class_stops_resolution_before_a_canary_config_reference() -> None:
    doc = base_doc()
    doc["routines"]["step"]["config"]["plugin"] = {"$t": "ref", "v": f"{CANARY}:condition"}
    doc["routines"]["gather"]["class"] = "os:system"
    with pytest.raises(SerializationError, match=_NOT_ROUTINE):
        Flow.deserialize(doc)
    assert CANARY not in sys.modules


@pytest.mark.usefixtures("canary")
def test_resolving_a_canary_condition_does_not_call_it() -> None:
    doc = router_doc()
    doc["routines"]["router"]["routes"][0]["function"] = f"{CANARY}:condition"
    trigger = {"name": "trigger", "handler": "route", "merge_strategy": "override"}
    doc["routines"]["router"]["slots"].append(trigger)
    flow = Flow.deserialize(doc)
    assert flags.EVENTS == ["imported"]
    flow.execute("router", {"data": 1})
    assert flags.EVENTS == ["imported", "condition called"]
