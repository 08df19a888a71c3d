"""A job whose process is still alive cannot be resumed elsewhere; once it is killed, it can."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from routilux import StoreError

N = 6
#: Seconds each handler of the original process takes: it is still running when resumed.
SLOW = 0.5
PATIENCE = 60.0


@pytest.mark.timeout(120)
def test_resume_is_refused_while_the_owner_lives_then_allowed_once_it_is_killed(
    store_spec: str,
    runner: Any,
    open_store: Callable[[str], Any],
    crash_pipeline: ModuleType,
    log_waiter: Callable[..., list[list[str]]],
    log_reader: Callable[[Path], list[list[str]]],
    tmp_path: Path,
) -> None:
    log = tmp_path / "job.log"
    original = runner.spawn("start", log, n=N, sleep=SLOW)
    job_id = original.read_first_line()
    log_waiter(log, lambda lines: any(f[0] == "start" for f in lines), original, PATIENCE)
    store = open_store(store_spec)
    owner = f"{socket.gethostname()}:{original.pid}"
    assert store.load_job(job_id).owner == owner

    # From this (the test's) process.
    flow_log = crash_pipeline.Log(log)
    flow = crash_pipeline.build_flow(flow_log, sleep=0.0)
    try:
        with pytest.raises(StoreError, match=rf"still running in process {owner}\b"):
            flow.resume(job_id, store=store)
        assert flow.get_execution(job_id) is None

        # From another process, through the pipeline script.
        rival = runner.spawn("resume", log, job=job_id, n=N)
        assert rival.wait(PATIENCE) != 0
        assert "JobOwnedError" in rival.errors()
        assert f"still running in process {owner}" in rival.errors()

        assert original.proc.poll() is None, "the original process ended before the kill"
        stored = store.load_job(job_id)
        assert stored.document["status"] == "running"
        assert stored.owner == owner  # The refusals changed nothing.

        assert original.kill()
        assert flow.resume(job_id, store=store)
        job = flow.get_execution(job_id)
        assert job is not None
        assert job.wait(PATIENCE), "the resumed job did not end"
    finally:
        flow.shutdown(wait=True)
        flow_log.close()
    assert job.status == "completed", job.error
    assert store.load_job(job_id).document["status"] == "completed"
    sink_ends = {f[2] for f in log_reader(log) if f[0] == "end" and f[3] == "sink"}
    assert sink_ends == {str(i) for i in range(N)}
