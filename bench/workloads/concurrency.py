"""(e), (f) and f-burst: handlers that wait, on the concurrent strategy, against their ideal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeAlias

from bench.measure import Result, Timer, VerificationError, expect
from bench.workloads.checks import check_job
from bench.workloads.routines import AsyncSleeper, Sleeper, Source
from bench.workloads.shape import (
    ASYNC_IN_FLIGHT,
    ASYNC_SLEEP_S,
    ASYNC_WARMUP,
    ASYNC_WORKERS,
    BURST_BUSY_PROCESSES,
    BURST_SLEEP_S,
    BURST_TIMEOUT_S,
    BURST_WARMUP,
    IO_SLEEP_S,
    IO_WORKERS,
)
from routilux import ErrorHandler, ErrorStrategy, Flow, JobState

__all__ = ["build_waiting", "run_async_burst", "run_async_io", "run_concurrent_io"]

_Waiting: TypeAlias = Sleeper | AsyncSleeper


def build_waiting(waiter: _Waiting, workers: int) -> Flow:
    """The flow ``source -> waiter`` on the concurrent strategy with ``workers`` threads."""
    flow = Flow(execution_strategy="concurrent", max_workers=workers)
    flow.add_routine(Source(), "source")
    flow.add_routine(waiter, "waiter")
    flow.connect("source", "out", "waiter", "input")
    return flow


def _execute(flow: Flow, waiter: _Waiting, n: int) -> tuple[Timer, dict[str, int]]:
    """Run one job of ``n`` messages, timed; check it and what ``waiter`` received."""
    waiter.clear()
    with Timer() as timer:
        job = flow.execute("source", {"n": n})
    deliveries = check_job(job, {"source": 1, "waiter": n})
    expect("messages received by the waiter", sorted(waiter.received), list(range(n)))
    return timer, {"messages": n, "deliveries": deliveries, "waiter_received": n}


def _result(timer: Timer, n: int, counts: dict[str, int], secondary: dict[str, float]) -> Result:
    """Wall seconds of the timed execute; ``cost_us`` is wall µs per message."""
    return Result(
        value=timer.elapsed,
        cost_us=timer.elapsed / n * 1e6,
        elapsed_s=timer.elapsed,
        operations=n,
        counts=counts,
        secondary=secondary,
        gc_collections=timer.gc_collections,
        cpu_share=timer.cpu_share,
        peak_rss_kb=timer.peak_rss_kb,
    )


def run_concurrent_io(n: int) -> Result:
    """(e) ``n`` messages to a handler that sleeps 20 ms, on 16 workers; wall seconds.

    The routine keeps the default concurrency (no limit of its own), so up
    to 16 handlers sleep at once; the ideal is ``ceil(n / 16) * 0.02`` s. The first execute (on a
    fresh flow, so it starts the worker threads) is the warm-up: its time is
    reported as ``cold_s``, and the figure is the second execute's.
    """
    waiter = Sleeper(IO_SLEEP_S)
    flow = build_waiting(waiter, IO_WORKERS)
    try:
        cold, _ = _execute(flow, waiter, n)
        timer, counts = _execute(flow, waiter, n)
    finally:
        flow.shutdown()
    peak = waiter.peak_in_flight
    if peak > IO_WORKERS:
        raise VerificationError(f"{peak} sleeping handlers at once on {IO_WORKERS} workers")
    return _result(timer, n, counts, {"cold_s": cold.elapsed, "peak_in_flight": peak})


def run_async_io(n: int) -> Result:
    """(f) ``n`` messages to an ``async def`` handler awaiting a 10 ms sleep; wall seconds.

    The handlers run on the engine's event-loop thread; 4 worker threads
    start them. The routine keeps the default concurrency (no limit of its
    own), so every sleep may overlap every other: the ideal is one sleep,
    0.01 s. An untimed execute
    of ``ASYNC_WARMUP`` messages first starts the worker and loop threads.
    """
    waiter = AsyncSleeper(ASYNC_SLEEP_S)
    flow = build_waiting(waiter, ASYNC_WORKERS)
    try:
        _execute(flow, waiter, min(ASYNC_WARMUP, n))
        timer, counts = _execute(flow, waiter, n)
    finally:
        flow.shutdown()
    return _result(timer, n, counts, {"peak_in_flight": waiter.peak_in_flight})


#: A process that keeps a CPU busy until its parent is gone (killed, say).
_SPIN = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


@contextmanager
def busy_processes(count: int) -> Iterator[None]:
    """Keep ``count`` processes spinning on the CPUs (a Python busy loop) inside the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


def _burst_execute(flow: Flow, waiter: AsyncSleeper, n: int) -> tuple[Timer, JobState]:
    """Run one job of ``n`` messages, timed; check it completed and every message arrived."""
    waiter.clear()
    with Timer() as timer:
        job = flow.execute("source", {"n": n})
    check_job(job, {"source": 1, "waiter": n})
    expect("messages received by the waiter", sorted(waiter.received), list(range(n)))
    return timer, job


def _timeouts(job: JobState) -> int:
    """The job's handler timeouts; any other error fails the workload."""
    kinds = [error.error_type for error in job.errors]
    others = sorted({kind for kind in kinds if kind != "HandlerTimeoutError"})
    if others:
        raise VerificationError(f"errors other than handler timeouts: {', '.join(others)}")
    return len(kinds)


def run_async_burst(n: int) -> Result:
    """(f-burst) A burst of ``n`` deliveries to a timed ``async def`` handler, on busy CPUs.

    The handler awaits a 20 ms sleep, its routine has a 0.3 s timeout and
    no concurrency limit, and the flow keeps its default bound on async
    handlers in flight (1,000). ``BURST_BUSY_PROCESSES`` processes spin on
    the CPUs meanwhile, warm-up included. The figure is the wall seconds of
    the timed execute, against ``ceil(n / 1,000) * 0.02`` s; a delivery that
    times out (recorded under CONTINUE) fails the workload, whose counts
    report them.
    """
    waiter = AsyncSleeper(BURST_SLEEP_S)
    waiter.set_timeout(BURST_TIMEOUT_S)
    waiter.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = build_waiting(waiter, ASYNC_WORKERS)
    expect("the flow's bound on async handlers", flow.max_async_in_flight, ASYNC_IN_FLIGHT)
    try:
        with busy_processes(BURST_BUSY_PROCESSES):
            _burst_execute(flow, waiter, min(BURST_WARMUP, n))
            timer, job = _burst_execute(flow, waiter, n)
    finally:
        flow.shutdown()
    timeouts = _timeouts(job)
    counts = {"messages": n, "deliveries": n + 1, "waiter_received": n, "timeouts": timeouts}
    peak = waiter.peak_in_flight
    if peak > ASYNC_IN_FLIGHT:
        raise VerificationError(f"{peak} async handlers in flight, over the bound of 1,000")
    expect(f"deliveries (of {n:,}) that timed out", timeouts, 0)
    return _result(timer, n, counts, {"timeouts": timeouts, "peak_in_flight": peak})
