"""``GET /jobs/{job_id}/events``: Server-Sent Events from a real uvicorn on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server_flows import GATE, make_flow
from server_helpers import PATIENCE

from routilux.server.keys import create_key
from routilux.stores import JobStore

Build = Callable[..., FastAPI]


def read_events(base: str, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every event of a stream until it closes (PATIENCE seconds between two lines at most)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with httpx.stream("GET", base + path, headers=headers, timeout=PATIENCE) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if current:
                    events.append(current)
                current = {}
            elif line.startswith(":"):
                current.setdefault("comments", []).append(line)
            else:
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
    return events


@pytest.fixture
def served(store: JobStore, build: Build, live_server: Callable[[FastAPI], str]):  # type: ignore[no-untyped-def]
    """A live server on a store of each kind (SQLite, PostgreSQL)."""
    _, token = create_key(store, "run")
    headers = {"Authorization": f"Bearer {token}"}
    app = build(store, make_flow(fail_on=1, gated=True))
    return live_server(app), headers


def test_live_late_and_resumed_streams(served: tuple[str, dict[str, str]]) -> None:
    base, headers = served
    created = httpx.post(base + "/flows/numbers/jobs", json={}, headers=headers, timeout=PATIENCE)
    job_id = created.json()["job_id"]
    # The job waits at the gate: the stream opens while it runs; the gate
    # opens once the stream has begun (its first line read).
    events: list[dict[str, Any]] = []
    with httpx.stream(
        "GET", f"{base}/jobs/{job_id}/events", headers=headers, timeout=PATIENCE
    ) as response:
        lines = response.iter_lines()
        first = next(lines)
        GATE.set()
        text = "\n".join([first, *lines])
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields:
            events.append(fields)
    assert [int(e["id"]) for e in events[:-1]] == list(range(1, len(events)))
    assert events[-1]["event"] == "end"
    data = [json.loads(e["data"]) for e in events[:-1]]
    assert data[0].pop("time") > 0
    assert data[0] == {"type": "started", "status": "running", "error": None}
    assert data[-1]["type"] == "ended"
    assert data[-1]["status"] == "completed"
    deliveries = [d for d in data if d.get("routine_id")]
    report = httpx.get(f"{base}/jobs/{job_id}", headers=headers).json()
    started = [d for d in deliveries if d["type"] == "started"]
    assert len(started) == report["deliveries"] == 4
    kinds = sorted(d["type"] for d in deliveries if d["routine_id"] == "step")
    assert kinds == [
        "dead_lettered",
        "failed",
        "skipped",
        "started",
        "started",
        "started",
        "succeeded",
        "succeeded",
    ]
    # Late: the whole stream again, the same events.
    late = read_events(base, f"/jobs/{job_id}/events", headers)
    late[0]["data"].pop("time")
    assert [e["data"] for e in late[:-1]] == data
    # After Last-Event-ID: only the later ones.
    after = read_events(base, f"/jobs/{job_id}/events", {**headers, "Last-Event-ID": "3"})
    assert [int(e["id"]) for e in after[:-1]] == list(range(4, len(events)))
    assert after[-1]["event"] == "end"


def test_a_job_this_server_did_not_run(
    sqlite_store: JobStore, build: Build, live_server: Callable[[FastAPI], str]
) -> None:
    _, token = create_key(sqlite_store, "read")
    headers = {"Authorization": f"Bearer {token}"}
    GATE.set()
    flow = make_flow(fail_on=0)
    job = flow.execute("source", {"n": 2}, store=sqlite_store)
    base = live_server(build(sqlite_store, make_flow()))
    events = read_events(base, f"/jobs/{job.job_id}/events", headers)
    data = [e["data"] for e in events[:-1]]
    assert data[0]["type"] == "started"
    assert [d["type"] for d in data[1:-1]] == ["succeeded", "succeeded", "dead_lettered"]
    assert all(d["time"] > 0 for d in data)
    assert data[-1]["status"] == "completed"
    assert data[-1]["error"] is None
    assert events[-1]["event"] == "end"
    missing = httpx.get(f"{base}/jobs/nope/events", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = httpx.get(f"{base}/jobs/{job.job_id}/events", headers={**headers, "Last-Event-ID": "x"})
    assert bad.status_code == 400
