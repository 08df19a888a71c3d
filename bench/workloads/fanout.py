"""(b) Fan-out/fan-in: a source, 8 processors on its event, one aggregator after them."""

from __future__ import annotations

from bench.measure import Result, Timer
from bench.workloads.checks import check_job, check_sink
from bench.workloads.routines import CountingSink, PassThrough, Source
from bench.workloads.shape import PROCESSORS
from routilux import Flow

__all__ = ["build_fanout", "run_fanout"]


def build_fanout() -> tuple[Flow, CountingSink]:
    """The flow ``source -> processor_1..8 -> aggregator``, and its aggregator."""
    flow = Flow(history_limit=None)  # The whole history, as for (a).
    flow.add_routine(Source(), "source")
    aggregator = CountingSink()  # The default "override" slot: nothing accumulates.
    flow.add_routine(aggregator, "aggregator")
    for k in range(1, PROCESSORS + 1):
        processor = f"processor_{k}"
        flow.add_routine(PassThrough(), processor)
        flow.connect("source", "out", processor, "input")
        flow.connect(processor, "out", "aggregator", "input")
    return flow, aggregator


def run_fanout(n: int) -> Result:
    """Fan ``n`` source messages out and back in, in one ``execute``.

    Reports microseconds per delivery, ``n * 16`` deliveries in all (8 to the
    processors and 8 to the aggregator per source message; the entry delivery
    is not counted), and source messages per second.
    """
    flow, aggregator = build_fanout()
    with Timer() as timer:
        job = flow.execute("source", {"n": n})
    expected = {"source": 1, "aggregator": n * PROCESSORS} | {
        f"processor_{k}": n for k in range(1, PROCESSORS + 1)
    }
    deliveries = check_job(job, expected)
    check_sink(aggregator, n, copies=PROCESSORS)
    counted = n * PROCESSORS * 2
    counts = {"messages": n, "deliveries": deliveries, "counted_deliveries": counted}
    rate = {"source_msgs_per_s": n / timer.elapsed}
    return Result.per_operation(timer, counted, counts, rate)
