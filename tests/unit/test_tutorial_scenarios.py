"""The tutorial's scenarios, asserted on values and order rather than on printed text."""

from __future__ import annotations

from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.testing import FakeClock

# -- step 1: aggregation ---------------------------------------------------------------


class MultiSourceEmitter(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.trigger_slot = self.define_slot("trigger", handler=self.emit_all)
        self.output_event = self.define_event("output", ["data", "source"])

    def emit_all(self, **kwargs: Any) -> None:
        for source in ["SourceA", "SourceB", "SourceC"]:
            self.emit("output", data=f"Data from {source}", source=source)


class BatchAggregator(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.set_config(expected_count=3)
        self.input_slot = self.define_slot("input", handler=self.aggregate, merge_strategy="append")
        self.output_event = self.define_event("output", ["results"])
        self.set_stat("message_count", 0)
        self.received: list[tuple[int, Any, Any]] = []
        self.batches: list[dict[str, Any]] = []

    def aggregate(self, data: Any = None, source: Any = None, **kwargs: Any) -> None:
        count = self.get_stat("message_count", 0) + 1
        self.set_stat("message_count", count)
        self.received.append((count, data, source))
        if count >= self.get_config("expected_count", 3):
            all_data = self.input_slot._data
            self.batches.append({k: list(v) for k, v in all_data.items()})
            self.emit("output", results=all_data)
            self.input_slot._data = {}
            self.set_stat("message_count", 0)


class ResultSink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []
        self.define_slot("input", handler=self.receive)

    def receive(self, results: Any = None, result: Any = None) -> None:
        self.results.append(results if results is not None else result)


def aggregation_flow() -> tuple[Flow, BatchAggregator, ResultSink]:
    flow = Flow(flow_id="aggregation_flow")
    aggregator, sink = BatchAggregator(), ResultSink()
    emitter_id = flow.add_routine(MultiSourceEmitter(), "emitter")
    agg_id = flow.add_routine(aggregator, "aggregator")
    flow.add_routine(sink, "sink")
    flow.connect(emitter_id, "output", agg_id, "input")
    flow.connect(agg_id, "output", "sink", "input")
    return flow, aggregator, sink


def test_aggregator_receives_each_message_as_sent() -> None:
    flow, aggregator, _ = aggregation_flow()
    job = flow.execute("emitter")
    assert job.status == "completed"
    assert aggregator.received == [
        (1, "Data from SourceA", "SourceA"),
        (2, "Data from SourceB", "SourceB"),
        (3, "Data from SourceC", "SourceC"),
    ]


def test_aggregator_sees_the_accumulated_lists_in_private_data() -> None:
    flow, aggregator, sink = aggregation_flow()
    flow.execute("emitter")
    expected = {
        "data": ["Data from SourceA", "Data from SourceB", "Data from SourceC"],
        "source": ["SourceA", "SourceB", "SourceC"],
    }
    assert aggregator.batches == [expected]
    assert sink.results == [expected]


def test_aggregator_resets_after_its_batch() -> None:
    flow, aggregator, _ = aggregation_flow()
    flow.execute("emitter")
    assert dict(aggregator.input_slot.data) == {}
    assert aggregator.get_stat("message_count") == 0


def test_a_reset_aggregator_collects_a_fresh_batch_in_the_next_job() -> None:
    flow, aggregator, _ = aggregation_flow()
    flow.execute("emitter")
    flow.execute("emitter")
    assert len(aggregator.batches) == 2
    assert aggregator.batches[0] == aggregator.batches[1]


# -- step 3: fan-out and fan-in --------------------------------------------------------


class DataSource(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.trigger_slot = self.define_slot("trigger", handler=self.send)
        self.output_event = self.define_event("output", ["data"])

    def send(self, **kwargs: Any) -> None:
        self.emit("output", data="test_data")


class Processor(Routine):
    def __init__(self, name: str, transform: Any) -> None:
        super().__init__()
        self.name = name
        self.transform = transform
        self.input_slot = self.define_slot("input", handler=self.process)
        self.output_event = self.define_event("output", ["result", "processor"])

    def process(self, data: Any = None, **kwargs: Any) -> None:
        self.emit("output", result=f"{self.name}: {self.transform(data)}", processor=self.name)


class FanInAggregator(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[tuple[Any, Any]] = []
        self.input_slot = self.define_slot("input", handler=self.aggregate, merge_strategy="append")

    def aggregate(self, result: Any = None, processor: Any = None, **kwargs: Any) -> None:
        self.received.append((processor, result))


def fan_flow() -> tuple[Flow, FanInAggregator]:
    flow = Flow(flow_id="fanout_fanin_flow")
    aggregator = FanInAggregator()
    flow.add_routine(DataSource(), "source")
    flow.add_routine(Processor("P1", str.upper), "processor1")
    flow.add_routine(Processor("P2", str.lower), "processor2")
    flow.add_routine(aggregator, "aggregator")
    flow.connect("source", "output", "processor1", "input")
    flow.connect("source", "output", "processor2", "input")
    flow.connect("processor1", "output", "aggregator", "input")
    flow.connect("processor2", "output", "aggregator", "input")
    return flow, aggregator


def test_fan_out_fan_in_delivers_in_connection_order() -> None:
    flow, aggregator = fan_flow()
    job = flow.execute("source")
    assert job.status == "completed"
    assert aggregator.received == [("P1", "P1: TEST_DATA"), ("P2", "P2: test_data")]


def test_fan_in_append_slot_holds_both_results() -> None:
    flow, aggregator = fan_flow()
    flow.execute("source")
    assert dict(aggregator.input_slot.data) == {
        "result": ["P1: TEST_DATA", "P2: test_data"],
        "processor": ["P1", "P2"],
    }


# -- step 4: pipeline with error recovery ----------------------------------------------


class UnreliableValidator(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.validate)
        self.output_event = self.define_event("output", ["data", "valid"])
        self.call_count = 0

    def validate(self, data: Any = None, **kwargs: Any) -> None:
        self.call_count += 1
        if self.call_count < 2:
            raise ValueError("Validation failed")
        self.emit("output", data=data, valid=True)


class CheckingProcessor(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.process)
        self.output_event = self.define_event("output", ["result"])

    def process(self, data: Any = None, valid: Any = None, **kwargs: Any) -> None:
        if not valid:
            raise ValueError("Cannot process invalid data")
        self.emit("output", result=f"Processed: {data}")


def recovery_flow() -> tuple[Flow, FakeClock, UnreliableValidator, ResultSink]:
    clock = FakeClock()
    flow = Flow(flow_id="resilient_pipeline", clock=clock)
    validator, processor, sink = UnreliableValidator(), CheckingProcessor(), ResultSink()
    flow.add_routine(DataSource(), "source")
    flow.add_routine(validator, "validator")
    flow.add_routine(processor, "processor")
    flow.add_routine(sink, "sink")
    flow.connect("source", "output", "validator", "input")
    flow.connect("validator", "output", "processor", "input")
    flow.connect("processor", "output", "sink", "input")
    validator.set_as_critical(max_retries=3, retry_delay=0.1)
    processor.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return flow, clock, validator, sink


def test_critical_validator_recovers_and_the_pipeline_completes() -> None:
    flow, clock, validator, sink = recovery_flow()
    job = flow.execute("source")
    assert job.status == "completed"
    assert validator.call_count == 2
    assert sink.results == ["Processed: test_data"]
    assert clock.sleeps == [0.1]


def test_critical_validator_recovery_is_recorded_as_one_retry() -> None:
    flow, _, _, _ = recovery_flow()
    job = flow.execute("source")
    assert [(e.routine_id, e.error_type, e.action, e.attempt) for e in job.errors] == [
        ("validator", "ValueError", "retry", 1)
    ]


# -- step 5: routing into an append aggregator with a flow-wide CONTINUE ---------------


class CountingSource(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.trigger_slot = self.define_slot("trigger", handler=self.generate)
        self.output_event = self.define_event("output", ["data"])

    def generate(self, count: int = 5, **kwargs: Any) -> None:
        for i in range(count):
            self.emit("output", data={"id": i, "value": i * 10})


class Router(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.route)
        self.high_event = self.define_event("high", ["data"])
        self.low_event = self.define_event("low", ["data"])

    def route(self, data: Any = None, **kwargs: Any) -> None:
        self.emit("high" if data.get("value", 0) >= 30 else "low", data=data)


class ValueProcessor(Routine):
    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.input_slot = self.define_slot("input", handler=self.process)
        self.output_event = self.define_event("output", ["result"])

    def process(self, data: Any = None, **kwargs: Any) -> None:
        self.emit("output", result=f"{self.label}: {data['value']}")


class CountingAggregator(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.aggregate, merge_strategy="append")
        self.set_stat("count", 0)
        self.lines: list[str] = []

    def aggregate(self, result: Any = None, **kwargs: Any) -> None:
        count = self.get_stat("count", 0) + 1
        self.set_stat("count", count)
        self.lines.append(f"[{count}] {result}")


def pipeline_flow() -> tuple[Flow, CountingAggregator]:
    flow = Flow(flow_id="advanced_pipeline")
    aggregator = CountingAggregator()
    flow.add_routine(CountingSource(), "source")
    flow.add_routine(Router(), "router")
    flow.add_routine(ValueProcessor("HIGH"), "high_processor")
    flow.add_routine(ValueProcessor("LOW"), "low_processor")
    flow.add_routine(aggregator, "aggregator")
    flow.connect("source", "output", "router", "input")
    flow.connect("router", "high", "high_processor", "input")
    flow.connect("router", "low", "low_processor", "input")
    flow.connect("high_processor", "output", "aggregator", "input")
    flow.connect("low_processor", "output", "aggregator", "input")
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return flow, aggregator


def test_routed_pipeline_aggregates_in_order() -> None:
    flow, aggregator = pipeline_flow()
    job = flow.execute("source", entry_params={"count": 5})
    assert job.status == "completed"
    assert aggregator.lines == [
        "[1] LOW: 0",
        "[2] LOW: 10",
        "[3] LOW: 20",
        "[4] HIGH: 30",
        "[5] HIGH: 40",
    ]
    assert aggregator.get_stat("count") == 5


def test_routed_pipeline_append_slot_keeps_every_result() -> None:
    flow, aggregator = pipeline_flow()
    flow.execute("source", entry_params={"count": 5})
    assert dict(aggregator.input_slot.data) == {
        "result": ["LOW: 0", "LOW: 10", "LOW: 20", "HIGH: 30", "HIGH: 40"]
    }


def test_routed_pipeline_history_shows_the_routing() -> None:
    flow, _ = pipeline_flow()
    job = flow.execute("source", entry_params={"count": 5})
    assert [r.event_name for r in job.get_execution_history("router")] == [
        "low",
        "low",
        "low",
        "high",
        "high",
    ]


def test_routed_pipeline_continues_past_a_bad_item() -> None:
    flow, aggregator = pipeline_flow()

    class BadSource(CountingSource):
        def generate(self, count: int = 5, **kwargs: Any) -> None:
            self.emit("output", data={"id": 0, "value": 0})
            self.emit("output", data="not a dict")
            self.emit("output", data={"id": 2, "value": 40})

    flow.add_routine(BadSource(), "bad_source")
    flow.connect("bad_source", "output", "router", "input")
    job = flow.execute("bad_source")
    assert job.status == "completed"
    assert aggregator.lines == ["[1] LOW: 0", "[2] HIGH: 40"]
    assert [(e.routine_id, e.action) for e in job.errors] == [("router", "continue")]
