"""Every workload the harness knows: its name, size, unit and how it compares to (d).

Some workloads are also compared with an ideal (the wall time if the engine
cost nothing) or with another workload measured in the same run.

Workloads are named by import path, so the harness itself never imports
routilux: only the worker subprocesses do.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.measure import Result
from bench.workloads.shape import (
    ASYNC_WORKERS,
    CHAIN_WORKERS,
    IO_WORKERS,
    async_io_ideal_s,
    concurrent_io_ideal_s,
)

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
            workloads whose cost is waiting, not work (no ratio to (d)).
        ratio_note: How to read the ratio.
        options: Keyword arguments for ``target``.
        ideal: The best possible figure (in ``unit``) for a size, if there is
            one; the report gives ``median / ideal``.
        reference: Another workload whose median ``cost_us`` in the same run
            this one's is divided by (as (g), the concurrent chain, and (h),
            the durable one, by (a)).
        comparison_note: How to read the ratio to ``ideal`` or ``reference``.
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
            f"{IO_WORKERS} workers, no concurrency limit, after a warm-up execute",
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
            f"{ASYNC_WORKERS} workers, no concurrency limit, after a warm-up execute",
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
    )
}


def select(only: Iterable[str] | None) -> list[Workload]:
    """The workloads named by ``only`` (a name, or a family letter like ``a``), in order.

    ``None`` selects every workload. The baseline (d) is always included,
    since every ratio divides by it, and so is the reference of a selected
    workload ((a) for (g) and (h)).

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
    wanted.update(r for n in list(wanted) if (r := WORKLOADS[n].reference) is not None)
    return [w for n, w in WORKLOADS.items() if n in wanted]
