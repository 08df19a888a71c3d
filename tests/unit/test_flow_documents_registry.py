"""Flow documents: resolving routine classes by registered name, and by import path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import flow_routines as fx  # noqa: E402

import routilux  # noqa: E402
from routilux import (  # noqa: E402
    DefinitionError,
    Flow,
    Routine,
    SerializationError,
    register_routine,
    unregister_routine,
)


def script_class(name: str = "Greeter") -> type[Routine]:
    """A Routine subclass as a script would define it: in ``__main__``."""

    def __init__(self: Routine) -> None:
        Routine.__init__(self)
        self.define_slot("trigger", handler=self.greet)  # type: ignore[attr-defined]
        self.define_event("out", ["text"])

    def greet(self: Routine, name: str = "world") -> None:
        self.emit("out", text=f"hello {name}")

    return type(name, (Routine,), {"__module__": "__main__", "__init__": __init__, "greet": greet})


@pytest.fixture
def greeter() -> Iterator[type[Routine]]:
    cls = script_class()
    yield cls
    unregister_routine(cls)


def flow_with(cls: type[Routine]) -> Flow:
    flow = Flow(flow_id="script")
    flow.add_routine(cls(), "greeter")
    return flow


def test_registered_main_class_is_written_by_its_name(greeter: type[Routine]) -> None:
    register_routine(greeter)
    assert flow_with(greeter).serialize()["routines"]["greeter"]["class"] == "Greeter"


def test_registered_main_class_round_trips_and_runs(greeter: type[Routine]) -> None:
    register_routine(greeter)
    doc = flow_with(greeter).serialize()
    rebuilt = Flow.deserialize(doc)
    assert type(rebuilt.routines["greeter"]) is greeter
    assert rebuilt.serialize() == doc
    job = rebuilt.execute("greeter", {"name": "doc"})
    assert [r.data for r in job.execution_history] == [{"text": "hello doc"}]


def test_register_routine_takes_a_name_and_works_as_a_decorator(greeter: type[Routine]) -> None:
    assert register_routine(greeter, name="app.Greeter") is greeter
    assert flow_with(greeter).serialize()["routines"]["greeter"]["class"] == "app.Greeter"


def test_importable_class_registers_under_its_import_path() -> None:
    register_routine(fx.Appender)
    try:
        doc = flow_with(fx.Appender).serialize()
        assert doc["routines"]["greeter"]["class"] == "tests.fixtures.flow_routines:Appender"
    finally:
        assert unregister_routine("tests.fixtures.flow_routines:Appender")


def test_unregistered_name_is_refused_with_the_fix(greeter: type[Routine]) -> None:
    register_routine(greeter)
    doc = flow_with(greeter).serialize()
    unregister_routine(greeter)
    with pytest.raises(SerializationError) as caught:
        Flow.deserialize(doc)
    assert (
        "routines['greeter'].class names the routine class 'Greeter', which is not registered"
        in str(caught.value)
    )
    assert "register_routine" in str(caught.value)


def test_registry_argument_is_used_both_ways(greeter: type[Routine]) -> None:
    registry = {"my.Greeter": greeter}
    doc = flow_with(greeter).serialize(registry=registry)
    assert doc["routines"]["greeter"]["class"] == "my.Greeter"
    assert type(Flow.deserialize(doc, registry=registry).routines["greeter"]) is greeter
    assert type(Flow().deserialize(doc, registry=registry).routines["greeter"]) is greeter


def test_registry_argument_wins_over_the_global_registry(greeter: type[Routine]) -> None:
    register_routine(greeter, name="Shared")
    other = script_class("Other")
    doc = flow_with(greeter).serialize()
    assert type(Flow.deserialize(doc, registry={"Shared": other}).routines["greeter"]) is other


def test_registry_argument_is_checked_to_hold_routine_classes() -> None:
    doc = flow_with(fx.Step).serialize(registry={"Step": fx.Step})
    bad: dict[str, Any] = {"Step": fx.NotARoutine}
    with pytest.raises(SerializationError, match="the class NotARoutine, not a Routine subclass"):
        Flow.deserialize(doc, registry=bad)


def test_save_and_load_accept_a_registry(tmp_path: Path, greeter: type[Routine]) -> None:
    path = tmp_path / "flow.json"
    flow_with(greeter).save(path, registry={"G": greeter})
    assert type(Flow.load(path, registry={"G": greeter}).routines["greeter"]) is greeter


def test_a_name_registers_one_class(greeter: type[Routine]) -> None:
    register_routine(greeter)
    register_routine(greeter)  # the same pair again: nothing happens
    with pytest.raises(DefinitionError, match="'Greeter' is registered already, for Greeter"):
        register_routine(script_class())


def test_a_class_registers_under_one_name(greeter: type[Routine]) -> None:
    register_routine(greeter)
    with pytest.raises(DefinitionError, match="registered already, as 'Greeter'"):
        register_routine(greeter, name="Second")


@pytest.mark.parametrize("name", ["", "a b", "os:__builtins__", "__main__:X", "a..b", "x/y", ":X"])
def test_register_refuses_invalid_names(greeter: type[Routine], name: str) -> None:
    with pytest.raises(DefinitionError, match="a routine name must be"):
        register_routine(greeter, name=name)


def test_register_refuses_what_is_not_a_routine_class() -> None:
    with pytest.raises(DefinitionError, match="expects a Routine subclass"):
        register_routine(fx.NotARoutine)  # type: ignore[type-var]
    with pytest.raises(DefinitionError, match="expects a Routine subclass"):
        register_routine(fx.Step())  # type: ignore[type-var]


def test_unregister_reports_whether_something_was_registered(greeter: type[Routine]) -> None:
    assert not unregister_routine(greeter)
    register_routine(greeter)
    assert unregister_routine("Greeter")
    assert not unregister_routine("Greeter")


def test_registry_functions_are_public() -> None:
    assert routilux.register_routine is register_routine
    assert {"register_routine", "unregister_routine"} <= set(routilux.__all__)


# -- import paths ------------------------------------------------------------


def doc_naming(ref: str) -> dict[str, Any]:
    doc = flow_with(fx.Step).serialize()
    doc["routines"]["greeter"]["class"] = ref
    return doc


def test_missing_attribute_of_a_module_is_refused() -> None:
    with pytest.raises(
        SerializationError, match=r"module 'tests\.fixtures\.flow_routines' defines no 'Nope'"
    ):
        Flow.deserialize(doc_naming("tests.fixtures.flow_routines:Nope"))


def test_attribute_path_through_a_non_class_is_refused() -> None:
    with pytest.raises(SerializationError, match=r"defines no 'total\.x'"):
        Flow.deserialize(doc_naming("tests.fixtures.flow_routines:total.x"))


def test_stdlib_module_not_yet_imported_is_never_imported() -> None:
    if "tabnanny" in sys.modules:
        pytest.skip("the probe module is imported already")
    with pytest.raises(
        SerializationError, match="standard-library module 'tabnanny', which is not"
    ):
        Flow.deserialize(doc_naming("tabnanny:Thing"))
    assert "tabnanny" not in sys.modules


def test_stdlib_module_already_imported_is_looked_up() -> None:
    with pytest.raises(
        SerializationError, match="'json:JSONDecoder', which is the class JSONDecoder"
    ):
        Flow.deserialize(doc_naming("json:JSONDecoder"))
