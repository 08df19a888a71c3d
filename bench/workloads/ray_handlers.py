"""(r) Handlers on Ray: a CPU-bound fan-out beside the thread pool; the cost of a delivery.

Each workload that uses Ray starts a local cluster of 2 CPUs in its own
process (outside the timed part) and shuts it down at the end. The
routines Ray runs are sent to its workers by value (Ray's pickler), so the
workers need routilux, not this folder, on their path.

- ``r``: ``source`` emits ``n`` messages to a routine whose handler spins
  for 50 ms of its own CPU time, under the Ray strategy (``n`` driver
  threads): its wall seconds, after a warm-up execute.
- ``r-threads``: the same on the concurrent strategy (``n`` threads, one
  interpreter lock): the baseline.
- ``r-delivery``: ``n`` deliveries to an empty handler under the Ray
  strategy with one driver thread (one delivery at a time): wall µs per
  delivery, beside Ray's own round trip measured in the same process on
  the same cluster: ``n`` calls of an empty ``@ray.remote`` task, each
  awaited with ``ray.get`` before the next.

Ray's workers run at niceness 0 here (``RAY_worker_niceness``), as the
thread pool does; Ray's default, 15, starves them on a busy machine.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.measure import Result, Timer, expect
from bench.workloads.checks import check_job
from routilux import Flow, Routine

__all__ = ["run_fanout", "run_ray_delivery"]

#: CPU seconds each fan-out handler spins for.
SPIN_S = 0.05
#: The local cluster's CPUs (the machine's cores).
RAY_CPUS = 2


class Source(Routine):
    """Emits ``{"i": 0}`` ... ``{"i": n - 1}`` on ``out``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.start)
        self.define_event("out", ["i"])

    def start(self, n: int) -> None:
        """Emit ``n`` messages."""
        for i in range(n):
            self.emit("out", i=i)


class Spinner(Routine):
    """Spins for ``SPIN_S`` seconds of its thread's CPU time per message (CPU-bound work)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.spin)

    def spin(self, i: int) -> None:
        """Burn the CPU: with threads, the interpreter lock lets one spin at a time."""
        end = time.thread_time() + SPIN_S
        while time.thread_time() < end:
            pass


class Empty(Routine):
    """A handler that does nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.nothing)

    def nothing(self, i: int) -> None:
        """Nothing."""


@contextmanager
def _local_ray() -> Iterator[Any]:
    """A local cluster of RAY_CPUS CPUs for this process; this module's routines go by value."""
    import ray

    # Ray runs its workers at nice 15 by default; the thread pool of r-threads
    # runs at 0, and so do these, for a fair comparison on a busy machine.
    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        yield ray
    finally:
        ray.shutdown()


def _flow(strategy: str, workers: int, handler: Routine) -> Flow:
    flow = Flow(execution_strategy=strategy, max_workers=workers)
    flow.add_routine(Source(), "source")
    flow.add_routine(handler, "handler")
    flow.connect("source", "out", "handler", "input")
    return flow


def _timed_execute(flow: Flow, n: int) -> tuple[Timer, int]:
    with Timer() as timer:
        job = flow.execute("source", {"n": n})
    return timer, check_job(job, {"source": 1, "handler": n})


def _result(timer: Timer, n: int, counts: dict[str, int], **secondary: float) -> Result:
    return Result(
        value=timer.elapsed if "wall" in counts else timer.elapsed / n * 1e6,
        cost_us=timer.elapsed / n * 1e6,
        elapsed_s=timer.elapsed,
        operations=n,
        counts={k: v for k, v in counts.items() if k != "wall"},
        secondary=secondary,
        gc_collections=timer.gc_collections,
        cpu_share=timer.cpu_share,
        peak_rss_kb=timer.peak_rss_kb,
    )


def _fanout(strategy: str, n: int) -> Result:
    flow = _flow(strategy, n, Spinner())
    try:
        cold, _ = _timed_execute(flow, n)  # Warm-up: threads, Ray's workers and imports.
        timer, deliveries = _timed_execute(flow, n)
    finally:
        flow.shutdown()
    counts = {"handlers": n, "deliveries": deliveries, "wall": 1}
    return _result(timer, n, counts, cold_s=cold.elapsed)


def run_fanout(n: int, strategy: str) -> Result:
    """(r), (r-threads): ``n`` CPU-bound handlers of 50 ms; wall seconds of one execute."""
    if strategy != "ray":
        return _fanout(strategy, n)
    with _local_ray():
        return _fanout(strategy, n)


def run_ray_delivery(n: int) -> Result:
    """(r-delivery) ``n`` deliveries to an empty handler, one at a time, on Ray; µs each.

    In the same process, on the same cluster and just before, ``n`` empty
    Ray tasks awaited one at a time: Ray's own round trip (``ray_task_us``),
    and what the strategy adds to it (``overhead_us``).
    """
    with _local_ray() as ray:
        roundtrip = _ray_roundtrip(ray, n)
        flow = _flow("ray", 1, Empty())
        try:
            _timed_execute(flow, min(n, 20))  # Warm-up: Ray's workers and imports.
            timer, deliveries = _timed_execute(flow, n)
        finally:
            flow.shutdown()
    per_delivery = timer.elapsed / n * 1e6
    return _result(
        timer,
        n,
        {"messages": n, "deliveries": deliveries},
        ray_task_us=roundtrip,
        overhead_us=per_delivery - roundtrip,
    )


def _nothing() -> None:
    """An empty Ray task."""


def _ray_roundtrip(ray: Any, n: int) -> float:
    """µs per empty ``@ray.remote`` task awaited before the next, over ``n`` tasks."""
    task: Callable[..., Any] = ray.remote(max_retries=0)(_nothing).remote
    ray.get([task() for _ in range(min(n, 20))])  # Warm-up: Ray's workers.
    done = 0
    with Timer() as timer:
        for _ in range(n):
            ray.get(task())
            done += 1
    expect("tasks awaited", done, n)
    return timer.elapsed / n * 1e6
