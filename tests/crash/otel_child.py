"""A traced durable job, for the resumed-trace test (``test_otel_resume.py``).

``python otel_child.py --store sqlite:PATH|postgres:DSN --spans FILE`` starts
a job of the flow below on that store, prints its id, and runs it; every span
is written to FILE as one JSON line as soon as it ends (flushed, so a SIGKILL
loses none that ended). The test kills it mid-job and resumes the job in
another process.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from routilux import Flow, Routine
from routilux.otel import OpenTelemetryHooks
from routilux.stores import JobStore, PostgresStore, SqliteStore

#: Messages the source emits.
N = 40


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["i"])

    def go(self) -> None:
        for i in range(N):
            self.emit("out", i=i)


class Work(Routine):
    def __init__(self, sleep: float) -> None:
        super().__init__()
        self.sleep = sleep
        self.define_slot("input", handler=self.go)
        self.define_event("out", ["i"])

    def go(self, i: int) -> None:
        time.sleep(self.sleep)  # The handler's work: the test kills the job in the middle of it.
        self.emit("out", i=i)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.define_slot("input", handler=self.go)

    def go(self, i: int) -> None:
        self.seen.append(i)


def build_flow(sleep: float) -> Flow:
    """source -> work -> sink, durable jobs checkpointed after each delivery."""
    flow = Flow(flow_id="traced", lease_seconds=30)
    flow.add_routine(Source(), "source")
    flow.add_routine(Work(sleep), "work")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "work", "input")
    flow.connect("work", "out", "sink", "input")
    return flow


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """What the test reads of a span."""
    return {
        "name": span.name,
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": None if span.parent is None else f"{span.parent.span_id:016x}",
        "links": [f"{link.context.span_id:016x}" for link in span.links],
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
    }


class JsonLinesExporter(SpanExporter):
    """Writes each span as a JSON line, flushed at once."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock:
            for span in spans:
                self.out.write(json.dumps(span_record(span)) + "\n")
            self.out.flush()
        return SpanExportResult.SUCCESS


def open_store(spec: str) -> JobStore:
    kind, _, where = spec.partition(":")
    return SqliteStore(where) if kind == "sqlite" else PostgresStore(where)


def traced(flow: Flow, exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow.add_hooks(OpenTelemetryHooks(tracer_provider=provider))
    return provider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", required=True)
    parser.add_argument("--spans", required=True)
    parser.add_argument("--sleep", type=float, default=0.02)
    args = parser.parse_args(argv)
    with Path(args.spans).open("a", encoding="utf-8") as out:
        flow = build_flow(args.sleep)
        traced(flow, JsonLinesExporter(out))
        store = open_store(args.store)
        job = flow.start("source", {}, store=store)
        print(job.job_id, flush=True)
        job.wait()
        print(f"status {job.status.value}", flush=True)
        flow.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
