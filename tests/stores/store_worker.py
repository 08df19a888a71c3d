"""A process that writes checkpoints to a store, for the multi-process and kill tests.

Run as ``python store_worker.py SPEC JOB SHARED_JOB ROUNDS``:

* ``SPEC`` is ``sqlite:PATH`` or ``postgres:SCHEMA:DSN``;
* once its store is open, it waits for a line on its stdin (:func:`go`), so
  that several workers start together;
* each round ``i`` is one checkpoint of ``JOB`` (delivery ``i`` done, ``i + 1``
  added, one event, ``deliveries = i + 1``) and, unless ``SHARED_JOB`` is
  ``-``, one of ``SHARED_JOB`` (one event tagged with this process's job);
* after each round it prints ``i`` and flushes, so a test can kill it mid-run;
* ``ROUNDS`` of 0 means run until killed.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

from routilux._model.durable import Checkpoint, StoredDelivery
from routilux.stores import JobStore, PostgresStore, SqliteStore


def open_store(spec: str) -> JobStore:
    """The store ``spec`` names."""
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SqliteStore(rest)
    schema, _, dsn = rest.partition(":")
    return PostgresStore(dsn, schema=schema)


def round_of(job_id: str, i: int) -> Checkpoint:
    """Round ``i`` of the worker's own job."""
    return Checkpoint(
        job_id=job_id,
        status="running",
        updated_at="2024-05-01T12:00:00+00:00",
        current_routine_id="worker",
        error=None,
        deliveries=i + 1,
        next_seq=i + 2,
        done=[i],
        added=[StoredDelivery(i + 1, "worker", "input", {"n": i + 1})],
        history=[("worker", "out", {"n": i}, time.time())],
    )


def shared_round(job_id: str, tag: str, i: int) -> Checkpoint:
    """Round ``i`` of the job every worker writes to."""
    return Checkpoint(
        job_id=job_id,
        status="running",
        updated_at="2024-05-01T12:00:00+00:00",
        current_routine_id=tag,
        error=None,
        deliveries=i + 1,
        next_seq=0,
        history=[(tag, "out", {"n": i}, time.time())],
    )


def main(spec: str, job_id: str, shared_id: str, rounds: int) -> None:
    """Write the rounds; see the module docstring."""
    store = open_store(spec)
    sys.stdin.readline()  # Returns when the test says go.
    for i in range(rounds) if rounds else itertools.count():
        store.checkpoint(round_of(job_id, i))
        if shared_id != "-":
            store.checkpoint(shared_round(shared_id, job_id, i))
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
    store.close()


def start(spec: str, job_id: str, shared_id: str, rounds: int) -> subprocess.Popen[str]:
    """Start a worker process (it waits for :func:`go`)."""
    command = [sys.executable, __file__, spec, job_id, shared_id, str(rounds)]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def go(workers: list[subprocess.Popen[str]]) -> None:
    """Let the workers write: send each the line it waits for."""
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()


def finish(worker: subprocess.Popen[str], timeout: float = 90.0) -> list[str]:
    """Wait for a worker; return the rounds it printed.

    Raises:
        AssertionError: It failed.
    """
    try:
        out, err = worker.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise
    assert worker.returncode == 0, err
    return out.split()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
