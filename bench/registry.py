"""Every workload the harness knows: its name, size, unit and how it compares to (d).

Some workloads are also compared with an ideal (the wall time if the engine
cost nothing) or with another workload measured in the same run (the
routilux shapes with their asyncio versions, (g) and (h) with (a)). The
memory workloads (m) report megabytes, compared with nothing in the run.

Workloads are named by import path, so the harness itself never imports
routilux: only the worker subprocesses do.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.measure import Result
from bench.workloads.shape import (
    ASYNC_IN_FLIGHT,
    ASYNC_WORKERS,
    BURST_BUSY_PROCESSES,
    CHAIN_WORKERS,
    IO_WORKERS,
    async_burst_ideal_s,
    async_io_ideal_s,
    concurrent_io_ideal_s,
)

#: The (r) fan-out: CPU-bound handlers, and the local Ray cluster's CPUs.
RAY_FANOUT = 8
RAY_CPUS = 2

__all__ = ["BASELINE", "WORKLOADS", "Workload", "select"]

#: The workload every ratio divides by: the chain as plain method calls.
BASELINE = "d"


@dataclass(frozen=True)
class Workload:
    """A workload as the harness runs and reports it.

    Attributes:
        name: Its id on the command line and in the JSON (``a``, ``a-nohist``...).
        title: A one-line description for the table.
        target: ``"module:function"``; the function takes the size (and
            ``options``) and returns a :class:`Result`.
        size: Messages (or executes) of a full run.
        quick_size: The same for ``--quick``.
        size_name: What ``size`` counts.
        unit: The unit of the reported figure.
        better: ``"lower"`` or ``"higher"``.
        plain_hops: Plain hops of (d) one operation is compared with: the
            ratio is ``cost_us / (plain_hops * cost_us of d)``; ``None`` for
            workloads whose cost is waiting, not work, or whose figure is
            memory (no ratio to (d)).
        ratio_note: How to read the ratio.
        options: Keyword arguments for ``target``.
        ideal: The best possible figure (in ``unit``) for a size, if there is
            one; the report gives ``median / ideal``.
        reference: Another workload whose median ``cost_us`` in the same run
            this one's is divided by (as (a), (b) and (c) by their asyncio
            versions, and (g), the concurrent chain, and (h), the durable
            one, by (a)).
        comparison_note: How to read the ratio to ``ideal`` or ``reference``.
        check_tolerance: For ``--check``, a looser tolerance than the one
            given (25% by default), for a workload whose median moves more
            than that between quiet runs; the larger of the two applies.
            ``math.inf``: the check shows the workload but never fails it
            for its figure (a failed count still fails it).
    """

    name: str
    title: str
    target: str
    size: int
    quick_size: int
    size_name: str
    unit: str
    better: str
    plain_hops: int | None
    ratio_note: str
    options: Mapping[str, Any] = field(default_factory=dict)
    ideal: Callable[[int], float] | None = None
    reference: str | None = None
    comparison_note: str = ""
    check_tolerance: float | None = None

    def run(self, size: int) -> Result:
        """Import the workload's function and run one repetition of ``size``."""
        module, function = self.target.split(":")
        result: Result = getattr(importlib.import_module(module), function)(size, **self.options)
        return result

    def describe(self, size: int) -> str:
        """The title with the size, for the table."""
        return f"{self.title} ({self.size_name}={size:,})"


_PER_HOP = "µs per hop ÷ plain µs per hop"
_WAITING = "n/a: the handler waits; compare with the ideal"
_PER_DURABLE = "µs per durable delivery ÷ plain µs per hop"
_VS_CHAIN = "µs per durable delivery ÷ µs per hop of (a), the in-memory chain, same run"
_VS_A = "µs per hop ÷ µs per hop of (a), the same chain unobserved, same run"
_VS_ASYNCIO_CHAIN = "µs per hop ÷ µs per hop of a-asyncio, same run"
_MEMORY = "n/a: a memory figure, compared with nothing in the run"
_NO_HOPS = "n/a: processes and a database, not hops; compare with the reference"

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "a",
            "chain: source → 10 pass-throughs → sink, one execute, history on",
            "bench.workloads.chain:run_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"record_history": True},
            reference="a-asyncio",
            comparison_note=_VS_ASYNCIO_CHAIN,
        ),
        Workload(
            "a-nohist",
            "chain as above, record_history=False",
            "bench.workloads.chain:run_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"record_history": False},
            reference="a-asyncio",
            comparison_note=_VS_ASYNCIO_CHAIN,
        ),
        Workload(
            "a-hooks",
            "chain as (a), with event hooks overriding every method (each event built and told)",
            "bench.workloads.observed:run_observed_chain",
            20_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"observer": "hooks"},
            reference="a",
            comparison_note=_VS_A,
        ),
        Workload(
            "a-otel",
            "chain as (a), traced: routilux.otel on OpenTelemetry's SDK, a span per delivery "
            "exported to a counting exporter, metrics to an in-memory reader",
            "bench.workloads.observed:run_observed_chain",
            20_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"observer": "otel"},
            reference="a",
            comparison_note=_VS_A,
        ),
        Workload(
            "a-asyncio",
            "chain as 10 asyncio.Queue consumer tasks → counting task (no routilux)",
            "bench.workloads.baselines:run_asyncio_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
        ),
        Workload(
            "a-asyncio-handoff",
            "chain as a-asyncio with asyncio.Queue(maxsize=1): each hop hands the message "
            "to the next task (no routilux)",
            "bench.workloads.baselines:run_asyncio_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"maxsize": 1},
        ),
        Workload(
            "a-dispatch",
            "chain on a bare-bones event dispatcher: a deque of (handler, message) tuples, "
            "keyword handlers, no bookkeeping (no routilux)",
            "bench.workloads.baselines:run_dispatcher_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"history": False},
        ),
        Workload(
            "a-dispatch-hist",
            "chain on the dispatcher of a-dispatch, which also appends a history tuple "
            "(source, event, message, time) per emit (no routilux)",
            "bench.workloads.baselines:run_dispatcher_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"history": True},
        ),
        Workload(
            "b",
            "fan-out/fan-in: source → 8 processors → 1 aggregator, one execute",
            "bench.workloads.fanout:run_fanout",
            20_000,
            500,
            "N",
            "µs/delivery",
            "lower",
            1,
            "µs per delivery ÷ plain µs per hop",
            reference="b-asyncio",
            comparison_note="µs per delivery ÷ µs per delivery of b-asyncio, same run",
        ),
        Workload(
            "b-asyncio",
            "fan-out/fan-in as asyncio.Queue tasks: a producer → 8 consumer tasks → "
            "an aggregating task (no routilux)",
            "bench.workloads.baselines:run_asyncio_fanout",
            20_000,
            500,
            "N",
            "µs/delivery",
            "lower",
            1,
            "µs per delivery ÷ plain µs per hop",
        ),
        Workload(
            "c",
            "many executes: source → middle → sink, one message per execute",
            "bench.workloads.executes:run_executes",
            10_000,
            200,
            "executes",
            "executes/s",
            "higher",
            3,
            "µs per execute ÷ (3 x plain µs per hop)",
            reference="c-asyncio",
            comparison_note="µs per execute ÷ µs per run of c-asyncio, same run",
        ),
        Workload(
            "c-asyncio",
            "many executes as asyncio: per run, 3 queues and 3 tasks (source → middle → sink), "
            "one message; one asyncio.run around the loop (no routilux)",
            "bench.workloads.baselines:run_asyncio_executes",
            10_000,
            200,
            "executes",
            "executes/s",
            "higher",
            3,
            "µs per run ÷ (3 x plain µs per hop)",
        ),
        Workload(
            BASELINE,
            "chain as plain method calls (in-process lower bound)",
            "bench.workloads.baselines:run_plain_chain",
            100_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            "the baseline itself",
        ),
        Workload(
            "e",
            f"concurrent I/O: source → 1 routine whose sync handler sleeps 20 ms, "
            f"{IO_WORKERS} workers, default concurrency (no routine limit), "
            "after a warm-up execute",
            "bench.workloads.concurrency:run_concurrent_io",
            64,
            32,
            "N",
            "s",
            "lower",
            None,
            _WAITING,
            ideal=concurrent_io_ideal_s,
            comparison_note=f"wall s ÷ ideal s; ideal = ⌈N/{IO_WORKERS}⌉ x 0.02 s",
        ),
        Workload(
            "f",
            f"async I/O: source → 1 async def handler awaiting asyncio.sleep(0.01), "
            f"{ASYNC_WORKERS} workers, no routine concurrency limit (the flow's default "
            f"bound of {ASYNC_IN_FLIGHT:,} in flight), after a warm-up execute",
            "bench.workloads.concurrency:run_async_io",
            10_000,
            500,
            "N",
            "s",
            "lower",
            None,
            _WAITING,
            ideal=async_io_ideal_s,
            comparison_note="wall s ÷ ideal s; ideal = one sleep, 0.01 s (every sleep overlaps)",
            check_tolerance=0.5,  # Its median moves by up to 37% between quiet runs.
        ),
        Workload(
            "f-burst",
            f"async burst: source → 1 async def handler awaiting asyncio.sleep(0.02) with "
            f"a 0.3 s routine timeout, no routine concurrency limit, the flow's default bound "
            f"of {ASYNC_IN_FLIGHT:,} in flight, {ASYNC_WORKERS} workers, while "
            f"{BURST_BUSY_PROCESSES} busy processes spin on the CPUs, after a warm-up execute",
            "bench.workloads.concurrency:run_async_burst",
            30_000,
            2_000,
            "N",
            "s",
            "lower",
            None,
            _WAITING,
            ideal=async_burst_ideal_s,
            comparison_note=(
                f"wall s ÷ ideal s; ideal = ⌈N/{ASYNC_IN_FLIGHT:,}⌉ x 0.02 s; "
                "a handler timeout fails the workload"
            ),
            # Measured against busy processes: the machine's other load moves it a lot.
            check_tolerance=math.inf,
        ),
        Workload(
            "g",
            f"chain as (a), concurrent strategy, {CHAIN_WORKERS} workers, after a warm-up execute",
            "bench.workloads.chain:run_chain",
            20_000,
            2_000,
            "N",
            "µs/hop",
            "lower",
            1,
            _PER_HOP,
            {"record_history": True, "workers": CHAIN_WORKERS},
            reference="a",
            comparison_note="µs per hop ÷ µs per hop of (a), the sequential chain, same run",
            # Up to 3x faster when another process keeps the second core busy.
            check_tolerance=math.inf,
        ),
        Workload(
            "h",
            'durable chain: (a) with Flow(store=SqliteStore(path, synchronous="NORMAL")), WAL, '
            "a checkpoint committed per delivery (survives SIGKILL, not power loss)",
            "bench.workloads.durable:run_durable_chain",
            2_000,
            200,
            "N",
            "µs/delivery",
            "lower",
            1,
            _PER_DURABLE,
            {"synchronous": "NORMAL"},
            reference="a",
            comparison_note=_VS_CHAIN,
        ),
        Workload(
            "h-full",
            'durable chain as (h), synchronous="FULL": an fsync per commit (survives power loss)',
            "bench.workloads.durable:run_durable_chain",
            2_000,
            200,
            "N",
            "µs/delivery",
            "lower",
            1,
            _PER_DURABLE,
            {"synchronous": "FULL"},
            reference="a",
            comparison_note=_VS_CHAIN,
        ),
        Workload(
            "h-batch",
            "durable chain as (h), NORMAL, Flow(checkpoint_every=100): a commit per 100 "
            "deliveries (a crash re-runs up to 100)",
            "bench.workloads.durable:run_durable_chain",
            2_000,
            200,
            "N",
            "µs/delivery",
            "lower",
            1,
            _PER_DURABLE,
            {"synchronous": "NORMAL", "checkpoint_every": 100},
            reference="a",
            comparison_note=_VS_CHAIN,
        ),
        Workload(
            "h-agg",
            'durable collection: 10,000 items through an Aggregator (complete_on="count") '
            "in one job, SqliteStore NORMAL, a checkpoint per item",
            "bench.workloads.collect:run_durable_collection",
            10_000,
            500,
            "items",
            "µs/item",
            "lower",
            1,
            _PER_DURABLE,
            reference="h-agg-1k",
            comparison_note=(
                "µs per item ÷ µs per item of h-agg-1k, same run: 1 is linear, 10 quadratic"
            ),
        ),
        Workload(
            "h-agg-1k",
            "durable collection as (h-agg), of 1,000 items",
            "bench.workloads.collect:run_durable_collection",
            1_000,
            50,
            "items",
            "µs/item",
            "lower",
            1,
            _PER_DURABLE,
        ),
        Workload(
            "s",
            "HTTP service: routilux serve on SQLite, 50 clients on loopback each POST "
            "/flows/bench/jobs in turn (a source → sink flow), until every job completed",
            "bench.workloads.service:run_service_load",
            2_000,
            100,
            "jobs",
            "ms/job",
            "lower",
            None,
            "n/a: requests over loopback, jobs in a store; the Also column gives jobs/s "
            "and the request latency",
            check_tolerance=math.inf,
        ),
        Workload(
            "r",
            f"Ray: source → {RAY_FANOUT} CPU-bound handlers of 50 ms each, "
            f'execution_strategy="ray", {RAY_FANOUT} driver threads, a local cluster of '
            f"{RAY_CPUS} CPUs, after a warm-up execute",
            "bench.workloads.ray_handlers:run_fanout",
            RAY_FANOUT,
            RAY_FANOUT,
            "handlers",
            "s",
            "lower",
            None,
            "n/a: CPU-bound handlers; compare with r-threads",
            {"strategy": "ray"},
            reference="r-threads",
            comparison_note="wall s ÷ wall s of r-threads (the thread pool), same run",
            check_tolerance=math.inf,  # Ray's scheduling on a shared 2-core machine.
        ),
        Workload(
            "r-threads",
            f"the fan-out of (r) on the concurrent strategy: {RAY_FANOUT} threads, one "
            "interpreter lock",
            "bench.workloads.ray_handlers:run_fanout",
            RAY_FANOUT,
            RAY_FANOUT,
            "handlers",
            "s",
            "lower",
            None,
            "n/a: CPU-bound handlers",
            {"strategy": "concurrent"},
        ),
        Workload(
            "r-delivery",
            'Ray: deliveries to an empty handler, execution_strategy="ray", one driver '
            "thread (one delivery at a time), after a warm-up execute; beside it, in the "
            "same process, an empty @ray.remote task awaited with ray.get, one at a time",
            "bench.workloads.ray_handlers:run_ray_delivery",
            500,
            50,
            "N",
            "µs/delivery",
            "lower",
            None,
            "n/a: a round trip to another process; compare with Ray's own (Also column)",
            check_tolerance=math.inf,
        ),
        Workload(
            "m",
            "memory: chain (a) with the defaults (history on, the latest 10,000 records "
            "kept), all N deliveries pending at once; peak RSS of the job above the "
            "interpreter at rest",
            "bench.workloads.memory:run_memory",
            100_000,
            2_000,
            "N",
            "MB",
            "lower",
            None,
            _MEMORY,
        ),
        Workload(
            "m-hist",
            "memory as (m), keeping the whole history: history_limit=None",
            "bench.workloads.memory:run_memory",
            100_000,
            2_000,
            "N",
            "MB",
            "lower",
            None,
            _MEMORY,
            {"history_limit": None},
        ),
        Workload(
            "m-nohist",
            "memory as (m), keeping no history: record_history=False",
            "bench.workloads.memory:run_memory",
            100_000,
            2_000,
            "N",
            "MB",
            "lower",
            None,
            _MEMORY,
            {"record_history": False},
        ),
        Workload(
            "w",
            "workers: 1-delivery jobs submitted at once (flow.submit) to 2 waiting "
            "'routilux worker' processes (--concurrency 2) on PostgreSQL; each ran once",
            "bench.workloads.workers:run_worker_throughput",
            1_000,
            40,
            "jobs",
            "µs/job",
            "lower",
            None,
            _NO_HOPS,
            {"workers": 2},
            reference="w-floor",
            comparison_note="µs per job ÷ µs per no-op task of Procrastinate's own workers, "
            "same run",
            check_tolerance=math.inf,
        ),
        Workload(
            "w-1",
            "workers as (w), 1 worker process",
            "bench.workloads.workers:run_worker_throughput",
            1_000,
            40,
            "jobs",
            "µs/job",
            "lower",
            None,
            _NO_HOPS,
            {"workers": 1},
            reference="w",
            comparison_note="µs per job with 1 worker ÷ with 2 (w), same run",
            check_tolerance=math.inf,
        ),
        Workload(
            "w-floor",
            "the queue's floor: no-op Procrastinate tasks deferred at once to 2 Procrastinate "
            "worker processes (concurrency 2), same server settings",
            "bench.workloads.workers:run_queue_floor",
            1_000,
            40,
            "tasks",
            "µs/task",
            "lower",
            None,
            _NO_HOPS,
            check_tolerance=math.inf,
        ),
        Workload(
            "w-kill",
            "takeover: a worker SIGKILLed mid-job (8 steps of 50 ms), a second worker "
            "waiting; seconds from the kill to the job's completion (mean), every trial checked",
            "bench.workloads.workers:run_kill_trials",
            20,
            1,
            "trials",
            "s",
            "lower",
            None,
            _NO_HOPS,
            check_tolerance=math.inf,
        ),
        Workload(
            "w-cron",
            "schedule: */1 fired by 2 schedulers on one fake clock moved on in 30 s steps, "
            "2 workers running the jobs: exactly one job per minute; seconds in all",
            "bench.workloads.workers:run_schedule_hour",
            60,
            10,
            "minutes",
            "s",
            "lower",
            None,
            _NO_HOPS,
            check_tolerance=math.inf,
        ),
    )
}


def select(only: Iterable[str] | None) -> list[Workload]:
    """The workloads named by ``only`` (a name, or a family letter like ``a``), in order.

    ``None`` selects every workload. The baseline (d) is always included,
    since every ratio divides by it, and so is the reference of a selected
    workload (a-asyncio for (a), b-asyncio for (b), c-asyncio for (c), (a)
    for (g) and (h)).

    Raises:
        ValueError: A name matches no workload.
    """
    if only is None:
        return list(WORKLOADS.values())
    wanted = {BASELINE}
    for token in only:
        matches = [n for n in WORKLOADS if n == token or n.split("-")[0] == token]
        if not matches:
            raise ValueError(f"unknown workload {token!r}; known: {', '.join(WORKLOADS)}")
        wanted.update(matches)
    while missing := {
        r for n in wanted if (r := WORKLOADS[n].reference) is not None and r not in wanted
    }:
        wanted |= missing  # (g) needs (a), which needs a-asyncio.
    return [w for n, w in WORKLOADS.items() if n in wanted]
