"""``routilux run`` killed with SIGKILL, then ``routilux jobs resume``: nothing lost.

The flow file's handlers are slowed and log every run (fsynced) with the
process that ran it. The run is killed once it has printed the job id and
some progress; the resume must complete the job, every message must reach
the sink, and a delivery may have run in both processes only if it was the
one in flight when the first was killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routilux.stores import SqliteStore

#: Seconds to wait for the killed run to print its id and progress.
PATIENCE = 30.0
MESSAGES = 40


def wait_for(path: Path, found: Callable[[str], bool], proc: subprocess.Popen[bytes]) -> str:
    """Wait until the text of ``path`` satisfies ``found``; fail if the process ends first."""
    deadline = time.monotonic() + PATIENCE
    while True:
        text = path.read_text(encoding="utf-8")
        if found(text):
            return text
        if proc.poll() is not None:
            raise AssertionError(f"routilux run ended early ({proc.returncode}):\n{text}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"routilux run printed too little:\n{text}")
        time.sleep(0.01)


def run_and_kill(workdir: Path) -> tuple[str, int]:
    """Start ``routilux run``, SIGKILL it after its first progress line; return job id, pid."""
    out_path = workdir / "run.out"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", f"n={MESSAGES}"],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        text = wait_for(out_path, lambda t: "\nprogress " in t, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(PATIENCE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(PATIENCE)
    assert proc.returncode == -signal.SIGKILL
    return text.split()[1], proc.pid


def runs_by_delivery(log: list[list[str]]) -> dict[str, list[tuple[str, int]]]:
    """For each delivery id: the (kind, pid) of each of its log lines, in order."""
    runs: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for kind, delivery_id, _msg, _routine, pid in log:
        runs[delivery_id].append((kind, int(pid)))
    return runs


@pytest.mark.slow
def test_a_killed_run_is_resumed_to_completion_with_nothing_lost(
    routilux: Callable[..., subprocess.CompletedProcess[str]],
    write_flow: Callable[..., Path],
    workdir: Path,
    handler_log: Callable[[], list[list[str]]],
) -> None:
    write_flow(sleep=0.02, fail_once=(5,), policy="retry")
    job_id, killed_pid = run_and_kill(workdir)
    before = handler_log()
    assert any(fields[3] == "step" for fields in before), "killed before any work"
    sinks_before = {f[2] for f in before if f[0] == "end" and f[3] == "sink"}
    assert len(sinks_before) < MESSAGES, "the run finished before it was killed"

    resumed = routilux("jobs", "resume", job_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"Job {job_id} of flow 'pipeline': completed" in resumed.stdout

    log = handler_log()
    sink_messages = sorted(int(f[2]) for f in log if f[0] == "end" and f[3] == "sink")
    assert sorted(set(sink_messages)) == list(range(MESSAGES))
    assert_repeats_only_in_flight(log, killed_pid)
    sink_runs = [f[1] for f in log if f[0] == "end" and f[3] == "sink"]
    assert len(sink_runs) - len(set(sink_runs)) <= 1, "a sink delivery ran twice to its end"
    assert_store_completed(workdir, job_id)


def assert_repeats_only_in_flight(log: list[list[str]], killed_pid: int) -> None:
    """A delivery ran again after the resume only if it was in flight at the kill.

    The killed process checkpointed every delivery it finished except the
    one it was running (its handler may have logged ``end`` already, the
    commit comes after the handler returns): with the sequential strategy,
    the last one it started. A delivery that failed was checkpointed as a
    retry, and its next attempt may run after the resume.
    """
    last_started = [f[1] for f in log if f[0] == "start" and int(f[4]) == killed_pid][-1]
    for delivery_id, runs in runs_by_delivery(log).items():
        killed = [kind for kind, pid in runs if pid == killed_pid]
        later = [kind for kind, pid in runs if pid != killed_pid]
        if killed and later and killed[-1] != "fail":
            assert delivery_id == last_started, f"{delivery_id} ran again: {runs}"


def assert_store_completed(workdir: Path, job_id: str) -> None:
    store = SqliteStore(workdir / "routilux-jobs.db")
    try:
        stored = store.load_job(job_id)
    finally:
        store.close()
    document: dict[str, Any] = stored.document
    assert document["status"] == "completed"
    assert stored.pending == []
    assert document["routine_stats"]["sink"]["deliveries"] >= MESSAGES
