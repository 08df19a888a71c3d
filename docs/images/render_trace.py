"""Render the trace of one routilux job as an SVG waterfall (the picture in docs/observability.md).

Runs a small flow traced with ``routilux.otel`` into OpenTelemetry's
in-memory exporter, then draws every exported span as a bar on a time
axis: one row per span, the job's span first, each delivery's span after
it in start order; failed attempts in red; a thin line from the span of
the delivery that emitted a message to the span of its delivery (the
span link). Usage: ``python docs/images/render_trace.py [OUT.svg]``.
"""

from __future__ import annotations

import sys
import time
from html import escape
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.otel import OpenTelemetryHooks

ROW = 22
LABEL = 300
WIDTH = 980


class Fetch(Routine):
    """Emits three pages to fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("page", ["url"])

    def go(self, site: str) -> None:
        time.sleep(0.004)
        for n in range(3):
            self.emit("page", url=f"{site}/{n}")


class Parse(Routine):
    """Parses a page; the first call fails once (a retried delivery)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.define_slot("input", handler=self.go)
        self.define_event("parsed", ["url", "words"])

    def go(self, url: str) -> None:
        self.calls += 1
        first = self.calls == 1
        time.sleep(0.006)
        if first:
            raise ConnectionError(f"{url}: connection reset")
        self.emit("parsed", url=url, words=len(url))


class Store(Routine):
    """Collects the parsed pages."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)

    def go(self, url: str, words: int) -> None:
        time.sleep(0.002)


def traced_job() -> list[ReadableSpan]:
    """Run the flow once, traced; its finished spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    flow = Flow(flow_id="crawl", execution_strategy="concurrent", max_workers=3)
    parse = Parse()
    parse.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=0.005)
    )
    flow.add_routine(Fetch(), "fetch")
    flow.add_routine(parse, "parse")
    flow.add_routine(Store(), "store")
    flow.connect("fetch", "page", "parse", "input")
    flow.connect("parse", "parsed", "store", "input")
    flow.add_hooks(OpenTelemetryHooks(tracer_provider=provider))
    with flow:
        flow.execute("fetch", {"site": "https://example.org"})
    deadline = time.monotonic() + 10
    while not any(s.name.startswith("job ") for s in exporter.get_finished_spans()):
        if time.monotonic() > deadline:
            raise RuntimeError("the job span never ended")
        time.sleep(0.01)  # The job span ends in a hook, just after the job.
    return list(exporter.get_finished_spans())


def render(spans: list[ReadableSpan]) -> str:
    """The SVG of ``spans``: the job's span first, then the others by start time."""
    spans = sorted(spans, key=lambda s: (not s.name.startswith("job "), s.start_time or 0))
    start = min(s.start_time or 0 for s in spans)
    end = max(s.end_time or 0 for s in spans)
    scale = (WIDTH - LABEL - 20) / max(end - start, 1)
    rows = {s.context.span_id: i for i, s in enumerate(spans)}
    height = ROW * (len(spans) + 4)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
    ]
    bars = {}
    for span in spans:
        row = rows[span.context.span_id]
        x = LABEL + ((span.start_time or 0) - start) * scale
        w = max(((span.end_time or 0) - (span.start_time or 0)) * scale, 2)
        y = ROW * (row + 1)
        bars[span.context.span_id] = (x, w, y)
        failed = span.status.status_code is StatusCode.ERROR
        colour = "#d9534f" if failed else ("#5b7db1" if span.name.startswith("job ") else "#5cb85c")
        attributes = span.attributes or {}
        attempt = attributes.get("routilux.delivery.attempt")
        delivery = str(attributes.get("routilux.delivery.id", ""))
        label = span.name + (f"  #{delivery.rsplit(':', 1)[-1]}" if delivery else "")
        label += f" (attempt {attempt})" if attempt and attempt != 1 else ""
        indent = 0 if span.name.startswith("job ") else 14
        out.append(f'<text x="{8 + indent}" y="{y + 14}">{escape(label)}</text>')
        title = f"{span.name}: {((span.end_time or 0) - (span.start_time or 0)) / 1e6:.1f} ms"
        if failed:
            title += f" - {span.status.description}"
        out.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" rx="3" '
            f'fill="{colour}"><title>{escape(title)}</title></rect>'
        )
    for span in spans:
        for link in span.links:
            if link.context.span_id not in bars:
                continue
            x0, w0, y0 = bars[link.context.span_id]
            x1, _, y1 = bars[span.context.span_id]
            out.append(
                f'<line x1="{x0 + w0:.1f}" y1="{y0 + ROW / 2}" x2="{x1:.1f}" y2="{y1 + ROW / 2}" '
                'stroke="#888" stroke-width="1" stroke-dasharray="3,2"/>'
            )
    total = (end - start) / 1e6
    axis = ROW * (len(spans) + 1) + 14
    out.append(
        f'<text x="{LABEL}" y="{axis}" fill="#555">0 ms</text>'
        f'<text x="{WIDTH - 20}" y="{axis}" fill="#555" text-anchor="end">{total:.1f} ms</text>'
        f'<text x="8" y="{axis + ROW}" fill="#555">One trace: '
        f"{spans[0].context.trace_id:032x}</text>"
        f'<text x="8" y="{axis + 2 * ROW}" fill="#555">Green: an attempt that returned; red: '
        "one that raised (status ERROR); dashed: the link from the delivery that emitted "
        "the message.</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).with_name("trace.svg")
    target.write_text(render(traced_job()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
