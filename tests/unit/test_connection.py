"""Connection: the id form, the Event-and-Slot form, and the live ends through the flow."""

from __future__ import annotations

import copy
import gc
import pickle
from typing import Any

import pytest

from routilux import Connection, DefinitionError, ExecutionError, Flow, JobState, Routine


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


class Activator(Routine):
    """Its trigger activates a connection with its params."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection
        self.define_slot("trigger", handler=self.activate)

    def activate(self, **params: Any) -> None:
        assert self.connection.activate(params) is None


def two_routines() -> tuple[Flow, Source, Sink]:
    flow = Flow(flow_id="demo")
    source, sink = Source(), Sink()
    flow.add_routine(source, "source")
    flow.add_routine(sink, "sink")
    return flow, source, sink


# -- the two forms -----------------------------------------------------------------------


def test_an_event_and_a_slot_give_the_connection_their_flow_registered() -> None:
    flow, source, sink = two_routines()

    connection = Connection(source.output, sink.input, {"text": "body"})

    assert connection is flow.connections[0]
    assert connection == Connection("source", "output", "sink", "input", {"text": "body"})
    flow.execute("source", {"text": "hi"})
    assert sink.received == [{"body": "hi"}]


def test_the_object_form_takes_the_published_keyword_names() -> None:
    flow, source, sink = two_routines()

    connection = Connection(
        source_event=source.output, target_slot=sink.input, param_mapping={"text": "body"}
    )

    assert flow.connections == [connection]
    assert dict(connection.param_mapping or {}) == {"text": "body"}


def test_the_object_form_without_a_common_flow_raises() -> None:
    flow, source, _ = two_routines()

    with pytest.raises(DefinitionError, match="no flow holds both routines"):
        Connection(source.output, Sink().input)
    assert flow.connections == []


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda e, s: Connection(source_event=e, target_slot="input"), "wires an Event to a Slot"),
        (lambda e, s: Connection(e, target_slot=None), "wires an Event to a Slot"),
        (lambda e, s: Connection(e, s, {"a": "b"}, param_mapping={"a": "c"}), "param_mapping both"),
        (lambda e, s: Connection(e, s, None, "input"), "takes three arguments at most"),
        (
            lambda e, s: Connection("source", "output", "sink", "input", source_event=e),
            "twice|both",
        ),
    ],
)
def test_the_object_form_refuses_mixed_or_misplaced_arguments(build: Any, message: str) -> None:
    flow, source, sink = two_routines()

    with pytest.raises(DefinitionError, match=message):
        build(source.output, sink.input)
    assert flow.connections == []


def test_the_id_form_still_makes_a_value_of_no_flow() -> None:
    connection = Connection("a", "out", "b", "in", {"x": "y"})

    assert (connection.source_id, connection.event, connection.target_id, connection.slot) == (
        "a",
        "out",
        "b",
        "in",
    )
    assert repr(connection) == (
        "Connection(source_id='a', event='out', target_id='b', slot='in', "
        "param_mapping=mappingproxy({'x': 'y'}))"
    )
    with pytest.raises(AttributeError):
        connection.slot = "other"  # type: ignore[misc]


def test_the_id_form_without_an_end_raises_type_error() -> None:
    with pytest.raises(TypeError, match="missing 'target_id', 'slot'"):
        Connection("a", "out")  # type: ignore[call-overload]


def test_equality_and_hash_ignore_the_flow() -> None:
    flow, source, sink = two_routines()
    registered = source.output.connect(sink.input)
    by_hand = Connection("source", "output", "sink", "input")

    assert registered == by_hand
    assert hash(registered) == hash(by_hand)
    assert {registered, by_hand} == {by_hand}
    assert by_hand in flow.connections


def test_pickling_keeps_the_value_and_leaves_the_flow_out() -> None:
    _, source, sink = two_routines()
    connection = source.output.connect(sink.input, {"text": "body"})

    loaded = pickle.loads(pickle.dumps(connection))

    assert loaded == connection
    assert dict(loaded.param_mapping or {}) == {"text": "body"}
    with pytest.raises(DefinitionError, match="belongs to no flow"):
        _ = loaded.target_slot


def test_a_copy_is_the_same_connection() -> None:
    _, source, sink = two_routines()
    connection = source.output.connect(sink.input)

    assert copy.copy(connection) is connection
    assert copy.deepcopy(connection) is connection


def test_a_flow_document_keeps_a_connection_made_from_objects() -> None:
    flow, source, sink = two_routines()
    Connection(source.output, sink.input, {"text": "body"})

    assert flow.serialize()["connections"] == [
        {
            "source": "source",
            "event": "output",
            "target": "sink",
            "slot": "input",
            "param_mapping": {"text": "body"},
        }
    ]


# -- the live ends -----------------------------------------------------------------------


def test_source_event_and_target_slot_are_the_live_objects() -> None:
    flow, source, sink = two_routines()
    connection = flow.connect("source", "output", "sink", "input")

    assert connection.source_event is source.output
    assert connection.target_slot is sink.input


def test_a_connection_made_by_hand_has_no_live_ends() -> None:
    connection = Connection("source", "output", "sink", "input")

    with pytest.raises(DefinitionError) as caught:
        _ = connection.source_event

    assert str(caught.value) == (
        "The connection 'source.output -> sink.input' belongs to no flow: only a connection "
        "a flow registered (flow.connect, event.connect, Connection(event, slot)) reaches "
        "its routines."
    )


def test_a_connection_whose_flow_is_gone_says_so() -> None:
    flow, _, _ = two_routines()
    connection = flow.connect("source", "output", "sink", "input")
    del flow
    gc.collect()

    with pytest.raises(DefinitionError, match="belonged to a flow that is gone"):
        _ = connection.target_slot


def test_a_routine_taken_out_of_the_flow_by_hand_is_named() -> None:
    flow, _, _ = two_routines()
    connection = flow.connect("source", "output", "sink", "input")
    del flow.routines["sink"]

    with pytest.raises(DefinitionError, match="target routine 'sink' is not in the flow"):
        _ = connection.target_slot


# -- apply_mapping, activate, disconnect -----------------------------------------------


def test_apply_mapping_renames_keys_and_drops_the_source_key() -> None:
    connection = Connection("a", "out", "b", "in", {"text": "body"})
    data = {"text": "hi", "lang": "en"}

    assert connection.apply_mapping(data) == {"body": "hi", "lang": "en"}
    assert data == {"text": "hi", "lang": "en"}


def test_apply_mapping_without_a_mapping_gives_a_copy() -> None:
    data = {"text": "hi"}

    mapped = Connection("a", "out", "b", "in").apply_mapping(data)

    assert mapped == data
    assert mapped is not data


def test_apply_mapping_gives_what_the_engine_delivers() -> None:
    flow, _, sink = two_routines()
    connection = flow.connect("source", "output", "sink", "input", {"text": "lang", "lang": "text"})
    data = {"text": "hi", "lang": "en", "n": 1}

    flow.execute("source", data)

    assert (
        sink.received == [connection.apply_mapping(data)] == [{"lang": "hi", "text": "en", "n": 1}]
    )


def test_apply_mapping_refuses_to_lose_a_value() -> None:
    connection = Connection("a", "out", "b", "in", {"text": "lang"})

    with pytest.raises(ExecutionError, match="renames 'text' to 'lang'"):
        connection.apply_mapping({"text": "hi", "lang": "en"})


def test_activate_delivers_the_mapped_data_to_the_target_slot() -> None:
    flow, _, sink = two_routines()
    connection = flow.connect("source", "output", "sink", "input", {"text": "body"})

    job = connection.activate({"text": "hi"})

    assert isinstance(job, JobState)
    assert job.status == "completed"
    assert sink.received == [{"body": "hi"}]


def test_activate_inside_a_handler_delivers_in_the_running_job() -> None:
    flow, _, sink = two_routines()
    connection = flow.connect("source", "output", "sink", "input", {"text": "body"})
    flow.add_routine(Activator(connection), "activator")

    job = flow.execute("activator", {"text": "hi"})

    assert job.status == "completed"
    assert sink.received == [{"body": "hi"}]
    assert len(flow.get_all_executions()) == 1


def test_disconnect_takes_the_connection_out_of_its_flow() -> None:
    flow, source, sink = two_routines()
    connection = Connection(source.output, sink.input)

    assert connection.disconnect() is connection
    assert flow.connections == []
    with pytest.raises(DefinitionError, match=r"no connection source\.output -> sink\.input"):
        connection.disconnect()


def test_disconnect_of_a_connection_made_by_hand_raises() -> None:
    with pytest.raises(DefinitionError, match="belongs to no flow"):
        Connection("a", "out", "b", "in").disconnect()
