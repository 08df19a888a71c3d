"""(d), the asyncio and dispatcher baselines: the shapes of (a), (b) and (c) without routilux."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from bench.measure import Result, Timer, expect
from bench.workloads.shape import PROCESSORS, STAGES

__all__ = [
    "run_asyncio_chain",
    "run_asyncio_executes",
    "run_asyncio_fanout",
    "run_dispatcher_chain",
    "run_plain_chain",
]


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


class Dispatcher:
    """A bare-bones event dispatcher: a deque of (handler, message), keyword handlers.

    No delivery ids, no error handling, no locks, no job state: an emit
    appends one ``(handler, message)`` tuple per connected handler, and
    :meth:`run` pops and calls them, first in first out. With ``history``
    it also appends a ``(source, event, message, time.time())`` tuple per
    emit to a list, as a workflow engine's history does.
    """

    def __init__(self, history: bool) -> None:
        self.queue: deque[tuple[Callable[..., None], dict[str, Any]]] = deque()
        self.routes: dict[tuple[str, str], list[Callable[..., None]]] = {}
        self.history: list[tuple[str, str, dict[str, Any], float]] | None = [] if history else None

    def connect(self, source: str, event: str, handler: Callable[..., None]) -> None:
        """Call ``handler`` with every message ``source`` emits on ``event``."""
        self.routes.setdefault((source, event), []).append(handler)

    def emit(self, source: str, event: str, **data: Any) -> None:
        """Queue ``data`` for every handler connected to ``source``'s ``event``."""
        if self.history is not None:
            self.history.append((source, event, data, time.time()))
        for handler in self.routes.get((source, event), ()):
            self.queue.append((handler, data))

    def run(self) -> None:
        """Call the queued handlers until none is left."""
        queue = self.queue
        popleft = queue.popleft
        while queue:
            handler, data = popleft()
            handler(**data)


class DispatchedStage:
    """Emits every message it receives on its ``out`` event."""

    def __init__(self, dispatcher: Dispatcher, name: str) -> None:
        self.dispatcher = dispatcher
        self.name = name

    def on(self, **kw: Any) -> None:
        """Forward the message."""
        self.dispatcher.emit(self.name, "out", **kw)


class DispatchedSource:
    """Emits ``{"i": i}`` for each ``i`` below ``n``."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def start(self, n: int) -> None:
        """Emit the messages."""
        for i in range(n):
            self.dispatcher.emit("source", "out", i=i)


def run_dispatcher_chain(n: int, history: bool) -> Result:
    """The chain on a bare-bones :class:`Dispatcher`; microseconds per hop.

    The source's one call emits ``n`` messages; each goes through 10 stages
    to the counting sink, every hop through the dispatcher's deque. A hop
    is one call of a stage's or the sink's ``on(**kw)``: ``n * 11``, as in
    (a). The timer covers queueing the source's call and running the
    dispatcher until its queue is empty.
    """
    dispatcher = Dispatcher(history)
    source = DispatchedSource(dispatcher)
    sink = PlainSink()
    previous = "source"
    for k in range(1, STAGES + 1):
        stage = DispatchedStage(dispatcher, f"stage_{k}")
        dispatcher.connect(previous, "out", stage.on)
        previous = stage.name
    dispatcher.connect(previous, "out", sink.on)
    with Timer() as timer:
        dispatcher.queue.append((source.start, {"n": n}))
        dispatcher.run()
    counts = _expect_sink(sink.count, sink.total, n)
    if dispatcher.history is not None:
        expect("history tuples", len(dispatcher.history), n * (STAGES + 1))
        counts["history_records"] = len(dispatcher.history)
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


async def _pipeline(n: int, maxsize: int) -> tuple[Timer, int, int]:
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue(maxsize) for _ in range(STAGES + 1)]
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


def run_asyncio_chain(n: int, maxsize: int = 0) -> Result:
    """The chain as 10 consumer tasks between ``asyncio.Queue`` s; µs per hop.

    Each stage task forwards every message it gets to the next queue; the
    sink task counts. A hop is one message taken off a stage's or the sink's
    queue: ``n * 11``. The event loop is started before the timer.

    With ``maxsize=0`` (unbounded queues) a ``put`` never waits, so each
    stage drains its whole backlog in one go: the best case. With
    ``maxsize=1`` a stage can hold one message, so every hop hands the
    message over to another task (a back-pressured pipeline, where
    messages move one by one as they do through a routilux chain).
    """
    timer, count, total = asyncio.run(_pipeline(n, maxsize))
    counts = _expect_sink(count, total, n)
    return Result.per_operation(timer, n * (STAGES + 1), counts)


async def _fan_in(inbox: asyncio.Queue[Any], senders: int) -> tuple[int, int]:
    """Count what ``senders`` tasks put on ``inbox``, until each has put its ``None``."""
    count = total = 0
    open_senders = senders
    while open_senders:
        message = await inbox.get()
        if message is None:
            open_senders -= 1
            continue
        count += 1
        total += message["i"]
    return count, total


async def _fanout(n: int) -> tuple[Timer, int, int]:
    inboxes: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(PROCESSORS)]
    collected: asyncio.Queue[Any] = asyncio.Queue()
    consumers = [asyncio.create_task(_forward(inbox, collected)) for inbox in inboxes]
    aggregator = asyncio.create_task(_fan_in(collected, PROCESSORS))
    await asyncio.sleep(0)  # Every task starts and waits on its queue.
    with Timer() as timer:
        for i in range(n):
            message = {"i": i}
            for inbox in inboxes:
                await inbox.put(message)
        for inbox in inboxes:
            await inbox.put(None)
        count, total = await aggregator
    await asyncio.gather(*consumers)
    return timer, count, total


def run_asyncio_fanout(n: int) -> Result:
    """(b) as asyncio tasks: a producer, 8 consumer tasks, an aggregating task; µs per delivery.

    The producer (the timed coroutine) puts each of ``n`` messages on the
    unbounded ``asyncio.Queue`` of each of 8 consumer tasks (the same dict,
    no copy); each consumer forwards what it gets to the aggregator's queue,
    and the aggregator counts. A delivery is one message taken off a
    consumer's or the aggregator's queue: ``n * 16``, as in (b). The event
    loop and the tasks start before the timer.
    """
    timer, count, total = asyncio.run(_fanout(n))
    expect("messages received by the aggregator", count, n * PROCESSORS)
    expect("sum of i received by the aggregator", total, PROCESSORS * n * (n - 1) // 2)
    counted = n * PROCESSORS * 2
    counts = {"messages": n, "counted_deliveries": counted, "aggregator_received": count}
    return Result.per_operation(timer, counted, counts, {"source_msgs_per_s": n / timer.elapsed})


async def _source(inbox: asyncio.Queue[Any], outbox: asyncio.Queue[Any]) -> None:
    """Take the entry message ``{"n": n}``, put ``n`` messages on ``outbox``, then ``None``."""
    entry = await inbox.get()
    for i in range(entry["n"]):
        await outbox.put({"i": i})
    await outbox.put(None)


async def _one_run(entry: dict[str, int]) -> tuple[int, int]:
    """One 'execute': 3 queues and 3 tasks, source -> middle -> sink, run to the end."""
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(3)]
    source = asyncio.create_task(_source(queues[0], queues[1]))
    middle = asyncio.create_task(_forward(queues[1], queues[2]))
    sink = asyncio.create_task(_count(queues[2]))
    await queues[0].put(entry)
    _, _, (count, total) = await asyncio.gather(source, middle, sink)
    return count, total


async def _runs(runs: int) -> tuple[Timer, int, int, int]:
    entry = {"n": 1}
    completed = count = total = 0
    with Timer() as timer:
        for _ in range(runs):
            got, summed = await _one_run(entry)
            completed += 1
            count += got
            total += summed
    return timer, completed, count, total


def run_asyncio_executes(runs: int) -> Result:
    """(c) as asyncio: ``runs`` runs of a 3-stage pipeline, one message each; runs per second.

    Each run creates its 3 unbounded queues and its 3 tasks (source, middle,
    sink), as an execute creates its job, puts the entry message on the
    source's queue and waits for all 3 tasks to finish: 3 deliveries (entry
    to the source, source to middle, middle to sink), as in (c). One
    ``asyncio.run`` runs every run; the timer starts inside it.
    """
    timer, completed, count, total = asyncio.run(_runs(runs))
    expect("completed runs", completed, runs)
    expect("messages received by the sinks", count, runs)
    expect("sum of i received by the sinks", total, 0)
    cost = timer.elapsed / runs * 1e6
    return Result(
        value=runs / timer.elapsed,
        cost_us=cost,
        elapsed_s=timer.elapsed,
        operations=runs,
        counts={"executes": runs, "completed": completed, "sink_received": count},
        secondary={"us_per_execute": cost},
        gc_collections=timer.gc_collections,
        cpu_share=timer.cpu_share,
        peak_rss_kb=timer.peak_rss_kb,
    )
