"""OpenTelemetry spans and metrics of jobs (routilux.otel), checked with in-memory exporters."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, JobStatus, Routine
from routilux.hooks import Carrier, DeliveryEvent, JobEvent, Tracer
from routilux.otel import JOB_KEY, OpenTelemetryHooks
from routilux.testing import FakeClock

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


@dataclass
class Telemetry:
    """An OpenTelemetryHooks object whose spans and metrics are kept in memory."""

    hooks: OpenTelemetryHooks
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    provider: TracerProvider

    def job_spans(self, count: int = 1) -> list[ReadableSpan]:
        """The finished spans, once ``count`` job spans have ended (they end in ``job_ended``)."""
        deadline = time.monotonic() + PATIENCE
        while True:
            spans = list(self.spans.get_finished_spans())
            if sum(s.name.startswith("job ") for s in spans) >= count:
                return spans
            assert time.monotonic() < deadline, f"the job spans never ended: {spans}"
            time.sleep(0.01)  # Polling: the job span ends in a hook, after the job's waiters wake.

    def points(self, name: str) -> list[Any]:
        """The data points of the metric ``name`` now."""
        data = self.metrics.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def sums(self, name: str, *keys: str) -> dict[tuple[Any, ...], Any]:
        """The metric ``name``'s values (sums, counts for histograms) by the attributes ``keys``."""
        out: dict[tuple[Any, ...], Any] = {}
        for point in self.points(name):
            key = tuple(point.attributes.get(k) for k in keys)
            value = point.count if hasattr(point, "count") else point.value
            out[key] = out.get(key, 0) + value
        return out


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    hooks = OpenTelemetryHooks(tracer_provider=provider, meter_provider=meters)
    yield Telemetry(hooks, spans, reader, provider)
    meters.shutdown()
    provider.shutdown()


class Source(Routine):
    def __init__(self, fan: int = 3) -> None:
        super().__init__()
        self.fan = fan
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        for i in range(self.fan):
            self.emit("out", n=i)


class Double(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        self.emit("out", n=n * 2)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.define_slot("input", handler=self.go)

    def go(self, n: int = 0) -> None:
        self.seen.append(n)


class Flaky(Routine):
    """Raises on its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"call {self.calls}")
        self.emit("out", n=n)


def fan_out_fan_in(strategy: str, fan: int = 3) -> Flow:
    """source -> (left, right) -> sink: each source message reaches the sink twice."""
    flow = Flow(flow_id="fan", execution_strategy=strategy)
    flow.add_routine(Source(fan), "source")
    flow.add_routine(Double(), "left")
    flow.add_routine(Double(), "right")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "left", "input")
    flow.connect("source", "out", "right", "input")
    flow.connect("left", "out", "sink", "input")
    flow.connect("right", "out", "sink", "input")
    return flow


def by_delivery(spans: list[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {
        str(s.attributes["routilux.delivery.id"]): s
        for s in spans
        if s.attributes and "routilux.delivery.id" in s.attributes
    }


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fan_out_fan_in_spans_parents_and_links(telemetry: Telemetry, strategy: str) -> None:
    flow = fan_out_fan_in(strategy)
    flow.add_hooks(telemetry.hooks)
    try:
        job = flow.execute("source", {})
    finally:
        flow.shutdown(wait=True)
    assert job.status is JobStatus.COMPLETED
    spans = telemetry.job_spans()
    (job_span,) = [s for s in spans if s.name.startswith("job ")]
    assert job_span.name == "job fan"
    assert job_span.parent is None
    assert job_span.attributes is not None
    assert job_span.attributes["routilux.job.id"] == job.job_id
    assert job_span.attributes["routilux.job.status"] == "completed"
    deliveries = by_delivery(spans)
    # 1 source + 3 x (left, right) + 6 sink deliveries, each one span.
    assert Counter(s.name for s in deliveries.values()) == {
        "process source.trigger": 1,
        "process left.input": 3,
        "process right.input": 3,
        "process sink.input": 6,
    }
    assert len(deliveries) == 13 == len(spans) - 1
    trace_id = job_span.context.trace_id
    for span in deliveries.values():
        assert span.context.trace_id == trace_id
        assert span.kind is SpanKind.CONSUMER
        assert span.parent is not None
        assert span.parent.span_id == job_span.context.span_id
        assert span.status.status_code is StatusCode.UNSET
        attributes = span.attributes
        assert attributes is not None
        destination = span.name.removeprefix("process ")
        assert attributes["messaging.destination.name"] == destination
        assert attributes["messaging.system"] == "routilux"
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["messaging.message.id"] == attributes["routilux.delivery.id"]
        assert attributes["routilux.job.id"] == job.job_id
        assert attributes["routilux.routine.id"] == destination.split(".")[0]
        assert attributes["routilux.slot"] == destination.split(".")[1]
        assert attributes["routilux.delivery.attempt"] == 1
    # Links: each delivery to the span of the delivery whose handler emitted it.
    span_ids = {s.context.span_id: s for s in deliveries.values()}
    source = deliveries[f"{job.job_id}:1"]
    assert source.links == ()  # The entry delivery: its job is its parent, nothing emitted it.
    for span in deliveries.values():
        if span is source:
            continue
        (link,) = span.links
        cause = span_ids[link.context.span_id]
        expected = "process source.trigger"
        if span.name == "process sink.input":
            expected = {"process left.input", "process right.input"}
            assert cause.name in expected
        else:
            assert cause.name == expected
    # Fan-in: the six sink deliveries are linked to six different emitting deliveries.
    sinks = [s for s in deliveries.values() if s.name == "process sink.input"]
    assert len({s.links[0].context.span_id for s in sinks}) == 6


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_failing_then_retried_delivery(telemetry: Telemetry, strategy: str) -> None:
    flow = Flow(flow_id="retry", execution_strategy=strategy, clock=FakeClock())
    flaky = Flaky(failures=2)
    flaky.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=5)
    )
    flow.add_routine(flaky, "flaky")
    flow.add_routine(Sink(), "sink")
    flow.connect("flaky", "out", "sink", "input")
    flow.add_hooks(telemetry.hooks)
    try:
        job = flow.execute("flaky", {"n": 7})
    finally:
        flow.shutdown(wait=True)
    assert job.status is JobStatus.COMPLETED
    spans = telemetry.job_spans()
    attempts = sorted(
        (s for s in spans if s.name == "process flaky.trigger"),
        key=lambda s: s.attributes["routilux.delivery.attempt"] if s.attributes else 0,
    )
    assert [s.attributes["routilux.delivery.attempt"] for s in attempts if s.attributes] == [
        1,
        2,
        3,
    ]
    assert {s.attributes["routilux.delivery.id"] for s in attempts if s.attributes} == {
        f"{job.job_id}:1"
    }
    for failed, text in zip(attempts[:2], ["call 1", "call 2"], strict=True):
        assert failed.status.status_code is StatusCode.ERROR
        assert failed.status.description == f"ConnectionError: {text}"
        assert failed.attributes is not None
        assert failed.attributes["error.type"] == "ConnectionError"
        (event,) = failed.events
        assert event.name == "exception"
        assert event.attributes is not None
        assert event.attributes["exception.type"] == "ConnectionError"
        assert event.attributes["exception.message"] == text
    assert attempts[2].status.status_code is StatusCode.UNSET
    # The sink's delivery was emitted by the third attempt: linked to it.
    (sink,) = [s for s in spans if s.name == "process sink.input"]
    assert [link.context.span_id for link in sink.links] == [attempts[2].context.span_id]
    # Metrics: three attempts of which two failed, two retries, no dead letter.
    assert telemetry.sums("routilux.deliveries", "routilux.routine.id", "routilux.outcome") == {
        ("flaky", "failed"): 2,
        ("flaky", "succeeded"): 1,
        ("sink", "succeeded"): 1,
    }
    assert telemetry.sums("routilux.delivery.failures", "routilux.routine.id", "error.type") == {
        ("flaky", "ConnectionError"): 2
    }
    assert telemetry.sums("routilux.delivery.retries", "routilux.routine.id") == {("flaky",): 2}
    assert telemetry.points("routilux.dead_letters") == []
    assert telemetry.sums(
        "routilux.delivery.duration", "routilux.routine.id", "routilux.outcome"
    ) == {
        ("flaky", "failed"): 2,
        ("flaky", "succeeded"): 1,
        ("sink", "succeeded"): 1,
    }
    assert telemetry.sums("routilux.jobs.ended", "routilux.job.status") == {("completed",): 1}


def test_dead_letters_failed_jobs_and_the_job_span_status(telemetry: Telemetry) -> None:
    flow = Flow(flow_id="doomed")
    flaky = Flaky(failures=5)
    flaky.set_error_handler(ErrorHandler(strategy=ErrorStrategy.SKIP))
    flow.add_routine(flaky, "flaky")
    flow.add_hooks(telemetry.hooks)
    strict = Flow(flow_id="strict")
    strict.add_routine(Flaky(failures=5), "flaky")
    strict.add_hooks(telemetry.hooks)
    try:
        skipped = flow.execute("flaky")
        failed = strict.execute("flaky")
    finally:
        flow.shutdown(wait=True)
        strict.shutdown(wait=True)
    assert skipped.status is JobStatus.COMPLETED
    assert failed.status is JobStatus.FAILED
    spans = telemetry.job_spans(2)
    jobs = {s.name: s for s in spans if s.name.startswith("job ")}
    assert jobs["job doomed"].status.status_code is StatusCode.UNSET
    assert jobs["job strict"].status.status_code is StatusCode.ERROR
    assert jobs["job strict"].attributes is not None
    assert jobs["job strict"].attributes["routilux.job.status"] == "failed"
    assert telemetry.sums("routilux.dead_letters", "routilux.flow.id") == {
        ("doomed",): 1,
        ("strict",): 1,
    }
    assert telemetry.sums("routilux.jobs.ended", "routilux.flow.id", "routilux.job.status") == {
        ("doomed", "completed"): 1,
        ("strict", "failed"): 1,
    }


class Traced(Routine):
    """Opens a span of its own while it runs, and logs a record."""

    def __init__(self, tracer: trace.Tracer) -> None:
        super().__init__()
        self.tracer = tracer
        self.define_slot("trigger", handler=self.go)
        self.define_slot("later", handler=self.later)
        self.define_event("out", ["n"])

    def go(self, n: int = 0) -> None:
        with self.tracer.start_as_current_span("inner work"):
            self.emit("out", n=n)

    async def later(self, n: int = 0) -> None:
        await asyncio.sleep(0)
        with self.tracer.start_as_current_span("inner async work"):
            await asyncio.sleep(0)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_delivery_span_is_current_while_the_handler_runs(
    telemetry: Telemetry, strategy: str
) -> None:
    tracer = telemetry.provider.get_tracer("app")
    flow = Flow(flow_id="nest", execution_strategy=strategy)
    flow.add_routine(Traced(tracer), "first")
    flow.add_routine(Traced(tracer), "second")
    flow.connect("first", "out", "second", "later")
    flow.add_hooks(telemetry.hooks)
    try:
        # Started inside the application's own span: the job is its child.
        with tracer.start_as_current_span("request") as request:
            job = flow.execute("first", {"n": 1})
    finally:
        flow.shutdown(wait=True)
    assert job.status is JobStatus.COMPLETED
    spans = {s.name: s for s in telemetry.job_spans()}
    assert spans["job nest"].parent is not None
    assert spans["job nest"].parent.span_id == request.get_span_context().span_id
    assert spans["inner work"].parent is not None
    assert spans["inner work"].parent.span_id == spans["process first.trigger"].context.span_id
    inner_async = spans["inner async work"]
    assert inner_async.parent is not None
    assert inner_async.parent.span_id == spans["process second.later"].context.span_id
    assert {s.context.trace_id for s in spans.values()} == {request.get_span_context().trace_id}


def test_a_paused_job_keeps_its_span_and_shows_in_the_gauges(telemetry: Telemetry) -> None:
    gate = threading.Event()
    entered = threading.Event()

    class Blocking(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.go)
            self.define_event("out", ["n"])

        def go(self, n: int = 0) -> None:
            entered.set()
            assert gate.wait(PATIENCE)
            for i in range(4):
                self.emit("out", n=i)

    flow = Flow(flow_id="pausing")
    flow.add_routine(Blocking(), "block")
    flow.add_routine(Sink(), "sink")
    flow.connect("block", "out", "sink", "input")
    flow.add_hooks(telemetry.hooks)
    try:
        job = flow.start("block")
        assert entered.wait(PATIENCE)
        pausing = threading.Thread(target=flow.pause, args=(job,))
        pausing.start()
        gate.set()
        pausing.join(PATIENCE)
        assert job.status is JobStatus.PAUSED
        assert telemetry.sums("routilux.jobs", "routilux.flow.id", "routilux.job.status") == {
            ("pausing", "paused"): 1
        }
        assert telemetry.sums("routilux.deliveries.pending", "routilux.flow.id") == {
            ("pausing",): 4
        }
        assert flow.resume(job)
        assert job.wait(PATIENCE)
    finally:
        gate.set()
        flow.shutdown(wait=True)
    assert job.status is JobStatus.COMPLETED
    spans = telemetry.job_spans()
    (job_span,) = [s for s in spans if s.name.startswith("job ")]
    assert [e.name for e in job_span.events] == ["paused", "resumed"]
    assert {s.parent.span_id for s in spans if s.parent} == {job_span.context.span_id}
    # The gauges show only live jobs: none once it ended.
    assert telemetry.sums("routilux.jobs", "routilux.job.status") == {}


def test_many_concurrent_deliveries_each_get_one_span_and_the_right_link(
    telemetry: Telemetry,
) -> None:
    fan = 200
    flow = fan_out_fan_in("concurrent", fan=fan)
    flow.max_workers = 8
    flow.add_hooks(telemetry.hooks)
    try:
        job = flow.execute("source", {})
    finally:
        flow.shutdown(wait=True)
    assert job.status is JobStatus.COMPLETED
    spans = telemetry.job_spans()
    deliveries = by_delivery(spans)
    assert len(deliveries) == 1 + 4 * fan == len(spans) - 1
    assert len({s.context.span_id for s in spans}) == len(spans)
    span_ids = {s.context.span_id: s for s in deliveries.values()}
    sinks = [s for s in deliveries.values() if s.name == "process sink.input"]
    # Each sink delivery is linked to exactly one left or right delivery, and
    # each of those to exactly one sink delivery.
    causes = Counter(span_ids[s.links[0].context.span_id].name for s in sinks)
    assert causes == {"process left.input": fan, "process right.input": fan}
    assert len({s.links[0].context.span_id for s in sinks}) == 2 * fan
    assert telemetry.sums("routilux.deliveries", "routilux.outcome") == {
        ("succeeded",): 1 + 4 * fan
    }


class Broken(Tracer):
    """A tracer whose every synchronous method raises."""

    def job_begun(self, event: JobEvent, carrier: Carrier | None, progress: Any) -> Carrier:
        raise RuntimeError("job_begun broke")

    def attempt_started(self, event: DeliveryEvent, carrier: Carrier | None) -> Any:
        raise RuntimeError("attempt_started broke")

    def attempt_ended(self, token: Any, error: BaseException | None, duration: float) -> None:
        raise RuntimeError("attempt_ended broke")

    def carrier(self, token: Any) -> Carrier:
        raise RuntimeError("carrier broke")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_tracer_that_raises_never_fails_the_job(
    strategy: str, caplog: pytest.LogCaptureFixture
) -> None:
    flow = fan_out_fan_in(strategy)
    flow.add_hooks(Broken())
    with caplog.at_level(logging.ERROR, logger="routilux"):
        try:
            job = flow.execute("source", {})
        finally:
            flow.shutdown(wait=True)
    assert job.status is JobStatus.COMPLETED
    sink = flow.routines["sink"]
    assert isinstance(sink, Sink)
    assert sorted(sink.seen) == [0, 0, 2, 2, 4, 4]
    messages = " ".join(r.getMessage() for r in caplog.records)
    for method in ("job_begun", "attempt_started", "attempt_ended", "carrier"):
        assert f"raised in {method}" in messages


class BadCarrier(Tracer):
    def __init__(self, carrier: object) -> None:
        self.given = carrier

    def job_begun(self, event: JobEvent, carrier: Carrier | None, progress: Any) -> Any:
        return self.given


@pytest.mark.parametrize(
    "carrier",
    [{"traceparent": 42}, ["traceparent"], {"traceparent": "a\x00b"}, {"k": "\ud800"}],
)
def test_a_context_a_store_cannot_keep_is_refused_and_logged(
    carrier: object, caplog: pytest.LogCaptureFixture
) -> None:
    flow = fan_out_fan_in("sequential")
    flow.add_hooks(BadCarrier(carrier))
    with caplog.at_level(logging.ERROR, logger="routilux"):
        job = flow.execute("source", {})
    assert job.status is JobStatus.COMPLETED
    assert "not a dict of str to str" in caplog.text


def test_the_flows_own_tracer_wins_over_the_global_one(telemetry: Telemetry) -> None:
    from routilux.hooks import add_global_hooks, remove_global_hooks

    other = OpenTelemetryHooks(tracer_provider=TracerProvider())
    add_global_hooks(other)
    try:
        flow = fan_out_fan_in("sequential", fan=1)
        flow.add_hooks(telemetry.hooks)
        job = flow.execute("source", {})
    finally:
        remove_global_hooks(other)
    assert job.status is JobStatus.COMPLETED
    assert len(by_delivery(telemetry.job_spans())) == 5


def test_the_carried_context_names_the_job_span(telemetry: Telemetry) -> None:
    seen: list[Carrier | None] = []

    class Peek(OpenTelemetryHooks):
        def attempt_started(self, event: DeliveryEvent, carrier: Carrier | None) -> Any:
            seen.append(carrier)
            return super().attempt_started(event, carrier)

    flow = fan_out_fan_in("sequential", fan=1)
    flow.add_hooks(Peek(tracer_provider=telemetry.provider))
    job = flow.execute("source", {})
    assert job.status is JobStatus.COMPLETED
    spans = telemetry.job_spans()
    (job_span,) = [s for s in spans if s.name.startswith("job ")]
    trace_id = f"{job_span.context.trace_id:032x}"
    job_parent = f"00-{trace_id}-{job_span.context.span_id:016x}-"  # Then the flags.
    carried = [c for c in seen if c is not None]
    assert len(carried) == len(seen) == 5
    assert all(c[JOB_KEY].startswith(job_parent) for c in carried)
    assert carried[0]["traceparent"].startswith(job_parent)
    assert not any(c["traceparent"].startswith(job_parent) for c in carried[1:])


def test_a_job_state_is_never_given_to_the_tracer() -> None:
    given: list[object] = []

    class Keep(Tracer):
        def job_begun(self, event: JobEvent, carrier: Carrier | None, progress: Any) -> None:
            given.extend([event, progress()])

    flow = fan_out_fan_in("sequential", fan=1)
    flow.add_hooks(Keep())
    flow.execute("source", {})
    assert not any(isinstance(g, JobState) for g in given)
    assert isinstance(given[0], JobEvent)


def test_without_opentelemetry_configured_nothing_is_recorded() -> None:
    # The application set no provider: OpenTelemetry's defaults record nothing.
    flow = fan_out_fan_in("sequential")
    flow.add_hooks(OpenTelemetryHooks())
    job = flow.execute("source", {})
    assert job.status is JobStatus.COMPLETED


def test_the_trace_picture_of_the_docs_is_drawn_from_the_exported_spans() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "images" / "render_trace.py"
    spec = importlib.util.spec_from_file_location("render_trace", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    spans = module.traced_job()
    # fetch, 3 parse (one failing, then retried), 3 store, and the job.
    assert Counter(s.name for s in spans) == {
        "job crawl": 1,
        "process fetch.trigger": 1,
        "process parse.input": 4,
        "process store.input": 3,
    }
    svg = module.render(spans)
    assert svg.count("<rect x=") == len(spans)
    assert svg.count('fill="#d9534f"') == 1  # The failed attempt.
    assert svg.count("<line ") == sum(len(s.links) for s in spans) == 7
    assert f"{spans[0].context.trace_id:032x}" in svg
    assert "(attempt 2)" in svg
