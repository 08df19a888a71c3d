"""Wiring from events and slots: Event.connect/disconnect, Slot.connect/disconnect and the views."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from routilux import Connection, DefinitionError, Flow, Routine


class Source(Routine):
    """Emits its entry params on ``output``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.output = self.define_event("output", ["text", "lang"])

    def send(self, **message: Any) -> None:
        self.emit("output", **message)


class Sink(Routine):
    """Keeps every message of its ``input`` slot."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.input = self.define_slot("input", handler=self.take)

    def take(self, **message: Any) -> None:
        self.received.append(message)


def two_routines(flow_id: str = "demo") -> tuple[Flow, Source, Sink]:
    flow = Flow(flow_id=flow_id)
    source, sink = Source(), Sink()
    flow.add_routine(source, "source")
    flow.add_routine(sink, "sink")
    return flow, source, sink


# -- Event.connect / Slot.connect ------------------------------------------------------


def test_event_connect_makes_a_connection_of_the_common_flow() -> None:
    flow, source, sink = two_routines()

    connection = source.output.connect(sink.input)

    assert flow.connections == [Connection("source", "output", "sink", "input")]
    assert connection is flow.connections[0]
    flow.execute("source", {"text": "hi"})
    assert sink.received == [{"text": "hi"}]


def test_event_connect_honours_the_param_mapping() -> None:
    flow, source, sink = two_routines()

    source.output.connect(sink.input, {"text": "body"})

    flow.execute("source", {"text": "hi", "lang": "en"})
    assert sink.received == [{"body": "hi", "lang": "en"}]


def test_slot_connect_wires_the_event_to_the_slot() -> None:
    flow, source, sink = two_routines()

    connection = sink.input.connect(source.output, param_mapping={"text": "body"})

    assert connection == Connection("source", "output", "sink", "input", {"text": "body"})
    assert flow.connections == [connection]


def test_connect_refuses_a_connection_the_flow_has_already() -> None:
    flow, source, sink = two_routines()
    flow.connect("source", "output", "sink", "input")

    with pytest.raises(DefinitionError, match="already has the connection"):
        source.output.connect(sink.input)


def test_connect_refuses_a_mapping_the_flow_refuses() -> None:
    _, source, sink = two_routines()

    with pytest.raises(DefinitionError, match="renames 'text' to 'lang'"):
        source.output.connect(sink.input, {"text": "lang"})


def test_connect_needs_a_flow_that_holds_both_routines() -> None:
    flow, source, _ = two_routines()
    outsider = Sink()

    with pytest.raises(DefinitionError) as caught:
        source.output.connect(outsider.input)

    assert str(caught.value) == (
        "Cannot connect event 'output' of routine Source and slot 'input' of routine Sink: "
        "no flow holds both routines (the source routine is in the flow 'demo', the target "
        "routine in no flow). Add both to one flow with flow.add_routine first."
    )
    assert flow.connections == []


def test_connect_refuses_routines_that_share_several_flows() -> None:
    _, source, sink = two_routines("first")
    second = Flow(flow_id="second")
    second.add_routine(source, "source")
    second.add_routine(sink, "sink")

    with pytest.raises(DefinitionError, match="in the flows 'first', 'second'"):
        sink.input.connect(source.output)


def test_a_flow_that_is_gone_holds_no_routine() -> None:
    flow, source, sink = two_routines()
    del flow
    gc.collect()

    with pytest.raises(DefinitionError, match="no flow holds both routines"):
        source.output.connect(sink.input)


@pytest.mark.parametrize("wrong", ["input", None, 3])
def test_event_connect_takes_a_slot(wrong: Any) -> None:
    _, source, _ = two_routines()

    with pytest.raises(DefinitionError, match="connect wires an Event to a Slot"):
        source.output.connect(wrong)


def test_slot_connect_takes_an_event() -> None:
    _, _, sink = two_routines()

    with pytest.raises(DefinitionError, match="connect wires an Event to a Slot"):
        sink.input.connect("output")  # type: ignore[arg-type]


# -- Event.disconnect / Slot.disconnect --------------------------------------------------


def test_event_disconnect_removes_the_connection_from_the_flow() -> None:
    flow, source, sink = two_routines()
    made = source.output.connect(sink.input)

    removed = source.output.disconnect(sink.input)

    assert removed is made
    assert flow.connections == []
    flow.execute("source", {"text": "hi"})
    assert sink.received == []


def test_slot_disconnect_removes_the_connection_from_the_flow() -> None:
    flow, source, sink = two_routines()
    flow.connect("source", "output", "sink", "input")

    sink.input.disconnect(source.output)

    assert flow.connections == []


def test_disconnect_of_routines_that_are_not_connected_raises() -> None:
    _, source, sink = two_routines()

    with pytest.raises(DefinitionError, match=r"no connection source\.output -> sink\.input"):
        source.output.disconnect(sink.input)


def test_disconnect_needs_a_flow_that_holds_both_routines() -> None:
    _, source, _ = two_routines()

    with pytest.raises(DefinitionError, match="Cannot disconnect event 'output'"):
        source.output.disconnect(Sink().input)


# -- the views -------------------------------------------------------------------------


def test_connected_slots_lists_the_flows_connections_of_the_event_in_order() -> None:
    flow, source, first = two_routines()
    second = Sink()
    flow.add_routine(second, "second")
    flow.connect("source", "output", "second", "input")
    source.output.connect(first.input)

    assert source.output.connected_slots == (second.input, first.input)
    source.output.disconnect(second.input)
    assert source.output.connected_slots == (first.input,)


def test_connected_events_lists_the_flows_connections_to_the_slot_in_order() -> None:
    flow, first, sink = two_routines()
    second = Source()
    flow.add_routine(second, "second")
    sink.input.connect(second.output)
    flow.connect("source", "output", "sink", "input")

    assert sink.input.connected_events == (second.output, first.output)


def test_the_views_are_read_only() -> None:
    _, source, sink = two_routines()
    source.output.connect(sink.input)

    assert isinstance(source.output.connected_slots, tuple)
    assert isinstance(sink.input.connected_events, tuple)
    with pytest.raises(AttributeError):
        source.output.connected_slots = ()  # type: ignore[misc]


def test_the_views_of_a_routine_in_no_flow_are_empty() -> None:
    assert Source().output.connected_slots == ()
    assert Sink().input.connected_events == ()


def test_the_views_of_a_routine_in_several_flows_raise() -> None:
    _, source, sink = two_routines("first")
    second = Flow(flow_id="second")
    second.add_routine(sink, "sink")

    with pytest.raises(DefinitionError, match="its routine is in the flows 'first', 'second'"):
        _ = sink.input.connected_events
    assert source.output.connected_slots == ()  # Its routine is in one flow only.


# -- Event.output_params -----------------------------------------------------------------


def test_output_params_is_another_name_for_params() -> None:
    event = Source().output

    assert event.output_params == ("text", "lang")
    assert event.output_params is event.params
