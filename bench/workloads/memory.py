"""(m) Memory: the chain of (a) with all N deliveries of the source pending at once.

The source's one delivery emits N messages; the sequential strategy queues a
handler's emits when it returns, so all N wait in the job's queue before the
first one is delivered. They then move through the 10 stages in waves: the
queue holds N deliveries (of one stage, then of the next) until the sink has
taken the last one.

The flow takes the defaults but for the options of the workload: (m) is
``Flow()``'s (history on, the latest 10,000 records kept), (m-hist) keeps
the whole history (``history_limit=None``), (m-nohist) keeps none
(``record_history=False``).
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from bench.measure import (
    Result,
    Timer,
    VerificationError,
    current_rss_kb,
    expect,
    peak_rss_kb,
    reset_peak_rss,
)
from bench.workloads.chain import build_chain, expected_deliveries
from bench.workloads.checks import check_job, check_sink
from bench.workloads.routines import CountingSink, CountingSource, FirstHopProbe
from bench.workloads.shape import STAGES
from routilux import Flow

__all__ = ["run_memory"]

_MB = 1024 * 1024


def _build(flow_options: dict[str, Any]) -> tuple[Flow, CountingSink, FirstHopProbe]:
    """The chain of (a), with probes as its source and first stage."""
    source = CountingSource()
    probe = FirstHopProbe(source)
    flow, sink = build_chain(source=source, first_stage=probe, **flow_options)
    return flow, sink, probe


def _run_checked(
    n: int, flow_options: dict[str, Any], *, traced: bool
) -> tuple[Timer, dict[str, int], int]:
    """Build the chain, run one job of ``n`` messages, check it.

    With ``traced``, :mod:`tracemalloc` traces the job (not the building of
    the flow), and its peak, in bytes, is returned; otherwise 0.
    """
    flow, sink, probe = _build(flow_options)
    record_history, history_limit = flow.record_history, flow.history_limit
    traced_peak = 0
    try:
        if traced:
            gc.collect()
            tracemalloc.start()
        try:
            with Timer() as timer:
                job = flow.execute("source", {"n": n})
        finally:
            if traced:
                traced_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    finally:
        flow.shutdown()
    deliveries = check_job(job, expected_deliveries(n))
    check_sink(sink, n)
    expect("messages emitted by the source in its one delivery", probe.source.emitted, n)
    expect("messages pending before the first hop", probe.emitted_before_first_call, n)
    history = len(job.execution_history)
    emits = n * (STAGES + 1) if record_history else 0
    expect("history records kept and dropped", history + job.history_dropped, emits)
    if history_limit is None:
        expect("history records", history, emits)
    elif not min(emits, history_limit) <= history <= 2 * history_limit:
        # The engine trims to the limit once the history holds twice as many.
        raise VerificationError(f"{history} history records kept for a limit of {history_limit}")
    counts = {
        "messages": n,
        "pending_at_once": n,
        "hops": n * (STAGES + 1),
        "deliveries": deliveries,
        "history_records": history,
    }
    return timer, counts, traced_peak


def run_memory(n: int, **flow_options: Any) -> Result:
    """The peak memory of one job of the chain with ``n`` deliveries pending; MB above rest.

    The flow takes ``flow_options`` (``record_history``, ``history_limit``),
    and the defaults for the rest: with them, the job keeps its latest
    10,000 history records.

    In one worker process:

    1. ``gc.collect()``, then the RSS now is the interpreter at rest (with
       routilux and the harness imported, no flow yet), and the process's
       peak RSS is reset to it (Linux: ``/proc/self/clear_refs``).
    2. The chain is built and runs one job of ``n`` messages. The figure is
       the process's peak RSS since the reset minus the RSS at rest, in MB
       (MiB); ``bytes_per_pending`` is that in bytes divided by ``n``.
    3. A new chain runs the same job under :mod:`tracemalloc` (started after
       the flow is built): its peak is ``tracemalloc_peak_mb``, the Python
       allocations alone. It is a separate job because tracing adds memory
       of its own (a trace per allocated block) and would inflate the RSS.

    Both jobs' counts are checked, and that all ``n`` messages were pending
    before the first hop.
    """
    gc.collect()
    rest_kb = current_rss_kb()
    was_reset = reset_peak_rss()
    peak_before_kb = peak_rss_kb()
    if rest_kb is None:  # Not Linux: the peak so far stands in for the RSS at rest.
        rest_kb = peak_before_kb
    timer, counts, _ = _run_checked(n, flow_options, traced=False)
    peak_kb = timer.peak_rss_kb
    if rest_kb is None or peak_kb is None:
        raise VerificationError("this platform reports no RSS")
    if not was_reset and peak_before_kb is not None and peak_kb <= peak_before_kb:
        raise VerificationError("the job did not raise the process's peak RSS, so it is unknown")
    gc.collect()
    _, traced_counts, traced_peak = _run_checked(n, flow_options, traced=True)
    expect("counts of the traced job", traced_counts, counts)
    above_kb = peak_kb - rest_kb
    secondary = {
        "bytes_per_pending": above_kb * 1024 / n,
        "tracemalloc_peak_mb": traced_peak / _MB,
        "rest_mb": rest_kb / 1024,
        "peak_rss_mb": peak_kb / 1024,
    }
    return Result(
        value=above_kb / 1024,
        cost_us=timer.elapsed / counts["hops"] * 1e6,
        elapsed_s=timer.elapsed,
        operations=counts["hops"],
        counts=counts | {"peak_reset": int(was_reset)},
        secondary=secondary,
        gc_collections=timer.gc_collections,
        cpu_share=timer.cpu_share,
        peak_rss_kb=peak_kb,
    )
