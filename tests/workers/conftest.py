"""Fixtures for the worker tests: a PostgreSQL database per test, flow files, worker processes.

Each test gets a database of its own on the PostgreSQL server the test run
starts (``tests/stores/pg_server.py``; ``ROUTILUX_SKIP_POSTGRES=1`` skips
these tests), a flows directory holding ``worker_routines.py`` and flow
files naming its classes, and real ``routilux worker`` processes. Every
wait is bounded, and every worker still running at the end of a test is
killed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import pytest

from routilux.stores import PostgresStore

HERE = Path(__file__).resolve().parent
PG_SERVER = HERE.parent / "stores" / "pg_server.py"
SRC = HERE.parents[1] / "src"
#: Seconds a worker may take to start (imports, the queue's schema).
STARTUP_PATIENCE = 30.0
#: How often to look at a process, a log or a store while waiting.
POLL = 0.02

FLOW_TEMPLATE = """\
schema: routilux.flow
version: 2
flow_id: {flow_id}
execution_strategy: sequential
max_workers: 3
execution_timeout: null
max_deliveries: 1000000
record_history: true
retain_jobs: 100
error_handler: null
routines:
  source:
    class: worker_routines:Source
    config: {{log: {log}}}
    slots:
      - {{name: trigger, handler: emit_all, merge_strategy: override}}
    events:
      - {{name: out, params: [tag, n]}}
    error_handler: null
    timeout: null
    max_concurrency: 1
  step:
    class: worker_routines:Step
    config: {{log: {log}, sleep: {sleep}}}
    slots:
      - {{name: input, handler: take, merge_strategy: override}}
    events: []
    error_handler: null
    timeout: null
    max_concurrency: 1
connections:
  - {{source: source, event: out, target: step, slot: input, param_mapping: null}}
"""


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Worker tests start real processes on a real server: all are slow."""
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A throwaway PostgreSQL server for the session."""
    if os.environ.get("ROUTILUX_SKIP_POSTGRES") == "1":
        pytest.skip("ROUTILUX_SKIP_POSTGRES=1")
    module = _load("pg_server", PG_SERVER)
    with module.running_server() as server:
        yield server


@dataclass(frozen=True)
class Database:
    """One test's database: its libpq DSN and its URL for ``--store``."""

    dsn: str
    url: str

    def store(self) -> PostgresStore:
        return PostgresStore(self.dsn)


@pytest.fixture
def database(pg_server: object) -> Iterator[Database]:
    """A new, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"w_{uuid.uuid4().hex[:12]}"
    admin = pg_server.dsn  # type: ignore[attr-defined]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    socket_dir = quote(str(pg_server.socket_dir), safe="")  # type: ignore[attr-defined]
    url = f"postgresql://postgres@/{name}?host={socket_dir}&port={pg_server.port}"  # type: ignore[attr-defined]
    yield Database(pg_server.dsn_for(name), url)  # type: ignore[attr-defined]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@dataclass
class FlowsDir:
    """A directory of flow files and the routines they name; their handlers log to ``log``."""

    path: Path
    log: Path

    def write(self, flow_id: str = "small", *, sleep: float = 0.0) -> Path:
        """Write the flow file of ``flow_id`` (a source and a step taking ``sleep`` s)."""
        file = self.path / f"{flow_id}.yaml"
        file.write_text(
            FLOW_TEMPLATE.format(flow_id=flow_id, log=self.log, sleep=sleep), encoding="utf-8"
        )
        return file

    def lines(self) -> list[list[str]]:
        """The log's lines, split: kind, delivery id, tag, routine id, pid."""
        if not self.log.exists():
            return []
        text = self.log.read_text(encoding="utf-8")
        return [line.split() for line in text.splitlines() if line]


@pytest.fixture
def flows_dir(tmp_path: Path) -> FlowsDir:
    """An empty flows directory holding ``worker_routines.py``."""
    path = tmp_path / "flows"
    path.mkdir()
    shutil.copy(HERE / "worker_routines.py", path / "worker_routines.py")
    return FlowsDir(path, tmp_path / "handlers.log")


@dataclass
class Worker:
    """One ``routilux worker`` process, its output in files."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def describe(self) -> str:
        out = self.out.read_text(errors="replace")
        err = self.err.read_text(errors="replace")
        return f"worker pid={self.pid} rc={self.proc.returncode}\n{out}\n{err[-4000:]}"

    def wait_ready(self) -> None:
        """Wait until it says it takes jobs (bounded by :data:`STARTUP_PATIENCE`)."""
        deadline = time.monotonic() + STARTUP_PATIENCE
        while "ready" not in self.out.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"The worker did not start:\n{self.describe()}")
            time.sleep(POLL)

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL it (if it runs) and reap it."""
        self.signal(signal.SIGKILL)
        self.proc.wait(STARTUP_PATIENCE)

    def wait(self, timeout: float) -> int:
        """Wait for it to exit; kill it and fail past ``timeout``."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"The worker did not exit in {timeout} s:\n{self.describe()}"
            ) from None


@dataclass
class Workers:
    """Starts worker processes on one database and flows directory; kills them at teardown."""

    database: Database
    flows: FlowsDir
    workdir: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, *options: str, ready: bool = True) -> Worker:
        number = len(self.started)
        out = self.workdir / f"worker{number}.out"
        err = self.workdir / f"worker{number}.err"
        args = [
            sys.executable,
            "-m",
            "routilux",
            "worker",
            "--store",
            self.database.url,
            "--flows-dir",
            str(self.flows.path),
            "--stalled-seconds",
            "2",
            *options,
        ]
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        with out.open("wb") as o, err.open("wb") as e:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env)
        worker = Worker(proc, out, err)
        self.started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def cleanup(self) -> None:
        for worker in self.started:
            worker.kill()


@pytest.fixture
def workers(database: Database, flows_dir: FlowsDir, tmp_path: Path) -> Iterator[Workers]:
    """Start worker processes; all are killed at teardown."""
    keeper = Workers(database, flows_dir, tmp_path)
    yield keeper
    keeper.cleanup()


def wait_until(found: Callable[[], bool], timeout: float, what: str, *procs: Worker) -> None:
    """Poll ``found`` until it holds; fail past ``timeout`` (with the workers' output)."""
    deadline = time.monotonic() + timeout
    while not found():
        if time.monotonic() > deadline:
            details = "\n".join(w.describe() for w in procs)
            raise AssertionError(f"Not within {timeout} s: {what}\n{details}")
        time.sleep(POLL)


@pytest.fixture
def waiter() -> Callable[..., None]:
    """:func:`wait_until`, for the tests (which cannot import this module)."""
    return wait_until
