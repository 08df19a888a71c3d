"""Delivering to a slot by hand: Slot.receive and Slot.call_handler."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from routilux import (
    DefinitionError,
    ErrorHandler,
    ErrorStrategy,
    ExecutionError,
    Flow,
    JobState,
    JobStatus,
    Routine,
)


class Collector(Routine):
    """Keeps every message of its ``input`` slot; raises on ``{"fail": True}``."""

    def __init__(self, merge_strategy: str = "override") -> None:
        super().__init__()
        self.received: list[dict[str, Any]] = []
        self.input = self.define_slot("input", handler=self.take, merge_strategy=merge_strategy)
        self.define_event("seen", ["count"])

    def take(self, **message: Any) -> int:
        if message.get("fail"):
            raise ValueError("asked to fail")
        self.received.append(message)
        if message.get("emit"):
            self.emit("seen", count=len(self.received))
        return len(self.received)


class Forwarder(Routine):
    """Its trigger hands its params to the collector's slot with ``receive``."""

    def __init__(self, collector: Collector, *, then_fail: bool = False) -> None:
        super().__init__()
        self.collector = collector
        self.then_fail = then_fail
        self.returned: list[Any] = []
        self.define_slot("trigger", handler=self.forward)

    def forward(self, **params: Any) -> None:
        context = self.get_execution_context()
        assert context is not None
        self.returned.append(
            self.collector.input.receive(params, job_state=context.job_state, flow=context.flow)
        )
        if self.then_fail:
            raise RuntimeError("after receive")


def forwarding_flow(*, then_fail: bool = False) -> tuple[Flow, Forwarder, Collector]:
    flow = Flow(flow_id="forwarding")
    collector = Collector()
    forwarder = Forwarder(collector, then_fail=then_fail)
    flow.add_routine(forwarder, "forwarder")
    flow.add_routine(collector, "collector")
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return flow, forwarder, collector


# -- inside a running handler ------------------------------------------------------------


def test_receive_inside_a_handler_stages_a_delivery_in_the_running_job() -> None:
    flow, forwarder, collector = forwarding_flow()
    job = flow.execute("forwarder", {"x": 1})
    assert job.status is JobStatus.COMPLETED
    assert forwarder.returned == [None]
    assert collector.received == [{"x": 1}]
    assert flow.get_all_executions() == [job]


def test_receive_inside_a_handler_that_then_fails_delivers_nothing() -> None:
    flow, _, collector = forwarding_flow(then_fail=True)
    job = flow.execute("forwarder", {"x": 1})
    assert job.errors[0].message == "after receive"
    assert collector.received == []


def test_receive_inside_a_handler_with_another_job_fails_the_delivery() -> None:
    flow, _, collector = forwarding_flow()

    class Meddler(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)

        def go(self) -> None:
            collector.input.receive({"x": 1}, job_state=JobState("forwarding"))

    flow.add_routine(Meddler(), "meddler")
    job = flow.execute("meddler")
    assert job.errors[0].error_type == "ExecutionError"
    assert "pass the running job, or none" in job.errors[0].message
    assert collector.received == []


def test_receive_inside_a_handler_with_another_flow_fails_the_delivery() -> None:
    flow, _, collector = forwarding_flow()
    other = Flow()

    class Meddler(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)

        def go(self) -> None:
            collector.input.receive({"x": 1}, flow=other)

    flow.add_routine(Meddler(), "meddler")
    job = flow.execute("meddler")
    assert "pass the running flow, or none" in job.errors[0].message


# -- outside of a job ----------------------------------------------------------------------


def test_receive_outside_a_job_runs_a_new_job_starting_at_the_slot() -> None:
    flow = Flow()
    collector = Collector()
    flow.add_routine(collector, "collector")
    job = collector.input.receive({"x": 1})
    assert isinstance(job, JobState)
    assert job.status is JobStatus.COMPLETED
    assert flow.get_execution(job.job_id) is job
    assert collector.received == [{"x": 1}]


def test_receive_outside_a_job_applies_error_policies_and_raises_nothing() -> None:
    flow = Flow()
    collector = Collector()
    flow.add_routine(collector, "collector")
    job = collector.input.receive({"fail": True})
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.errors[0].message == "asked to fail"


def test_receive_with_flow_runs_the_job_in_that_flow() -> None:
    collector = Collector()
    first, second = Flow(), Flow()
    first.add_routine(collector, "a")
    second.add_routine(collector, "b")
    job = collector.input.receive({"x": 1}, flow=second)
    assert job is not None
    assert second.get_execution(job.job_id) is job
    assert first.get_all_executions() == []


def test_receive_in_several_flows_without_flow_is_refused() -> None:
    collector = Collector()
    first, second = Flow(flow_id="one"), Flow(flow_id="two")
    first.add_routine(collector, "a")
    second.add_routine(collector, "b")
    with pytest.raises(DefinitionError, match=r"in the flows 'one', 'two'\. Pass flow="):
        collector.input.receive({"x": 1})


def test_receive_with_a_flow_that_lacks_the_routine_is_refused() -> None:
    collector = Collector()
    with pytest.raises(DefinitionError, match="does not hold its routine"):
        collector.input.receive({"x": 1}, flow=Flow())


def test_receive_outside_a_job_with_a_job_state_is_refused() -> None:
    collector = Collector()
    with pytest.raises(ExecutionError, match="outside of any job"):
        collector.input.receive({"x": 1}, job_state=JobState("f"))


def test_receive_of_a_routine_in_no_flow_calls_the_handler_here() -> None:
    collector = Collector("append")
    assert collector.input.receive({"x": 1}) is None
    assert collector.received == [{"x": 1}]
    assert collector.input.data == {"x": [1]}


def test_receive_of_a_routine_in_no_flow_propagates_the_handler_error() -> None:
    collector = Collector("append")
    with pytest.raises(ValueError, match="asked to fail"):
        collector.input.receive({"fail": True})
    assert collector.input.data == {}


def test_an_emit_from_a_handler_called_with_no_flow_raises() -> None:
    collector = Collector()
    with pytest.raises(ExecutionError, match="outside of a job"):
        collector.input.receive({"emit": True})


def test_receive_of_an_async_handler_in_no_flow_awaits_it() -> None:
    seen: list[Any] = []

    class Async(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.slot = self.define_slot("input", handler=self.take)

        async def take(self, value: Any) -> None:
            seen.append(value)

    Async().slot.receive({"value": 3})
    assert seen == [3]


def test_receive_refuses_data_that_is_not_a_mapping() -> None:
    with pytest.raises(DefinitionError, match="receives a mapping with string keys"):
        Collector().input.receive([1, 2])  # type: ignore[arg-type]


# -- call_handler ---------------------------------------------------------------------------


def test_call_handler_merges_and_returns_what_the_handler_returned() -> None:
    collector = Collector()
    assert collector.input.call_handler({"x": 1}) == 1
    assert collector.input.data == {"x": 1}


@pytest.mark.parametrize("merge_strategy", ["override", "append"])
def test_call_handler_propagating_reraises_and_takes_the_message_back(merge_strategy: str) -> None:
    collector = Collector(merge_strategy)
    collector.input.call_handler({"x": 1})
    before = dict(collector.input.data)
    with pytest.raises(ValueError, match="asked to fail"):
        collector.input.call_handler({"fail": True}, propagate_exceptions=True)
    assert dict(collector.input.data) == before


def test_call_handler_not_propagating_logs_and_returns_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = Collector()
    with caplog.at_level(logging.ERROR, logger="routilux"):
        assert collector.input.call_handler({"fail": True}) is None
    assert "failed in call_handler" in caplog.text
    assert "asked to fail" in caplog.text


def test_call_handler_inside_a_handler_stages_its_emits_with_that_delivery() -> None:
    flow = Flow()
    collector = Collector()

    class Caller(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)

        def go(self) -> None:
            collector.input.call_handler({"emit": True})

    flow.add_routine(Caller(), "caller")
    flow.add_routine(collector, "collector")
    job = flow.execute("caller")
    assert [(r.routine_id, r.event_name) for r in job.execution_history] == [("collector", "seen")]
