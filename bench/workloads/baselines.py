"""(d) and the asyncio baseline: the chain's shape without routilux."""

from __future__ import annotations

import asyncio
from typing import Any

from bench.measure import Result, Timer, expect
from bench.workloads.shape import STAGES

__all__ = ["run_asyncio_chain", "run_plain_chain"]


class PlainSink:
    """Counts the calls it receives and sums their ``i``."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def on(self, **kw: Any) -> None:
        """Count the message."""
        self.count += 1
        self.total += kw["i"]


class PlainStage:
    """Passes every call on to the next object."""

    def __init__(self, following: PlainStage | PlainSink) -> None:
        self.following = following

    def on(self, **kw: Any) -> None:
        """Forward the message."""
        self.following.on(**kw)


def _expect_sink(count: int, total: int, n: int) -> dict[str, int]:
    expect("messages received by the sink", count, n)
    expect("sum of i received by the sink", total, n * (n - 1) // 2)
    return {"messages": n, "hops": n * (STAGES + 1), "sink_received": count}


def run_plain_chain(n: int) -> Result:
    """The chain as plain method calls, the in-process lower bound; microseconds per hop.

    A hop is one call of a stage's or the sink's ``on(**kw)``: ``n * 11``.
    """
    sink = PlainSink()
    head: PlainStage | PlainSink = sink
    for _ in range(STAGES):
        head = PlainStage(head)
    first = head
    with Timer() as timer:
        for i in range(n):
            first.on(i=i)
    counts = _expect_sink(sink.count, sink.total, n)
    return Result.per_operation(timer, n * (STAGES + 1), counts)


async def _forward(inbox: asyncio.Queue[Any], outbox: asyncio.Queue[Any]) -> None:
    while True:
        message = await inbox.get()
        await outbox.put(message)
        if message is None:
            return


async def _count(inbox: asyncio.Queue[Any]) -> tuple[int, int]:
    count = total = 0
    while (message := await inbox.get()) is not None:
        count += 1
        total += message["i"]
    return count, total


async def _pipeline(n: int) -> tuple[Timer, int, int]:
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(STAGES + 1)]
    stages = [asyncio.create_task(_forward(queues[k], queues[k + 1])) for k in range(STAGES)]
    sink = asyncio.create_task(_count(queues[-1]))
    await asyncio.sleep(0)  # Every task starts and waits on its queue.
    first = queues[0]
    with Timer() as timer:
        for i in range(n):
            await first.put({"i": i})
        await first.put(None)
        count, total = await sink
    await asyncio.gather(*stages)
    return timer, count, total


def run_asyncio_chain(n: int) -> Result:
    """The chain as 10 consumer tasks between unbounded ``asyncio.Queue`` s; µs per hop.

    Each stage task forwards every message it gets to the next queue; the
    sink task counts. A hop is one message taken off a stage's or the sink's
    queue: ``n * 11``. The event loop is started before the timer.
    """
    timer, count, total = asyncio.run(_pipeline(n))
    counts = _expect_sink(count, total, n)
    return Result.per_operation(timer, n * (STAGES + 1), counts)
