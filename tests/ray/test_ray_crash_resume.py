"""A durable job on the Ray strategy, its driver killed with SIGKILL, resumed by another driver.

Both drivers are ``routilux`` commands in subprocesses, connected with
``--ray-address`` to this test session's cluster (``tests/ray/conftest.py``),
which neither of them started: the first, ``routilux run``, is killed once
the sink has taken a few messages while the step still runs others; the
second, ``routilux jobs resume``, runs the job to its end. The flow file
names a cluster where nothing runs, so both commands work only because
``--ray-address`` replaces it. Then the handlers' log (fsynced: see
``ray_crash_routines.py``) and the SQLite store must show that:

* every message reached the sink; a delivery ran in both drivers only if it
  was in flight at the kill (at most ``max_workers`` of them, one per driver
  thread: the engine runs those again, at least once);
* the store holds the job ``completed``, nothing pending, and each event
  exactly once in its history.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from routilux import JobState
from routilux.stores import SqliteStore

pytestmark = [pytest.mark.slow]  # Two driver processes on the session's Ray cluster.

HERE = Path(__file__).resolve().parent
MESSAGES = 30
WORKERS = 2
#: Seconds a command may take: start, connect to the cluster, run the job.
PATIENCE = 45.0
#: The address the flow file names: nothing listens there.
NOWHERE = "127.0.0.1:1"
JOB_LINE = re.compile(r"^Job (\S+) started:", re.M)

FLOW = """\
schema: routilux.flow
version: 2
flow_id: ray-crash
execution_strategy: ray
ray_address: "{nowhere}"
max_workers: {workers}
execution_timeout: null
max_deliveries: null
record_history: true
retain_jobs: 100
error_handler: null
routines:
  source:
    class: ray_crash_routines:Source
    config: {{name: source, log: {log}}}
    slots: [{{name: trigger, handler: emit_all, merge_strategy: override}}]
    events: [{{name: out, params: [msg_id]}}]
    error_handler: null
    timeout: null
    max_concurrency: null
  step:
    class: ray_crash_routines:Step
    config: {{name: step, log: {log}, sleep: 0.05}}
    slots: [{{name: input, handler: take, merge_strategy: override}}]
    events: [{{name: out, params: [msg_id]}}]
    error_handler: null
    timeout: null
    max_concurrency: null
  sink:
    class: ray_crash_routines:Sink
    config: {{name: sink, log: {log}, sleep: 0.01}}
    slots: [{{name: input, handler: take, merge_strategy: override}}]
    events: []
    error_handler: null
    timeout: null
    max_concurrency: null
connections:
  - {{source: source, event: out, target: step, slot: input, param_mapping: null}}
  - {{source: step, event: out, target: sink, slot: input, param_mapping: null}}
"""


def read_log(path: Path) -> list[list[str]]:
    """The handlers' log lines, split: kind, routine, msg_id, Ray job id, pid."""
    if not path.exists():
        return []
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line]


def routilux(workdir: Path, *args: str, out: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m routilux ARGS`` in ``workdir``, its output into ``out``."""
    environment = {k: v for k, v in os.environ.items() if k != "ROUTILUX_STORE"}
    with out.open("wb") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "routilux", *args],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=environment,
        )


def run_and_kill(workdir: Path, address: str) -> str:
    """Run the job; SIGKILL the driver once the sink took 3 messages; return the job id."""
    out = workdir / "run.out"
    args = ("run", "flow.yaml", "--param", f"n={MESSAGES}", "--ray-address", address)
    proc = routilux(workdir, *args, out=out)
    try:
        deadline = time.monotonic() + PATIENCE
        while sum(f[:2] == ["end", "sink"] for f in read_log(workdir / "log.txt")) < 3:
            # Bounded: a driver that ends or stalls fails the test.
            assert proc.poll() is None, f"routilux run ended early:\n{out.read_text()}"
            assert time.monotonic() < deadline, f"no progress in {PATIENCE} s:\n{out.read_text()}"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(PATIENCE)
    assert proc.returncode == -signal.SIGKILL
    started = JOB_LINE.search(out.read_text())  # Ray logs lines of its own too.
    assert started, out.read_text()
    return started.group(1)


def test_a_killed_driver_s_job_is_resumed_by_another_on_a_cluster_neither_started(
    ray_cluster: Any, tmp_path: Path
) -> None:
    address = str(ray_cluster.get_runtime_context().gcs_address)
    shutil.copy(HERE / "ray_crash_routines.py", tmp_path / "ray_crash_routines.py")
    log = tmp_path / "log.txt"
    text = FLOW.format(nowhere=NOWHERE, workers=WORKERS, log=f'"{log}"')
    (tmp_path / "flow.yaml").write_text(text, encoding="utf-8")

    job_id = run_and_kill(tmp_path, address)
    killed = {f[3] for f in read_log(log)}
    assert len(killed) == 1, killed  # One Ray job: the killed driver's.
    sunk = {f[2] for f in read_log(log) if f[:2] == ["end", "sink"]}
    assert len(sunk) < MESSAGES, "the job ended before its driver was killed"

    resumed = routilux(
        tmp_path, "jobs", "resume", job_id, "--ray-address", address, out=tmp_path / "resume.out"
    )
    try:
        assert resumed.wait(PATIENCE) == 0, (tmp_path / "resume.out").read_text()
    finally:
        if resumed.poll() is None:
            resumed.kill()
            resumed.wait(PATIENCE)
    assert f"Job {job_id} of flow 'ray-crash': completed" in (tmp_path / "resume.out").read_text()

    assert_each_message_sunk_and_repeats_only_in_flight(read_log(log), killed)
    assert_store_completed(tmp_path / "routilux-jobs.db", job_id)


def assert_each_message_sunk_and_repeats_only_in_flight(
    log: list[list[str]], killed: set[str]
) -> None:
    """Every message reached the sink; at most ``WORKERS`` deliveries ran in both drivers."""
    sunk = Counter(int(f[2]) for f in log if f[:2] == ["end", "sink"])
    assert sorted(sunk) == list(range(MESSAGES)), sorted(sunk)
    resumed = {f[3] for f in log} - killed
    assert len(resumed) == 1, resumed  # The resume's Ray job.
    started: dict[str, set[tuple[str, str]]] = {"killed": set(), "resumed": set()}
    for kind, routine, msg, job, _pid in log:
        if kind == "start":
            started["killed" if job in killed else "resumed"].add((routine, msg))
    again = started["killed"] & started["resumed"]
    # Each driver thread had at most one delivery in flight when it was killed.
    assert len(again) <= WORKERS, sorted(again)
    assert sum(n - 1 for n in sunk.values()) <= WORKERS, sunk


def assert_store_completed(path: Path, job_id: str) -> None:
    """The stored job completed, with nothing pending and each event once in its history."""
    store = SqliteStore(path)
    try:
        stored = store.load_job(job_id)
    finally:
        store.close()
    assert stored.document["status"] == "completed", stored.document.get("error")
    assert stored.pending == []
    history = JobState.deserialize(stored.document).execution_history
    events = Counter((r.routine_id, r.event_name, r.data["msg_id"]) for r in history)
    expected = {(rid, "out", i) for rid in ("source", "step") for i in range(MESSAGES)}
    assert set(events) == expected
    assert set(events.values()) == {1}
