"""Helpers of the service tests (a module of its own name: every test directory has a conftest)."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx

from routilux.server.keys import create_key
from routilux.stores import JobStore

#: Seconds a job of the tests may take to end, and a server to start.
PATIENCE = 20.0
#: How often a test looks again at what it waits for.
POLL = 0.01


def key(store: JobStore, scope: str) -> dict[str, str]:
    """The Authorization header of a new key of ``scope``."""
    _, token = create_key(store, scope)
    return {"Authorization": f"Bearer {token}"}


async def wait_status(
    client: httpx.AsyncClient, job_id: str, *wanted: str, patience: float = PATIENCE
) -> dict[str, Any]:
    """Poll ``GET /jobs/{job_id}`` until its status is one of ``wanted`` (PATIENCE s at most)."""
    import anyio

    wanted = wanted or ("completed",)
    deadline = time.monotonic() + patience
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/jobs/{job_id}")
        if response.status_code == 200:
            report = response.json()
            if report["status"] in wanted:
                return report
        await anyio.sleep(POLL)
    raise AssertionError(
        f"Job {job_id} is {report.get('status')}, not {wanted}, after {patience} s"
    )


def free_port() -> int:
    """A TCP port of the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
