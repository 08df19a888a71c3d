"""``routilux serve`` as a process: the demo flow of ``examples/``, end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import PATIENCE, POLL, free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

pytestmark = pytest.mark.slow


def _routilux(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "routilux", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _wait_until_up(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + PATIENCE  # Imports and the flow file: a few seconds at most.
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL * 5)
    raise AssertionError("routilux serve did not answer /health in time")


HERE = Path(__file__).resolve().parent


def _serve(store: str, port: int, *more: str, cwd: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "routilux", "serve", "--store", store, "--port", str(port)]
    return subprocess.Popen(
        [*command, *more], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 0, err
    return out, err


def test_a_stopped_server_pauses_its_jobs_and_the_next_resumes_them(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    created = _routilux("keys", "create", "--scope", "run", "--store", store, cwd=tmp_path)
    headers = {"Authorization": f"Bearer {created.stdout.split()[-1]}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = _serve(store, port, "--flow", "server_flows:slow", cwd=HERE)
    try:
        _wait_until_up(base, first)
        # 30 messages of 50 ms: the job is still running when the server stops.
        response = httpx.post(
            base + "/flows/slow/jobs", json={"params": {"n": 60}}, headers=headers
        )
        job_id = response.json()["job_id"]
    finally:
        _, err = _stop(first)
    assert "paused as the server stopped" in err
    listed = _routilux("jobs", "show", job_id, "--json", "--store", store, cwd=tmp_path)
    assert json.loads(listed.stdout)["status"] == "paused"
    second = _serve(store, port, "--flow", "server_flows:slow", "--resume-interrupted", cwd=HERE)
    try:
        _wait_until_up(base, second)
        deadline = time.monotonic() + PATIENCE  # Bounded: the rest of the job, 1.5 s.
        status = ""
        while time.monotonic() < deadline and status != "completed":
            status = httpx.get(f"{base}/jobs/{job_id}", headers=headers).json()["status"]
            time.sleep(POLL * 5)
        assert status == "completed"
    finally:
        _, err = _stop(second)
    assert f"Resumed job {job_id}" in err


def test_served_jobs_keep_the_info_records_of_their_handlers_not_printed(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(store, port, "--flow", "server_flows:talking", "--no-auth", cwd=HERE)
    try:
        _wait_until_up(base, proc)
        job_id = httpx.post(base + "/flows/talking/jobs", json={"params": {"n": 2}}).json()[
            "job_id"
        ]
        deadline = time.monotonic() + PATIENCE  # Bounded: three quick deliveries.
        while httpx.get(f"{base}/jobs/{job_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the job did not complete in time"
            time.sleep(POLL * 5)
        logs = httpx.get(f"{base}/jobs/{job_id}/logs").json()["logs"]
    finally:
        _, err = _stop(proc)
    assert [(r["level"], r["logger"], r["message"]) for r in logs] == [
        ("INFO", "server_flows", "took 0"),
        ("INFO", "server_flows", "took 1"),
    ]
    assert "took" not in err  # Python's last-resort handler prints warnings and above only.


def test_the_demo_flow_served_end_to_end(tmp_path: Path) -> None:
    created = _routilux(
        "keys", "create", "--scope", "run", "--store", "sqlite:///demo.db", cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    headers = {"Authorization": f"Bearer {created.stdout.split()[-1]}"}
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "routilux",
            "serve",
            "--store",
            "sqlite:///demo.db",
            "--flows-dir",
            str(EXAMPLES),
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc)
        refused = httpx.post(base + "/flows/orders/jobs", json={})
        assert refused.status_code == 401
        response = httpx.post(base + "/flows/orders/jobs", json={}, headers=headers)
        assert response.status_code == 201
        job_id = response.json()["job_id"]
        events = []
        with httpx.stream(
            "GET", f"{base}/jobs/{job_id}/events", headers=headers, timeout=PATIENCE
        ) as stream:
            kind = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind != "end":
                    events.append((kind, json.loads(line[6:])))
        report = httpx.get(f"{base}/jobs/{job_id}", headers=headers).json()
        assert report["status"] == "completed"
        starts = [d for k, d in events if k == "delivery" and d["type"] == "started"]
        ends = [d for k, d in events if k == "delivery" and d["type"] in ("succeeded", "failed")]
        assert len(starts) == len(ends) == report["deliveries"] > 100
        assert {"retried", "dead_lettered"} <= {d["type"] for k, d in events if k == "delivery"}
        assert events[-1][0] == "job"
        assert (events[-1][1]["type"], events[-1][1]["status"]) == ("ended", "completed")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 0, err
    assert "flows: orders" in out


def test_serve_with_a_queue_refuses_a_store_workers_cannot_share(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    done = _routilux(
        "serve", "--store", store, "--flows-dir", str(EXAMPLES), "--queue", "batch", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "queue='batch' hands the jobs to the workers" in done.stderr
    assert "this service's store is a SqliteStore" in done.stderr
    assert "Traceback" not in done.stderr
