"""Workers on the PostgreSQL job queue: submit, run exactly once, take over, drain.

Real ``routilux worker`` processes on a real PostgreSQL server; jobs
submitted with ``flow.submit`` from the test process. Each handler logs
its start and end (fsynced), so the tests count what ran where.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from worker_helpers import RUN_PATIENCE, check_once, flow_of, queue_entries, runs, statuses

from routilux import DefinitionError, JobStatus
from routilux.stores import PostgresStore, SqliteStore


def test_three_workers_run_every_queue_and_fail_a_flow_they_do_not_know(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow = flow_of(flows_dir)
    other = flow_of(flows_dir, "other")
    (flows_dir.path / "other.yaml").unlink()  # The workers know 'small' only.
    jobs = 45
    with PostgresStore(database.dsn) as store:
        ids = [flow.submit(params={"tag": f"t{i}", "steps": 1}, store=store) for i in range(jobs)]
        report = flow.submit(params={"tag": "r"}, queue="reports", store=store)
        unknown = other.submit(params={"tag": "u"}, store=store)
        shown = _show(database, report)
        assert (shown["status"], shown["queue"], shown["owner"]) == ("pending", "reports", None)
        procs = [workers.start() for _ in range(3)]
        waiter(lambda: statuses(database)["completed"] == jobs + 1, RUN_PATIENCE, "run", *procs)
        waiter(lambda: statuses(database)["failed"] == 1, RUN_PATIENCE, "failed", *procs)
        error = store.load_job(unknown).document["error"]
    check_once(flows_dir.lines(), [*ids, report], procs)
    assert "No worker knows flow 'other'" in error
    assert str(flows_dir.path) in error
    assert "'small'" in error
    shown = _show(database, report)
    assert shown["queue"] == "reports"
    assert shown["owner"].rpartition(":")[2] in {str(p.pid) for p in procs}
    assert shown["worker"] == shown["owner"]
    text = _routilux("jobs", "show", report, "--store", database.url).stdout
    assert "Queue: reports" in text


def test_a_worker_killed_mid_job_has_its_job_taken_over_with_nothing_lost(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow = flow_of(flows_dir, sleep=0.1)
    first = workers.start()
    with PostgresStore(database.dsn) as store:
        job_id = flow.submit(params={"tag": "k", "steps": 8}, store=store)
        # Bounded: the first worker has finished two steps (it is mid-job).
        waiter(lambda: len(runs(flows_dir.lines(), "end")) >= 3, 60, "two steps", first)
        first.kill()
        second = workers.start()
        waiter(
            lambda: store.load_job(job_id).document["status"] == "completed", 60, "taken", second
        )
        assert store.load_job(job_id).owner.endswith(f":{second.pid}")
    lines = flows_dir.lines()
    starts, ends = runs(lines, "start"), runs(lines, "end")
    assert len(ends) == 9  # Nothing lost: the source and every step ended.
    twice = [d for d, n in starts.items() if n > 1]
    assert len(twice) <= 1  # At most the in-flight delivery ran again...
    # ...which alone may have ended twice (its handler ended, its checkpoint was not written).
    assert {d for d, n in ends.items() if n > 1} <= set(twice)
    for delivery in twice:  # ...started in the killed worker, ended in the second.
        pids = [line[4] for line in lines if line[1] == delivery]
        assert pids[0] == str(first.pid)
        assert pids[-1] == str(second.pid)


def test_sigterm_drains_pausing_the_running_job_or_letting_it_finish(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow = flow_of(flows_dir, sleep=0.1)
    first = workers.start("--drain-seconds", "0.2")
    with PostgresStore(database.dsn) as store:
        job_id = flow.submit(params={"tag": "d", "steps": 12}, store=store)
        waiter(lambda: len(runs(flows_dir.lines(), "end")) >= 2, 60, "a step", first)
        first.signal(signal.SIGTERM)  # A short drain: the job is paused, handed back.
        assert first.wait(30) == 0
        assert store.load_job(job_id).document["status"] == JobStatus.PAUSED.value
        ended = len(runs(flows_dir.lines(), "end"))
        second = workers.start("--drain-seconds", "30")
        waiter(lambda: len(runs(flows_dir.lines(), "end")) > ended, 60, "resumed", second)
        second.signal(signal.SIGTERM)  # A long drain: the job finishes first.
        assert second.wait(30) == 0
        assert store.load_job(job_id).document["status"] == "completed"
    starts = runs(flows_dir.lines(), "start")
    assert len(starts) == 13
    assert set(starts.values()) == {1}  # A drain pauses between deliveries: none ran twice.


def test_a_second_sigterm_stops_at_once_leaving_the_job_for_takeover(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow = flow_of(flows_dir, sleep=0.5)
    proc = workers.start("--drain-seconds", "60")
    with PostgresStore(database.dsn) as store:
        job_id = flow.submit(params={"tag": "t", "steps": 100}, store=store)
        waiter(lambda: len(runs(flows_dir.lines(), "start")) >= 2, 60, "a step", proc)
        proc.signal(signal.SIGTERM)
        # Two signals sent at once would be one: the second follows the drain's start.
        waiter(lambda: "draining" in proc.out.read_text(), 30, "the drain", proc)
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 1  # Well before the 60 s drain or the 50 s job.
        stored = store.load_job(job_id)
    assert stored.document["status"] == "running"  # As after a crash: resumable.
    assert stored.owner is not None
    assert stored.owner.endswith(f":{proc.pid}")


def test_the_same_idempotency_key_gives_the_same_job_and_one_queue_entry(
    flows_dir: Any, database: Any
) -> None:
    flow = flow_of(flows_dir)
    with PostgresStore(database.dsn) as store:
        first = flow.submit(params={"tag": "i"}, idempotency_key="order-7", store=store)
        again = flow.submit(params={"tag": "i"}, idempotency_key="order-7", store=store)
        other = flow.submit(params={"tag": "i"}, idempotency_key="order-8", store=store)
    assert first == again != other
    assert statuses(database) == Counter({"pending": 2})
    assert queue_entries(database) == 2


def test_a_failed_enqueue_leaves_neither_the_job_nor_its_entry(
    flows_dir: Any, database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from routilux.stores import _queue

    flow = flow_of(flows_dir)
    real = _queue.defer_job

    def defer_then_fail(*args: Any) -> None:
        real(*args)  # The entry is written in the transaction, then it fails.
        raise RuntimeError("the queue broke")

    with PostgresStore(database.dsn) as store:
        flow.submit(params={"tag": "ok"}, store=store)
        monkeypatch.setattr(_queue, "defer_job", defer_then_fail)
        with pytest.raises(RuntimeError, match="the queue broke"):
            flow.submit(params={"tag": "lost"}, store=store)
    assert statuses(database) == Counter({"pending": 1})
    assert queue_entries(database) == 1


def test_submit_refuses_a_store_without_a_queue(flows_dir: Any, tmp_path: Path) -> None:
    flow = flow_of(flows_dir)
    with (
        SqliteStore(tmp_path / "jobs.db") as store,
        pytest.raises(
            DefinitionError, match=r"SqliteStore cannot hand jobs to workers.*PostgreSQL"
        ),
    ):
        flow.submit(params={"tag": "x"}, store=store)
    proc = _routilux(
        "submit", str(flows_dir.path / "small.yaml"), "--store", f"sqlite:///{tmp_path}/j.db"
    )
    assert proc.returncode == 2
    assert "workers share jobs through a PostgreSQL store" in proc.stderr


def _routilux(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.run(
        [sys.executable, "-m", "routilux", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _show(database: Any, job_id: str) -> dict[str, Any]:
    proc = _routilux("jobs", "show", job_id, "--store", database.url, "--json")
    assert proc.returncode == 0, proc.stderr
    shown: dict[str, Any] = json.loads(proc.stdout)
    return shown


def test_a_frozen_worker_loses_its_job_and_starts_no_handler_once_it_runs_again(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    flow = flow_of(flows_dir, sleep=0.1)
    procs = [workers.start("--lease-seconds", "1") for _ in range(2)]
    with PostgresStore(database.dsn) as store:
        job_id = flow.submit(params={"tag": "f", "steps": 20}, store=store)
        waiter(lambda: len(runs(flows_dir.lines(), "end")) >= 3, 60, "two steps", *procs)
        frozen = next(p for p in procs if str(p.pid) == flows_dir.lines()[0][4])
        other = next(p for p in procs if p is not frozen)
        frozen.signal(signal.SIGSTOP)  # Its heartbeat and its lease stop being renewed.
        try:
            # Bounded: the other worker takes the job over once the lease has expired.
            waiter(
                lambda: any(x[4] == str(other.pid) for x in flows_dir.lines()), 60, "taken", other
            )
            before = [x for x in flows_dir.lines() if x[4] == str(frozen.pid) and x[0] == "start"]
        finally:
            frozen.signal(signal.SIGCONT)
        waiter(lambda: store.load_job(job_id).document["status"] == "completed", 60, "done", other)
        assert store.load_job(job_id).owner.endswith(f":{other.pid}")
    lines = flows_dir.lines()
    after = [x for x in lines if x[4] == str(frozen.pid) and x[0] == "start"]
    assert after == before  # Once running again, the frozen worker started no handler.
    starts, ends = runs(lines, "start"), runs(lines, "end")
    assert len(ends) == 21  # Nothing lost.
    twice = [d for d, n in starts.items() if n > 1]
    assert len(twice) <= 1  # The delivery in flight when it froze, at most.
