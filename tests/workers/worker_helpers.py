"""Helpers of the worker tests: flows built from the flows directory, counts read from the store."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import psycopg

from routilux import Flow

__all__ = ["RUN_PATIENCE", "check_once", "flow_of", "queue_entries", "runs", "statuses"]

#: Seconds a batch of small jobs may take to run on the workers.
RUN_PATIENCE = 120.0


def flow_of(flows: Any, flow_id: str = "small", *, sleep: float = 0.0) -> Flow:
    """Write the flow file into the flows directory and build it here too."""
    path = flows.write(flow_id, sleep=sleep)
    if str(flows.path) not in sys.path:
        sys.path.insert(0, str(flows.path))
    return Flow.from_file(path)


def statuses(database: Any) -> Counter[str]:
    """How many jobs of each status the store holds."""
    with psycopg.connect(database.dsn) as conn:
        rows = conn.execute("SELECT status, count(*) FROM routilux.jobs GROUP BY status")
        return Counter(dict(rows.fetchall()))


def queue_entries(database: Any) -> int:
    """How many entries the queue holds (done ones are deleted)."""
    with psycopg.connect(database.dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM routilux.procrastinate_jobs").fetchone()[0])


def runs(lines: list[list[str]], kind: str) -> Counter[str]:
    """How many times each delivery id logged ``kind`` (start or end)."""
    return Counter(line[1] for line in lines if line[0] == kind)


def check_once(lines: list[list[str]], ids: list[str], procs: list[Any]) -> None:
    """Every job's source and step ran exactly once, in one of ``procs``."""
    starts = runs(lines, "start")
    assert len(starts) == 2 * len(ids)
    assert set(starts.values()) == {1}
    assert {line[1].split(":")[0] for line in lines} == set(ids)
    assert {line[4] for line in lines} <= {str(p.pid) for p in procs}
