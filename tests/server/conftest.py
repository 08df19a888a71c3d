"""Fixtures of the service tests: a real store, the app, API keys, clients, a real server.

The app is called through httpx's ASGI transport (``client``), or served by a
real uvicorn on a loopback port in a thread (``live_server``), for the event
streams. Stores are real: a SQLite file, or a schema of the PostgreSQL
server the test session starts (``tests/stores/pg_server.py``; set
``ROUTILUX_SKIP_POSTGRES=1`` to skip those).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from server_flows import GATE, make_flow
from server_helpers import PATIENCE, POLL, free_port

from routilux import Flow
from routilux.server import create_app
from routilux.stores import JobStore, PostgresStore, SqliteStore

HERE = Path(__file__).resolve().parent
PG_SERVER = HERE.parent / "stores" / "pg_server.py"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _open_gate() -> Iterator[None]:
    GATE.clear()
    yield
    GATE.set()  # Let any job still waiting end.


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL server for the whole session."""
    if os.environ.get("ROUTILUX_SKIP_POSTGRES") == "1":
        pytest.skip("ROUTILUX_SKIP_POSTGRES=1")
    pg_server = _load("pg_server", PG_SERVER)
    with pg_server.running_server() as server:
        yield server.dsn


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[JobStore]:
    store = SqliteStore(tmp_path / "jobs.db")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    """A new store: a SQLite file, then a schema of the PostgreSQL test server."""
    opened: JobStore
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "jobs.db")
    else:
        opened = PostgresStore(
            request.getfixturevalue("postgres_dsn"), schema=f"srv_{uuid.uuid4().hex[:12]}"
        )
    yield opened
    opened.close()


@pytest.fixture
def build() -> Iterator[Callable[..., FastAPI]]:
    """Make the app of a store serving flows (a ``numbers`` flow by default); closed after."""
    apps: list[FastAPI] = []

    def make(store: JobStore, *flows: Flow, **options: Any) -> FastAPI:
        options.setdefault("rate_limit", None)
        app = create_app(store, flows=flows or (make_flow(),), **options)
        apps.append(app)
        return app

    yield make
    GATE.set()
    for app in apps:
        app.state.service.close()
        for flow in app.state.service.flows.values():
            flow.shutdown(wait=True, timeout=PATIENCE)


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Make httpx clients of an app (ASGI transport); closed at teardown."""
    clients: list[httpx.AsyncClient] = []

    def make(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def live_server() -> Iterator[Callable[[FastAPI], str]]:
    """Serve apps with a real uvicorn on loopback, in threads; return each one's base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: FastAPI) -> str:
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + PATIENCE  # Bounded wait for the server to listen.
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert thread.is_alive(), "uvicorn stopped"
            time.sleep(POLL)
        return f"http://127.0.0.1:{port}"

    yield serve
    GATE.set()
    for server, thread in servers:
        server.should_exit = True
        thread.join(PATIENCE)
