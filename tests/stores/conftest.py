"""Fixtures for the job store tests: a store of every kind, and a real PostgreSQL server.

The PostgreSQL tests start their own server (see ``pg_server.py``). When its
binaries or the psycopg driver are missing they fail, saying what to
install, unless ``ROUTILUX_SKIP_POSTGRES=1`` is set: then they are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from pg_server import PostgresNotAvailable, PostgresServer, running_server

from routilux.stores import JobStore, MemoryStore, PostgresStore, SqliteStore

#: Set to 1 to skip (rather than fail) the PostgreSQL tests on a machine without a server.
SKIP_POSTGRES = "ROUTILUX_SKIP_POSTGRES"
STORE_KINDS = ("memory", "sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, in a temporary directory."""
    if os.environ.get(SKIP_POSTGRES) == "1":
        pytest.skip(f"{SKIP_POSTGRES}=1: the PostgreSQL tests are skipped.")
    with ExitStack() as stack:
        try:
            server = stack.enter_context(running_server())
        except PostgresNotAvailable as exc:
            failure = f"Cannot run the PostgreSQL tests: {exc}"
        else:
            failure = ""
        if failure:
            pytest.fail(failure, pytrace=False)
        yield server


@pytest.fixture
def pg_schema(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """``(dsn, schema)``: a schema of its own for one test, dropped after it."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield postgres_server.dsn, schema
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each kind of store in turn."""
    kind: str = request.param
    return kind


@pytest.fixture
def open_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], JobStore]]:
    """Open a store of ``store_kind``; each call opens another on the same data.

    (A MemoryStore has no data to share: each call makes a new, empty one.)
    """
    opened: list[JobStore] = []
    location: tuple[str, str] | None = None
    if store_kind == "postgres":
        location = request.getfixturevalue("pg_schema")

    def open_one() -> JobStore:
        store: JobStore
        if store_kind == "memory":
            store = MemoryStore()
        elif store_kind == "sqlite":
            store = SqliteStore(tmp_path / "jobs.db")
        else:
            assert location is not None
            store = PostgresStore(location[0], schema=location[1])
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], JobStore]) -> JobStore:
    """A fresh, empty store of each kind in turn."""
    return open_store()
