"""The dashboard in headless Chromium: a real service on loopback, a real browser.

The service is the app of ``routilux.server.create_app`` on a SQLite store in
a temporary directory, serving the demo flow (``examples/demo_flow.yaml``)
and the flows of ``dashboard_routines.py``, under uvicorn in a thread of the
test process (one per pytest worker). The browser is Debian's ``chromium``,
launched by its path with Playwright (never a browser download); without
it the tests fail, unless ``ROUTILUX_SKIP_BROWSER=1`` (then they skip).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from routilux.server import create_app
from routilux.server.keys import create_key
from routilux.stores import SqliteStore

from . import dashboard_routines

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
#: Where the test run saves the screenshots of docs/service.md.
IMAGES = ROOT / "docs" / "images"
#: Debian's package puts its launcher here.
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Seconds any one step in the browser may take before the test fails.
STEP_TIMEOUT_MS = 15_000
#: Seconds the server may take to start or stop.
SERVER_PATIENCE = 20.0


def chromium_path() -> str:
    """Debian's Chromium, or a skip (ROUTILUX_SKIP_BROWSER=1) or a failure."""
    found = next((p for p in CHROMIUM_PATHS if os.access(p, os.X_OK)), None)
    found = found or shutil.which("chromium")
    if found:
        return found
    message = "Chromium not found: apt-get install chromium (make test does it as root)"
    if os.environ.get("ROUTILUX_SKIP_BROWSER") == "1":
        pytest.skip(f"{message}; ROUTILUX_SKIP_BROWSER=1")
    pytest.fail(f"{message}, or set ROUTILUX_SKIP_BROWSER=1 to skip the dashboard tests")


@dataclass(frozen=True)
class Service:
    """The running service: its base URL, a ``run`` key and its store."""

    url: str
    key: str
    store: SqliteStore


@contextmanager
def running_service(directory: Path) -> Iterator[Service]:
    """The service on a new SQLite store in ``directory``, under uvicorn on loopback."""
    store = SqliteStore(directory / "jobs.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLES))  # the demo flow's routines
        flows = (
            dashboard_routines.breaks(),
            dashboard_routines.letters(),
            dashboard_routines.slow(),
        )
        app = create_app(store, flows=flows, flows_dir=EXAMPLES)
        _row, key = create_key(store, "run")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + SERVER_PATIENCE  # bounded wait for the server to listen
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the service did not start")
            time.sleep(0.02)
        try:
            yield Service(f"http://127.0.0.1:{sock.getsockname()[1]}", key, store)
        finally:
            server.should_exit = True
            thread.join(SERVER_PATIENCE)
            sock.close()
            store.close()


@contextmanager
def open_page(browser: Browser, service: Service, *, with_key: bool = True) -> Iterator[Page]:
    """A page in a fresh browser context, holding the service's ``run`` key if asked."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=service.url)
    if with_key:
        context.add_init_script(f"localStorage.setItem('routilux.apiKey', {service.key!r});")
    context.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def start_job(service: Service, flow_id: str, body: dict[str, Any] | None = None) -> str:
    """Start a job of ``flow_id`` through the API; its id."""
    response = httpx.post(
        f"{service.url}/flows/{flow_id}/jobs",
        json=body or {},
        headers={"Authorization": f"Bearer {service.key}"},
        timeout=STEP_TIMEOUT_MS / 1000,
    )
    assert response.status_code == 201, response.text
    job_id: str = response.json()["job_id"]
    return job_id


def wait_ended(service: Service, job_id: str) -> str:
    """The job's final status, read from the API until it ends (bounded)."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000  # bounded: the test flows end in ~1 s
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{service.url}/jobs/{job_id}", headers={"Authorization": f"Bearer {service.key}"}
        )
        status: str = response.json()["status"]
        if status in ("completed", "failed", "cancelled"):
            return status
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not end")
