"""(h) The durable chain: the chain of (a), every job kept in a SqliteStore.

With ``Flow(store=...)``, the engine commits a checkpoint to the store after
every delivery (the delivery done, the deliveries it emitted, its events, the
job's counters), each in one SQLite transaction. With the file in WAL mode:

* ``synchronous="NORMAL"`` (``h``): a committed checkpoint survives the
  process being killed (SIGKILL), since it is in the WAL file in the
  operating system's page cache; the last checkpoints before a power loss or
  an operating system crash may be lost (the file stays consistent).
* ``synchronous="FULL"`` (``h-full``): every commit waits for ``fsync`` of
  the WAL, so a committed checkpoint also survives a power loss.

``h-batch`` is ``h`` with ``Flow(checkpoint_every=100)``: a checkpoint per
100 deliveries, so a crash makes up to 100 finished deliveries run again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench.measure import Result, Timer, VerificationError, expect
from bench.workloads.chain import build_chain, expected_deliveries
from bench.workloads.checks import check_job, check_sink
from bench.workloads.shape import STAGES
from routilux.stores import SqliteStore

__all__ = ["CountingSqliteStore", "run_durable_chain"]


class CountingSqliteStore(SqliteStore):
    """A :class:`SqliteStore` that counts the checkpoints it committed.

    The count costs one attribute increment per checkpoint, nothing next to
    the checkpoint itself.
    """

    def __init__(self, path: Path, *, synchronous: str) -> None:
        super().__init__(path, synchronous=synchronous)
        self.checkpoints = 0

    def checkpoint(self, checkpoint: Any) -> None:
        """Commit the checkpoint, then count it."""
        super().checkpoint(checkpoint)
        self.checkpoints += 1


def run_durable_chain(n: int, *, synchronous: str, checkpoint_every: int = 1) -> Result:
    """Push ``n`` messages through the chain with a SqliteStore; µs per durable delivery.

    The store's file is new, in a fresh temporary directory (WAL mode, with
    ``synchronous``), and is opened before the timer starts; the timer covers
    the one ``execute``, every checkpoint included. A durable delivery is one
    delivery the engine ran and checkpointed: the entry delivery to the
    source (whose checkpoint adds the ``n`` messages to the pending
    deliveries) and ``n * 11`` hops, ``n * 11 + 1`` in all, which is what
    the engine and the store count as the job's ``deliveries``.

    Besides the in-memory checks of (a), the job is loaded back from the
    store: it must be ``completed`` with that many deliveries, no pending
    delivery and one history event per emit; the store must have committed
    at least one checkpoint per delivery (per ``checkpoint_every``
    deliveries, with batches). The Also column gives the peak RSS.
    """
    with tempfile.TemporaryDirectory(prefix="routilux-bench-") as directory:
        store = CountingSqliteStore(Path(directory) / "jobs.db", synchronous=synchronous)
        try:
            flow, sink = build_chain(
                record_history=True,
                history_limit=None,
                store=store,
                checkpoint_every=checkpoint_every,
            )
            try:
                with Timer() as timer:
                    job = flow.execute("source", {"n": n})
            finally:
                flow.shutdown()
            deliveries = check_job(job, expected_deliveries(n))
            check_sink(sink, n)
            durable = n * (STAGES + 1) + 1
            expect("deliveries of the job", deliveries, durable)
            stored = store.load_job(job.job_id)
            history = len(stored.document["execution_history"])
            checkpoints = store.checkpoints
        finally:
            store.close()
    expect("status of the stored job", stored.document["status"], "completed")
    expect("deliveries of the stored job", stored.deliveries, durable)
    expect("pending deliveries of the stored job", stored.pending, [])
    expect("history events of the stored job", history, n * (STAGES + 1))
    if checkpoints < -(-durable // checkpoint_every):
        raise VerificationError(
            f"{checkpoints} checkpoints for {durable} deliveries in batches of {checkpoint_every}"
        )
    counts = {
        "messages": n,
        "deliveries": durable,
        "stored_deliveries": stored.deliveries,
        "stored_history": history,
        "checkpoints": checkpoints,
        "sink_received": sink.count,
    }
    secondary = {} if timer.peak_rss_kb is None else {"peak_rss_mb": timer.peak_rss_kb / 1024}
    return Result.per_operation(timer, durable, counts, secondary)
