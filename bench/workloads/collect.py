"""(h-agg) One durable collection: N items through an Aggregator, kept in a SqliteStore.

A source emits ``N`` messages in one delivery; an :class:`Aggregator`
(``complete_on="count"``, ``count=N``) collects them into one collection,
emitted at the ``N``-th. Every delivery is checkpointed (``synchronous=
"NORMAL"``). The aggregator appends each item to its job value, so each
checkpoint stores the one new item: the cost per item must not grow with
the collection. ``h-agg`` collects 10,000 items, ``h-agg-1k`` 1,000; the
ratio of their costs per item, in the same run, is the measure of it
(1 is linear; 10 would be quadratic).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.measure import Result, Timer, expect, expect_completed
from routilux import Flow, JobState, Routine
from routilux.builtin_routines import Aggregator
from routilux.stores import SqliteStore

__all__ = ["run_durable_collection"]


class Items(Routine):
    """Emits ``n`` messages ``{"data": i}`` in one delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["data"])

    def emit_all(self, n: int) -> None:
        for i in range(n):
            self.emit("out", data=i)


class Collected(Routine):
    """Keeps what the aggregator emits."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.collections: list[dict[str, Any]] = []

    def take(self, items: list[Any], count: int, reason: str) -> None:
        self.collections.append({"items": items, "count": count, "reason": reason})


def run_durable_collection(n: int) -> Result:
    """Collect ``n`` items durably; µs per item (one checkpointed delivery each).

    Checks: the job completed in the store, one collection of the ``n``
    items in order was emitted, and the aggregator's job values in the
    store hold an empty, emitted collection.
    """
    with tempfile.TemporaryDirectory(prefix="routilux-bench-") as directory:
        store = SqliteStore(Path(directory) / "jobs.db")
        try:
            flow = Flow(store=store)
            flow.add_routine(Items(), "items")
            aggregator = Aggregator()
            aggregator.set_config(complete_on="count", count=n)
            flow.add_routine(aggregator, "aggregator")
            sink = Collected()
            flow.add_routine(sink, "sink")
            flow.connect("items", "out", "aggregator", "input")
            flow.connect("aggregator", "output", "sink", "input")
            try:
                with Timer() as timer:
                    job = flow.execute("items", {"n": n})
            finally:
                flow.shutdown()
            expect_completed(job)
            stored = store.load_job(job.job_id)
        finally:
            store.close()
    expect("status of the stored job", stored.document["status"], "completed")
    expect("collections emitted", [c["count"] for c in sink.collections], [n])
    expect("items collected, in order", sink.collections[0]["items"], list(range(n)))
    values = JobState.deserialize(stored.document).job_values("aggregator")
    expect("stored collection after it was emitted", (values["items"], values["size"]), ([], 0))
    counts = {"items": n, "deliveries": stored.deliveries, "collections": len(sink.collections)}
    return Result.per_operation(timer, n, counts)
