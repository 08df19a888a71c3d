"""Flow documents and events: an event the class does not define is refused, unless the
document also lists every event the class defines (events defined on the instance)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # Documents name tests.fixtures... by import path.
    sys.path.insert(0, _ROOT)

from tests.fixtures import flow_routines as fx  # noqa: E402

from routilux import DefinitionError, Flow, SerializationError  # noqa: E402
from routilux.builtin_routines import ConditionalRouter  # noqa: E402

FX = "tests.fixtures.flow_routines"


def source_to_gather() -> Flow:
    flow = Flow(flow_id="f")
    flow.add_routine(fx.Source(), "source")
    flow.add_routine(fx.Gather(), "gather")
    flow.connect("source", "out", "gather", "input")
    return flow


def renamed(document: dict[str, Any], name: str) -> dict[str, Any]:
    """``document`` with the source's event ``out`` renamed in its list and its connection."""
    document["routines"]["source"]["events"][0]["name"] = name
    document["connections"][0]["event"] = name
    return document


def test_an_event_renamed_in_a_serialized_document_is_refused_naming_all() -> None:
    document = renamed(source_to_gather().serialize(), "output")

    with pytest.raises(SerializationError) as caught:
        Flow.deserialize(document)

    assert str(caught.value) == (
        "Flow document: routines['source'].events[0] is refused: Routine 'source' (class "
        f"{FX}:Source) has no event 'output'; its class defines 'out', and the document does "
        "not list 'out'. Name the class's event (a renamed event would lose its messages), or "
        "list every event of the class as well if 'output' is defined on the instance."
    )
    assert isinstance(caught.value.__cause__, DefinitionError)


def test_an_event_defined_on_the_instance_round_trips() -> None:
    flow = source_to_gather()
    flow.routines["source"].define_event("extra", ["value"])
    flow.connect("source", "extra", "gather", "input")

    rebuilt = Flow.deserialize(flow.serialize())

    assert list(rebuilt.routines["source"].events) == ["out", "extra"]
    assert rebuilt.serialize() == flow.serialize()


def test_router_route_events_round_trip() -> None:
    flow = Flow(flow_id="f")
    router = ConditionalRouter()
    router.set_config(routes=[("big", "data > 5")], default_route="small")
    router.define_event("big")
    router.define_event("small")
    flow.add_routine(router, "router")
    flow.add_routine(fx.Gather(), "gather")
    flow.connect("router", "big", "gather", "input")

    rebuilt = Flow.deserialize(flow.serialize())

    assert list(rebuilt.routines["router"].events) == ["output", "big", "small"]


def test_a_document_listing_fewer_events_than_the_class_still_loads() -> None:
    document = source_to_gather().serialize()
    document["routines"]["source"]["events"] = []

    rebuilt = Flow.deserialize(document)

    assert list(rebuilt.routines["source"].events) == ["out"]


def test_a_router_document_written_before_its_output_event_still_loads() -> None:
    flow = Flow(flow_id="f")
    router = ConditionalRouter()
    router.set_config(routes=[("big", "data > 5")])
    router.define_event("big")
    flow.add_routine(router, "router")
    document = flow.serialize()
    events = document["routines"]["router"]["events"]
    document["routines"]["router"]["events"] = [e for e in events if e["name"] != "output"]

    rebuilt = Flow.deserialize(document)

    assert list(rebuilt.routines["router"].events) == ["output", "big"]
