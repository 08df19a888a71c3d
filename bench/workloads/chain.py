"""(a) and (g) The chain: a source, 10 pass-through routines and a counting sink, in one job."""

from __future__ import annotations

from typing import Any

from bench.measure import Result, Timer, expect
from bench.workloads.checks import check_job, check_sink
from bench.workloads.routines import CountingSink, PassThrough, Source
from bench.workloads.shape import STAGES
from routilux import Flow

__all__ = ["build_chain", "expected_deliveries", "run_chain"]

#: Messages of the untimed warm-up execute of the concurrent chain.
WARMUP = 10


def build_chain(
    *,
    workers: int | None = None,
    source: Source | None = None,
    first_stage: PassThrough | None = None,
    **flow_options: Any,
) -> tuple[Flow, CountingSink]:
    """The flow ``source -> stage_1 -> ... -> stage_10 -> sink``, and its sink.

    Args:
        workers: ``None`` for the sequential strategy; otherwise the concurrent
            strategy with this many worker threads, each routine running one
            delivery at a time (``set_max_concurrency(1)``), so that routines
            run in parallel but each in order, and the sink's count needs no
            lock.
        source: The source routine (a new :class:`Source` by default).
        first_stage: The routine of ``stage_1`` (a new :class:`PassThrough`
            by default); the memory workload passes probes that behave the same.
        **flow_options: Arguments of ``Flow`` (``record_history``,
            ``history_limit``, ``store``, ``checkpoint_every``...); the
            others keep their defaults.
    """
    if workers is not None:
        flow_options.update(execution_strategy="concurrent", max_workers=workers)
    flow = Flow(**flow_options)
    flow.add_routine(source or Source(), "source")
    previous = "source"
    for k in range(1, STAGES + 1):
        stage = f"stage_{k}"
        flow.add_routine(first_stage if k == 1 and first_stage else PassThrough(), stage)
        flow.connect(previous, "out", stage, "input")
        previous = stage
    sink = CountingSink()
    flow.add_routine(sink, "sink")
    flow.connect(previous, "out", "sink", "input")
    if workers is not None:
        for routine in flow.routines.values():
            routine.set_max_concurrency(1)
    return flow, sink


def expected_deliveries(n: int) -> dict[str, int]:
    """The deliveries each routine of the chain runs for ``n`` messages."""
    return {"source": 1, "sink": n} | {f"stage_{k}": n for k in range(1, STAGES + 1)}


def run_chain(n: int, *, record_history: bool, workers: int | None = None) -> Result:
    """Push ``n`` messages through the chain in one ``execute``; microseconds per hop.

    A hop is one delivery to a pass-through or to the sink: ``n * 11`` in all
    (the entry delivery that starts the source is not counted). With
    ``workers``, the flow uses the concurrent strategy, and an untimed
    execute of ``WARMUP`` messages runs first so the worker threads exist.
    Every routine runs one delivery at a time. The job keeps its whole
    history (``history_limit=None``), as the dispatcher baseline does.
    """
    flow, sink = build_chain(record_history=record_history, history_limit=None, workers=workers)
    try:
        if workers is not None:
            check_job(flow.execute("source", {"n": WARMUP}), expected_deliveries(WARMUP))
            check_sink(sink, WARMUP)
            sink.clear()
        with Timer() as timer:
            job = flow.execute("source", {"n": n})
    finally:
        flow.shutdown()
    deliveries = check_job(job, expected_deliveries(n))
    check_sink(sink, n)
    hops = n * (STAGES + 1)
    emits = n * (STAGES + 1)  # the source's and every pass-through's
    history = len(job.execution_history)
    expect("history records", history, emits if record_history else 0)
    counts = {"messages": n, "hops": hops, "deliveries": deliveries, "history_records": history}
    return Result.per_operation(timer, hops, counts)
