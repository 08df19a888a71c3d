"""(a-hooks) and (a-otel): the chain of (a) observed by event hooks, or traced with OpenTelemetry.

Each is compared with (a) measured in the same run: the ratio is what
observing costs per delivery. (a) itself has no hook registered, so it
shows that a flow without hooks pays nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from bench.measure import Result, Timer, expect
from bench.workloads.chain import build_chain, expected_deliveries
from bench.workloads.checks import check_job, check_sink
from bench.workloads.shape import STAGES
from routilux.hooks import DeliveryEvent, EmitEvent, Hooks, JobEvent

__all__ = ["run_observed_chain"]


class CountingHooks(Hooks):
    """Overrides every event method: each event is built and delivered."""

    def __init__(self) -> None:
        self.deliveries = 0
        self.emits = 0
        self.jobs = 0

    def job_started(self, event: JobEvent) -> None:
        self.jobs += 1

    def delivery_started(self, event: DeliveryEvent) -> None:
        pass

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        self.deliveries += 1

    def delivery_failed(self, event: DeliveryEvent) -> None:
        pass

    def emitted(self, event: EmitEvent) -> None:
        self.emits += 1

    def job_ended(self, event: JobEvent) -> None:
        pass


def _otel() -> tuple[Hooks, Any]:
    """OpenTelemetryHooks on SDK providers whose spans go to an exporter that counts them."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from routilux.otel import OpenTelemetryHooks

    class Counting(SpanExporter):
        def __init__(self) -> None:
            self.spans = 0
            self.lock = threading.Lock()

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            with self.lock:
                self.spans += len(spans)
            return SpanExportResult.SUCCESS

    exporter = Counting()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    hooks = OpenTelemetryHooks(tracer_provider=tracer_provider, meter_provider=meter_provider)
    return hooks, exporter


def run_observed_chain(n: int, *, observer: str) -> Result:
    """(a) with ``observer`` registered on the flow: ``"hooks"`` or ``"otel"``; µs per hop."""
    flow, sink = build_chain(record_history=True, history_limit=None)
    if observer == "hooks":
        hooks: Hooks = CountingHooks()
        exporter = None
    else:
        hooks, exporter = _otel()
    flow.add_hooks(hooks)
    try:
        with Timer() as timer:
            job = flow.execute("source", {"n": n})
    finally:
        flow.shutdown()
    deliveries = check_job(job, expected_deliveries(n))
    check_sink(sink, n)
    hops = n * (STAGES + 1)
    counts = {"messages": n, "hops": hops, "deliveries": deliveries}
    if isinstance(hooks, CountingHooks):
        expect("deliveries told to the hooks", hooks.deliveries, deliveries)
        expect("emits told to the hooks", hooks.emits, n * (STAGES + 1))
    if exporter is not None:
        counts["spans"] = exporter.spans
        # One span per delivery, and the job's (ended once the job ended).
        expect("spans exported", exporter.spans, deliveries + 1)
    return Result.per_operation(timer, hops, counts)
