"""(s) The HTTP service under load: many clients start jobs over loopback; none is lost.

``routilux serve`` runs in a subprocess on a new SQLite store, serving the
flow :func:`bench_flow` (a source and a sink) with API keys on. 50 client
threads in this process, each with its own connection, start ``n`` jobs
between them (``POST /flows/bench/jobs``), each request timed. The timer
covers the requests and the wait until every job is ``completed`` in the
store. The figure is milliseconds of the run per job; the Also column gives
its inverse, jobs per second, and the median and 99th percentile of the
request latency. Nothing is lost: every request
answered 201 with a distinct job, and the store counts ``n`` completed jobs
and no other.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.measure import Result, Timer, VerificationError, expect
from routilux import Flow, Routine
from routilux.server.keys import create_key
from routilux.stores import SqliteStore

__all__ = ["CLIENTS", "bench_flow", "run_service_load"]

#: Concurrent clients.
CLIENTS = 50
#: Seconds the server may take to start, and the jobs to end, at most.
PATIENCE = 120.0
ROOT = Path(__file__).resolve().parents[2]


class Source(Routine):
    """Emits one message."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["value"])

    def send(self, value: int = 1) -> None:
        self.emit("out", value=value)


class Sink(Routine):
    """Takes it."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, value: int) -> None:
        pass


def bench_flow() -> Flow:
    """The served flow: source -> sink (``--flow bench.workloads.service:bench_flow``)."""
    flow = Flow("bench", record_history=False)
    flow.add_routine(Source(), "source")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "sink", "input")
    return flow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_server(store_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [
        sys.executable,
        "-m",
        "routilux",
        "serve",
        "--store",
        store_url,
        "--flow",
        "bench.workloads.service:bench_flow",
        "--port",
        str(port),
        "--rate-limit",
        "off",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + PATIENCE  # Bounded: imports and the store.
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VerificationError(f"routilux serve exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise VerificationError("routilux serve did not start in time")


def _client(base: str, token: str, count: int, ids: list[str], latencies: list[float]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=PATIENCE) as client:
        for _ in range(count):
            start = time.perf_counter()
            response = client.post("/flows/bench/jobs", json={})
            latencies.append(time.perf_counter() - start)
            expect("status of POST /flows/bench/jobs", response.status_code, 201)
            ids.append(response.json()["job_id"])


def _wait_completed(store: SqliteStore, n: int) -> dict[str, int]:
    deadline = time.monotonic() + PATIENCE  # Bounded: every job must end.
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = {}
        for summary in store.list_jobs(limit=n + 1000):
            counts[summary.status] = counts.get(summary.status, 0) + 1
        if counts.get("completed", 0) >= n or (counts.get("running", 0) == 0 and counts):
            return counts
        time.sleep(0.02)
    return counts


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_service_load(n: int, *, clients: int = CLIENTS) -> Result:
    """Start ``n`` jobs from ``clients`` threads over HTTP; milliseconds per job."""
    with tempfile.TemporaryDirectory(prefix="routilux-bench-") as directory:
        path = Path(directory) / "jobs.db"
        store = SqliteStore(path)
        _, token = create_key(store, "run")
        port = _free_port()
        proc = _start_server(f"sqlite:///{path}", port, Path(directory) / "server.log")
        ids: list[str] = []
        latencies: list[float] = []
        shares = [n // clients + (1 if i < n % clients else 0) for i in range(clients)]
        threads = [
            threading.Thread(
                target=_client, args=(f"http://127.0.0.1:{port}", token, k, ids, latencies)
            )
            for k in shares
        ]
        try:
            with Timer() as timer:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(PATIENCE)
                counts = _wait_completed(store, n)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(PATIENCE)
            store.close()
    expect("requests answered 201", len(ids), n)
    expect("distinct job ids", len(set(ids)), n)
    expect("jobs in the store, by status", counts, {"completed": n})
    return Result(
        value=timer.elapsed / n * 1000,
        cost_us=timer.elapsed / n * 1e6,
        elapsed_s=timer.elapsed,
        operations=n,
        counts={"jobs": n, "completed": counts["completed"], "clients": clients},
        secondary={
            "jobs_per_s": n / timer.elapsed,
            "p50_ms": _percentile(latencies, 0.5) * 1000,
            "p99_ms": _percentile(latencies, 0.99) * 1000,
        },
        gc_collections=timer.gc_collections,
        cpu_share=timer.cpu_share,
        peak_rss_kb=timer.peak_rss_kb,
    )
