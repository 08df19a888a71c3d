"""Sequential delivery: FIFO, breadth-first, staged emits, history and context."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from routilux import ErrorStrategy, ExecutionContext, Flow, JobState, Routine, RoutineStats


class Node(Routine):
    """Records each message in a shared trace, then emits ``fan`` messages on ``out``.

    The trace entry is ``(routine label, message)``; emitted messages carry
    ``v`` = ``"<label>(<incoming v>)#<k>"``, so the order of the trace shows
    the order of deliveries.
    """

    def __init__(self, label: str, trace: list[tuple[str, Any]], fan: int = 1) -> None:
        super().__init__()
        self.label = label
        self.trace = trace
        self.fan = fan
        self.define_slot("trigger", handler=self.receive)
        self.define_slot("input", handler=self.receive)
        self.output = self.define_event("out", ["v"])

    def receive(self, v: Any = None) -> None:
        self.trace.append((self.label, v))
        for k in range(self.fan):
            self.emit("out", v=f"{self.label}({v})#{k}")


def build(edges: list[tuple[str, str]], fans: dict[str, int]) -> tuple[Flow, list[tuple[str, Any]]]:
    trace: list[tuple[str, Any]] = []
    flow = Flow()
    for label, fan in fans.items():
        flow.add_routine(Node(label, trace, fan), label)
    for source, target in edges:
        flow.connect(source, "out", target, "input")
    return flow, trace


def test_entry_params_are_delivered_to_the_trigger_slot() -> None:
    flow, trace = build([], {"a": 0})
    flow.execute("a", entry_params={"v": "start"})
    assert trace == [("a", "start")]


def test_execute_returns_a_finished_job() -> None:
    flow, _ = build([("a", "b")], {"a": 2, "b": 0})
    job = flow.execute("a", entry_params={"v": 0})
    assert isinstance(job, JobState)
    assert job.status == "completed"
    assert job.is_finished


def test_handlers_run_on_the_thread_that_calls_execute() -> None:
    threads: list[int] = []

    class Where(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=lambda: threads.append(threading.get_ident()))

    flow = Flow()
    flow.add_routine(Where(), "where")
    flow.execute("where")
    assert threads == [threading.get_ident()]


def test_fan_out_follows_connection_order() -> None:
    flow, trace = build([("a", "c"), ("a", "b"), ("a", "d")], {"a": 1, "b": 0, "c": 0, "d": 0})
    flow.execute("a", entry_params={"v": 0})
    assert [label for label, _ in trace] == ["a", "c", "b", "d"]


def test_deliveries_are_breadth_first() -> None:
    # a emits twice to b; each b emits once to c. Depth-first would give b, c, b, c.
    flow, trace = build([("a", "b"), ("b", "c")], {"a": 2, "b": 1, "c": 0})
    flow.execute("a", entry_params={"v": 0})
    assert trace == [
        ("a", 0),
        ("b", "a(0)#0"),
        ("b", "a(0)#1"),
        ("c", "b(a(0)#0)#0"),
        ("c", "b(a(0)#1)#0"),
    ]


def test_fan_out_and_fan_in_order_is_fifo() -> None:
    flow, trace = build(
        [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")], {"a": 2, "b": 1, "c": 1, "d": 0}
    )
    flow.execute("a", entry_params={"v": "x"})
    assert trace == [
        ("a", "x"),
        ("b", "a(x)#0"),
        ("c", "a(x)#0"),
        ("b", "a(x)#1"),
        ("c", "a(x)#1"),
        ("d", "b(a(x)#0)#0"),
        ("d", "c(a(x)#0)#0"),
        ("d", "b(a(x)#1)#0"),
        ("d", "c(a(x)#1)#0"),
    ]


def test_emits_wait_until_the_handler_returns() -> None:
    trace: list[str] = []

    class Chatty(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.run)
            self.define_event("out")

        def run(self) -> None:
            self.emit("out", n=1)
            trace.append("after first emit")
            self.emit("out", n=2)
            trace.append("handler returns")

    class Listener(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", handler=lambda n: trace.append(f"got {n}"))

    flow = Flow()
    flow.add_routine(Chatty(), "chatty")
    flow.add_routine(Listener(), "listener")
    flow.connect("chatty", "out", "listener", "input")
    flow.execute("chatty")
    assert trace == ["after first emit", "handler returns", "got 1", "got 2"]


def test_event_object_emit_delivers_like_routine_emit() -> None:
    received: list[dict[str, Any]] = []

    class ViaEvent(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.run)
            self.output_event = self.define_event("output", ["value"])

        def run(self, value: Any) -> None:
            self.output_event.emit(value=value)

    class Listener(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("input", handler=lambda **kw: received.append(kw))

    flow = Flow()
    flow.add_routine(ViaEvent(), "via")
    flow.add_routine(Listener(), "listener")
    flow.connect("via", "output", "listener", "input")
    job = flow.execute("via", entry_params={"value": 3})
    assert received == [{"value": 3}]
    assert [(r.routine_id, r.event_name, r.data) for r in job.execution_history] == [
        ("via", "output", {"value": 3})
    ]


# -- history ---------------------------------------------------------------------------


def test_history_has_one_record_per_emit_in_emission_order() -> None:
    flow, _ = build([("a", "b"), ("b", "c")], {"a": 2, "b": 1, "c": 0})
    job = flow.execute("a", entry_params={"v": 0})
    assert [(r.routine_id, r.event_name, r.data) for r in job.execution_history] == [
        ("a", "out", {"v": "a(0)#0"}),
        ("a", "out", {"v": "a(0)#1"}),
        ("b", "out", {"v": "b(a(0)#0)#0"}),
        ("b", "out", {"v": "b(a(0)#1)#0"}),
    ]


def test_history_timestamps_are_utc_datetimes_in_order() -> None:
    flow, _ = build([("a", "b")], {"a": 3, "b": 1})
    before = datetime.now(timezone.utc)
    job = flow.execute("a", entry_params={"v": 0})
    stamps = [r.timestamp for r in job.execution_history]
    assert len(stamps) == 6
    assert all(t.utcoffset() == timedelta(0) for t in stamps)
    assert before <= min(stamps) <= max(stamps) <= datetime.now(timezone.utc)


def test_history_records_emits_of_events_without_connections() -> None:
    flow, trace = build([], {"a": 2})
    job = flow.execute("a", entry_params={"v": 0})
    assert trace == [("a", 0)]
    assert [r.data for r in job.execution_history] == [{"v": "a(0)#0"}, {"v": "a(0)#1"}]


def test_get_execution_history_filters_by_routine() -> None:
    flow, _ = build([("a", "b")], {"a": 2, "b": 1})
    job = flow.execute("a", entry_params={"v": 0})
    assert [r.routine_id for r in job.get_execution_history("b")] == ["b", "b"]
    assert len(job.get_execution_history("a")) == 2
    assert job.get_execution_history("nobody") == []


def test_record_history_false_records_nothing_but_still_delivers() -> None:
    trace: list[tuple[str, Any]] = []
    flow = Flow(record_history=False)
    flow.add_routine(Node("a", trace, 1), "a")
    flow.add_routine(Node("b", trace, 1), "b")
    flow.connect("a", "out", "b", "input")
    job = flow.execute("a", entry_params={"v": 0})
    assert [label for label, _ in trace] == ["a", "b"]
    assert job.execution_history == []


# -- staged emits of failing handlers --------------------------------------------------


class EmitThenFail(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.run)
        self.define_event("out")

    def run(self) -> None:
        self.emit("out", v="partial")
        raise ValueError("failed after emitting")


def test_emits_of_a_failed_delivery_are_discarded() -> None:
    trace: list[tuple[str, Any]] = []
    flow = Flow()
    failing = EmitThenFail()
    failing.set_as_optional(ErrorStrategy.CONTINUE)
    flow.add_routine(failing, "failing")
    flow.add_routine(Node("after", trace, 0), "after")
    flow.connect("failing", "out", "after", "input")
    job = flow.execute("failing")
    assert job.status == "completed"
    assert trace == []
    assert job.execution_history == []
    assert [e.routine_id for e in job.errors] == ["failing"]


# -- undefined events and foreign routines ---------------------------------------------


def test_emitting_an_undefined_event_in_a_job_is_a_handler_failure() -> None:
    class Typo(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=lambda: self.emit("hgih", v=1))
            self.define_event("high")
            self.define_event("low")

    flow = Flow()
    flow.add_routine(Typo(), "router")
    job = flow.execute("router")
    assert job.status == "failed"
    [error] = job.errors
    assert error.error_type == "DefinitionError"
    assert error.routine_id == "router"
    assert "no event 'hgih'; defined events: 'high', 'low'" in error.message


def test_emit_by_a_routine_outside_the_flow_is_a_handler_failure() -> None:
    stranger = Node("stranger", [], 0)

    class Meddler(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=lambda: stranger.emit("out", v=1))

    flow = Flow()
    flow.add_routine(Meddler(), "meddler")
    job = flow.execute("meddler")
    assert job.status == "failed"
    assert [(e.routine_id, e.error_type) for e in job.errors] == [("meddler", "DefinitionError")]


# -- execution context -----------------------------------------------------------------


class ContextProbe(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[ExecutionContext | None] = []
        self.define_slot("trigger", handler=self.probe)
        self.define_slot("input", handler=self.probe)
        self.define_event("out")

    def probe(self, **kwargs: Any) -> None:
        self.contexts.append(self.get_execution_context())
        self.emit("out")


def test_execution_context_names_the_flow_the_job_and_the_routine_id() -> None:
    flow = Flow()
    first, second = ContextProbe(), ContextProbe()
    flow.add_routine(first, "first")
    flow.add_routine(second, "second")
    flow.connect("first", "out", "second", "input")
    job = flow.execute("first")
    assert first.contexts == [ExecutionContext(flow, job, "first")]
    [context] = second.contexts
    assert context is not None
    assert context.flow is flow
    assert context.job_state is job
    assert context.routine_id == "second"


def test_execution_context_is_a_named_tuple() -> None:
    flow = Flow()
    probe = ContextProbe()
    flow.add_routine(probe, "probe")
    job = flow.execute("probe")
    [context] = probe.contexts
    assert isinstance(context, tuple)
    flow_, job_state, routine_id = context  # type: ignore[misc]
    assert (flow_, job_state, routine_id) == (flow, job, "probe")


def test_execution_context_is_none_again_after_the_job() -> None:
    flow = Flow()
    probe = ContextProbe()
    flow.add_routine(probe, "probe")
    flow.execute("probe")
    assert probe.get_execution_context() is None


def test_handlers_can_share_data_through_the_job_state() -> None:
    class Writer(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.write)
            self.define_event("out")

        def write(self) -> None:
            context = self.get_execution_context()
            assert context is not None
            context.job_state.update_shared_data("token", "abc")
            self.emit("out")

    class Reader(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.read: list[Any] = []
            self.define_slot("input", handler=self.read_token)

        def read_token(self) -> None:
            context = self.get_execution_context()
            assert context is not None
            self.read.append(context.job_state.get_shared_data("token"))

    flow = Flow()
    reader = Reader()
    flow.add_routine(Writer(), "writer")
    flow.add_routine(reader, "reader")
    flow.connect("writer", "out", "reader", "input")
    job = flow.execute("writer")
    assert reader.read == ["abc"]
    assert job.get_shared_data("token") == "abc"


# -- routine states --------------------------------------------------------------------


def test_routine_stats_count_deliveries_of_each_routine_that_received_one() -> None:
    flow, _ = build([("a", "b")], {"a": 3, "b": 0, "idle": 0})
    job = flow.execute("a", entry_params={"v": 0})
    assert job.all_routine_stats() == {"a": RoutineStats(1, 0, 0), "b": RoutineStats(3, 0, 0)}
    assert job.routine_stats("idle") is None
    # The states hold what the published routilux wrote: the entry routine's status only.
    assert job.routine_states == {"a": {"status": "completed"}}


def test_current_routine_id_is_the_routine_that_ran_last() -> None:
    flow, _ = build([("a", "b")], {"a": 1, "b": 0})
    job = flow.execute("a", entry_params={"v": 0})
    assert job.current_routine_id == "b"


# -- message isolation -----------------------------------------------------------------


class Mutator(Routine):
    """Records the message it receives, then scribbles over it."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.define_slot("input", handler=self.receive)

    def receive(self, data: dict[str, Any]) -> None:
        self.received.append(dict(data))
        data["x"] = "scribbled"


class Original(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=lambda: self.emit("out", x="original"))
        self.define_event("out")


def fan_out_to_mutators() -> tuple[Flow, Mutator, Mutator]:
    flow = Flow()
    first, second = Mutator(), Mutator()
    flow.add_routine(Original(), "source")
    flow.add_routine(first, "first")
    flow.add_routine(second, "second")
    flow.connect("source", "out", "first", "input")
    flow.connect("source", "out", "second", "input")
    return flow, first, second


def test_a_handler_mutating_its_message_does_not_change_what_a_sibling_receives() -> None:
    flow, first, second = fan_out_to_mutators()
    flow.execute("source")
    assert first.received == [{"x": "original"}]
    assert second.received == [{"x": "original"}]


def test_a_handler_mutating_its_message_does_not_change_the_history() -> None:
    flow, _, _ = fan_out_to_mutators()
    job = flow.execute("source")
    assert [r.data for r in job.execution_history] == [{"x": "original"}]
