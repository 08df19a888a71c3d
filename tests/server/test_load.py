"""Many clients at once on a real server: every job started is kept and completes.

The full size (2,000 jobs) is workload (s) of ``make bench``; here 50
clients start 4 jobs each.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
from fastapi import FastAPI
from server_flows import make_flow
from server_helpers import PATIENCE, POLL

from routilux.server.keys import create_key
from routilux.stores import JobStore

CLIENTS = 50
JOBS_EACH = 4


def test_fifty_clients_lose_no_job(
    sqlite_store: JobStore, build: Callable[..., FastAPI], live_server: Callable[[FastAPI], str]
) -> None:
    _, token = create_key(sqlite_store, "run")
    base = live_server(build(sqlite_store, make_flow()))
    ids: list[str] = []
    codes: list[int] = []

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=PATIENCE) as http:
            for _ in range(JOBS_EACH):
                response = http.post("/flows/numbers/jobs", json={"params": {"n": 1}})
                codes.append(response.status_code)
                ids.append(response.json().get("job_id", ""))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    total = CLIENTS * JOBS_EACH
    assert codes == [201] * total
    assert len(set(ids)) == total
    deadline = time.monotonic() + PATIENCE  # Bounded wait for the last jobs to end.
    counts: Counter[str] = Counter()
    while time.monotonic() < deadline:
        counts = Counter(s.status for s in sqlite_store.list_jobs(limit=total + 1))
        if counts["completed"] == total:
            break
        time.sleep(POLL)
    assert counts == {"completed": total}
