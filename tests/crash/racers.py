"""The processes of the ownership tests: a job's owner, killed or stopped, and its resumers.

They run as real processes started from a fork server (``multiprocessing``'s
``forkserver``), which has imported routilux and the pipeline once, so a
trial starts its processes in milliseconds. Each function is a process's
whole life; results come back through a queue.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import routilux._serde.flow_doc  # noqa: F401  What a job's start imports: once, in the server.
from routilux import JobOwnedError


def _pipeline() -> ModuleType:
    """tests/crash/pipeline.py, by its path (another ``pipeline`` may come first on sys.path)."""
    name = "routilux_crash_pipeline"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("pipeline.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_PIPELINE = _pipeline()
Log = _PIPELINE.Log
build_flow = _PIPELINE.build_flow
open_store = _PIPELINE.open_store

#: The longest any of these processes waits for anything, in seconds.
PATIENCE = 120.0


class StallingLog(Log):
    """A log whose handler stalls (to be killed there) once it wrote ``count`` lines of ``kind``."""

    def __init__(self, path: str, kind: str, count: int) -> None:
        super().__init__(path)
        self.kind = kind
        self.left = count

    def run(self, kind: str, delivery_id: str, msg: object, routine: str) -> None:
        super().run(kind, delivery_id, msg, routine)
        if kind == self.kind:
            self.left -= 1
            if self.left == 0:
                self.write("stalled", delivery_id, msg, routine, os.getpid())
                time.sleep(PATIENCE)


def own_job(
    spec: str, log_path: str, n: int, sleep: float, stall: tuple[str, int], results: Any
) -> None:
    """Start a job of ``n`` messages, report its id, and run it until its handler stalls.

    ``stall`` is ``(kind, count)``: the handler that writes the ``count``-th
    log line of ``kind`` (``"start"`` or ``"end"``) stalls there, to be killed.
    """
    log = StallingLog(log_path, *stall)
    log.write("proc", os.getpid(), "start")
    store = open_store(spec)
    flow = build_flow(log, sleep=sleep)
    job = flow.start("source", {"n": n}, store=store)
    results.put(("started", os.getpid(), job.job_id))
    job.wait(PATIENCE)
    flow.shutdown(wait=True)
    store.close()
    log.close()


def resume_at(spec: str, log_path: str, job_id: str, barrier: Any, results: Any) -> None:
    """Get ready to resume ``job_id``, wait at ``barrier`` with the rival, resume; report."""
    log = Log(log_path)
    store = open_store(spec)
    flow = build_flow(log, sleep=0.0)
    results.put(resume_when(flow, store, job_id, barrier))
    flow.shutdown(wait=True)
    store.close()
    log.close()


def resume_when(flow: Any, store: Any, job_id: str, barrier: Any) -> tuple[Any, ...]:
    """Call ``flow.resume(job_id, wait=True)`` as ``barrier`` opens; return what happened.

    The store is used once before, so that its connection is open. Returns
    ``("resumed", pid, called_at, final status)``, ``("ended", pid, called_at)``
    when the job had ended, or ``("refused", pid, called_at, message)``.
    """
    store.list_jobs(limit=1)
    barrier.wait(PATIENCE)
    called = time.time()
    try:
        resumed = flow.resume(job_id, store=store, wait=True)
    except JobOwnedError as exc:
        return ("refused", os.getpid(), called, str(exc))
    if not resumed:
        return ("ended", os.getpid(), called)
    job = flow.get_execution(job_id)
    return ("resumed", os.getpid(), called, None if job is None else job.status.value)
