"""A worker keeps the records its jobs' handlers log (keep_logs), printing no more than before.

A real ``routilux worker`` on a real PostgreSQL server, whose handlers log
at INFO to a logger without a level of its own (``say: true``): Python's
root logger is at WARNING, so the worker lowers it for the flows it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from worker_helpers import RUN_PATIENCE

from routilux import Flow, read_job_logs
from routilux.stores import PostgresStore


def test_a_worker_keeps_the_info_records_of_a_logger_without_a_level(
    workers: Any, flows_dir: Any, database: Any, waiter: Callable[..., None]
) -> None:
    path = flows_dir.write()
    text = path.read_text(encoding="utf-8").replace("config: {log:", "config: {say: true, log:")
    text = text.replace("record_history: true\n", "record_history: true\nkeep_logs: INFO\n")
    path.write_text(text, encoding="utf-8")
    if str(flows_dir.path) not in sys.path:
        sys.path.insert(0, str(flows_dir.path))
    flow = Flow.from_file(path)
    worker = workers.start()

    with PostgresStore(database.dsn) as store:
        job_id = flow.submit(params={"tag": "k", "steps": 2}, store=store)
        waiter(
            lambda: store.load_job(job_id).document["status"] == "completed",
            RUN_PATIENCE,
            "the job completed",
            worker,
        )
        records = [record for _, record in read_job_logs(store, job_id)]

    assert [(r["level"], r["logger"], r["routine_id"], r["message"]) for r in records] == [
        ("INFO", "worker_plain", routine, f"{kind} k")
        for routine in ("source", "step", "step")
        for kind in ("start", "end")
    ]
    assert " INFO " not in worker.err.read_text(), worker.describe()  # Printed: WARNING and up.
