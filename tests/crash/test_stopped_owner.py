"""An owner stopped (SIGSTOP) past its lease is taken over, and writes nothing once continued.

The job's process is frozen with SIGSTOP: it is alive, so its job cannot
be resumed while its lease is live. Once the lease has expired, this
process takes the job over without anyone's word that the owner is gone,
and runs it. Then the old owner is continued with SIGCONT while the new one
still runs: its first write (a checkpoint, or the lease renewal it makes
before another delivery) is refused, and it stops with
``OwnershipLostError`` without starting another handler. The store shows
only the new owner's writes: each event once, every message through.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from routilux import JobOwnedError
from routilux.stores import JobStore, process_owner

N = 30
#: The old owner's lease, in seconds: short, so the test waits little for it to expire.
LEASE = 1.0
PATIENCE = 60.0


def _holds_a_write(store_spec: str) -> bool:
    """Whether a session of another process is in the middle of a write to the store.

    A process frozen inside a write keeps the store's write lock (SQLite's
    file lock, PostgreSQL's row locks) until it runs again or dies: no
    other process can write meanwhile (docs/durability.md says so). The
    test freezes the owner between two writes.
    """
    kind, _, where = store_spec.partition(":")
    if kind == "sqlite":
        conn = sqlite3.connect(where, timeout=0.2, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(where) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        ).fetchone()
    return bool(row and row[0])


def _stopped(pid: int) -> bool:
    """Whether every thread of the process is stopped (``T`` in ``/proc``).

    ``kill`` returns before the signal has stopped a thread running on
    another core: until then that thread may still take a lock.
    """
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # The thread has just ended.
            continue
        if stat.rpartition(")")[2].split()[0] not in ("T", "t"):
            return False
    return True


def _freeze_between_writes(pid: int, store_spec: str) -> None:
    """SIGSTOP the process at a moment it holds no write lock of the store."""
    deadline = time.monotonic() + PATIENCE
    while True:
        os.kill(pid, signal.SIGSTOP)
        _wait(lambda: _stopped(pid), "the owner to stop")
        if not _holds_a_write(store_spec):
            return
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the owner never paused between writes"
        time.sleep(0.003)  # let the owner finish its write before freezing it again


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_a_stopped_owner_whose_lease_was_taken_over_writes_nothing_after_sigcont(
    strategy: str,
    store_spec: str,
    runner: Any,
    open_store: Callable[[str], JobStore],
    crash_pipeline: ModuleType,
    log_reader: Callable[[Path], list[list[str]]],
    tmp_path: Path,
) -> None:
    log = tmp_path / "job.log"
    old = runner.spawn("start", log, n=N, sleep=0.02, lease=LEASE, strategy=strategy)
    job_id = old.read_first_line()
    _wait(lambda: sum(f[0] == "end" for f in log_reader(log)) >= 8, "the old owner's deliveries")
    _freeze_between_writes(old.pid, store_spec)
    store = open_store(store_spec)
    flow_log = crash_pipeline.Log(log)
    flow = crash_pipeline.build_flow(flow_log, sleep=0.01)
    try:
        # Alive and leased: refused, naming the owner and the lease.
        with pytest.raises(JobOwnedError, match=rf"running in process \S+:{old.pid}: its lease"):
            flow.resume(job_id, store=store)
        stopped_at = len(log_reader(log))

        # Expired: taken over, on nobody's word.
        _wait(lambda: not store.load_job(job_id).lease_live, "the lease to expire")
        assert flow.resume(job_id, store=store)
        job = flow.get_execution(job_id)
        assert job is not None
        me = str(os.getpid())
        _wait(lambda: any(f[4:5] == [me] for f in log_reader(log)), "the new owner to start")

        # The old owner goes on: it must stop without writing or starting anything.
        os.kill(old.pid, signal.SIGCONT)
        assert old.wait(PATIENCE) == 1
        assert job.wait(PATIENCE), "the new owner's run did not end"
    finally:
        os.kill(old.pid, signal.SIGCONT) if old.proc.poll() is None else None
        flow.shutdown(wait=True)
        flow_log.close()

    assert "status failed" in old.output()
    assert "error OwnershipLostError" in old.output(), old.describe()
    assert job.status == "completed", job.error

    # The handlers: after SIGSTOP, the old process only finished the deliveries
    # it had in flight (one per worker at most; a handler may have been
    # entered, not yet logged, when it stopped); they run again in the new owner.
    after = log_reader(log)[stopped_at:]
    by_old = {f[1] for f in after if f[0] in ("start", "end", "fail") and f[4] == str(old.pid)}
    assert len(by_old) <= (1 if strategy == "sequential" else 3), by_old
    ends = Counter(f[1] for f in log_reader(log) if f[0] == "end")
    assert max(ends.values()) <= 2
    sink = [f[2] for f in log_reader(log) if f[0] == "end" and f[3] == "sink"]
    assert set(sink) == {str(i) for i in range(N)}

    # The store: the new owner's claim, each event once, nothing left.
    stored = store.load_job(job_id)
    assert (stored.owner, stored.claim) == (process_owner(), 2)
    assert stored.document["status"] == "completed"
    assert stored.pending == []
    events = Counter(
        (e["routine_id"], e["data"].get("msg_id")) for e in stored.document["execution_history"]
    )
    assert set(events) == {(r, i) for r in ("source", "parse", "enrich") for i in range(N)}
    assert max(events.values()) == 1
    assert not any("Ownership" in e["error_type"] for e in stored.document["errors"])
