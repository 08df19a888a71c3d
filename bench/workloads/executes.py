"""(c) Many executes: one small job after another on the same flow."""

from __future__ import annotations

from bench.measure import Result, Timer, expect
from bench.workloads.checks import check_job, check_sink
from bench.workloads.routines import CountingSink, PassThrough, Source
from routilux import Flow

__all__ = ["build_small_flow", "run_executes"]


def build_small_flow() -> tuple[Flow, CountingSink]:
    """The flow ``source -> middle -> sink`` (defaults otherwise), and its sink."""
    flow = Flow()
    flow.add_routine(Source(), "source")
    flow.add_routine(PassThrough(), "middle")
    sink = CountingSink()
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "middle", "input")
    flow.connect("middle", "out", "sink", "input")
    return flow, sink


def run_executes(executes: int) -> Result:
    """Run ``executes`` jobs of one message each; executes per second.

    Each job is three deliveries: the entry to the source, the source's
    message to the middle routine, and the middle's to the sink.
    """
    flow, sink = build_small_flow()
    entry = {"n": 1}
    completed = 0
    with Timer() as timer:
        for _ in range(executes):
            job = flow.execute("source", entry)
            completed += job.status == "completed"
    expect("completed jobs", completed, executes)
    check_job(job, {"source": 1, "middle": 1, "sink": 1})  # The last one, in detail.
    expect("sink messages", sink.count, executes)
    check_sink(sink, 1, copies=executes)
    counts = {"executes": executes, "completed": completed, "sink_received": sink.count}
    cost = timer.elapsed / executes * 1e6
    return Result(
        value=executes / timer.elapsed,
        cost_us=cost,
        elapsed_s=timer.elapsed,
        operations=executes,
        counts=counts,
        secondary={"us_per_execute": cost},
        gc_collections=timer.gc_collections,
        cpu_share=timer.cpu_share,
        peak_rss_kb=timer.peak_rss_kb,
    )
