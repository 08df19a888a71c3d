"""(a) and (g) The chain: a source, 10 pass-through routines and a counting sink, in one job."""

from __future__ import annotations

from bench.measure import Result, Timer, expect
from bench.workloads.checks import check_job, check_sink
from bench.workloads.routines import MAX_DELIVERIES, CountingSink, PassThrough, Source
from bench.workloads.shape import STAGES
from routilux import Flow
from routilux.stores import JobStore

__all__ = ["build_chain", "expected_deliveries", "run_chain"]

#: Messages of the untimed warm-up execute of the concurrent chain.
WARMUP = 10


def build_chain(
    *,
    record_history: bool,
    history_limit: int | None = None,
    workers: int | None = None,
    store: JobStore | None = None,
    checkpoint_every: int = 1,
    source: Source | None = None,
    first_stage: PassThrough | None = None,
) -> tuple[Flow, CountingSink]:
    """The flow ``source -> stage_1 -> ... -> stage_10 -> sink``, and its sink.

    Args:
        record_history: The flow's ``record_history``.
        history_limit: The flow's ``history_limit``.
        workers: ``None`` for the sequential strategy; otherwise the concurrent
            strategy with this many worker threads.
        store: The flow's job store (every job durable), or ``None`` for
            in-memory jobs.
        checkpoint_every: The flow's ``checkpoint_every``: deliveries per
            committed checkpoint of a durable job.
        source: The source routine (a new :class:`Source` by default).
        first_stage: The routine of ``stage_1`` (a new :class:`PassThrough`
            by default); the memory workload passes probes that behave the same.
    """
    if workers is None:
        flow = Flow(
            max_deliveries=MAX_DELIVERIES,
            record_history=record_history,
            history_limit=history_limit,
            store=store,
            checkpoint_every=checkpoint_every,
        )
    else:
        flow = Flow(
            execution_strategy="concurrent",
            max_workers=workers,
            max_deliveries=MAX_DELIVERIES,
            record_history=record_history,
            history_limit=history_limit,
            store=store,
            checkpoint_every=checkpoint_every,
        )
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
    Every routine keeps the default limit of one delivery at a time.
    """
    flow, sink = build_chain(record_history=record_history, workers=workers)
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
