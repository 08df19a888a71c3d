"""Fixtures for the crash tests: pipeline subprocesses, their stores and their logs.

The tests run ``tests/crash/pipeline.py`` in real subprocesses, kill them
with a real SIGKILL, and resume their jobs from a real SQLite file or a real
PostgreSQL server (``tests/stores/pg_server.py``; set
``ROUTILUX_SKIP_POSTGRES=1`` to skip the PostgreSQL cases). Every wait is
bounded: a hang fails the test, and every subprocess still running at the
end of a test is killed.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from routilux.stores import JobStore

HERE = Path(__file__).resolve().parent
PIPELINE = HERE / "pipeline.py"
PG_SERVER = HERE.parent / "stores" / "pg_server.py"

#: Seconds a pipeline process may take to print its first line (imports, store).
STARTUP_PATIENCE = 30.0
#: Seconds a pipeline process may take to run a whole job to its end.
RUN_PATIENCE = 60.0
#: How often to look at a subprocess or a file while waiting for it.
POLL = 0.002


def _load(name: str, path: Path) -> ModuleType:
    """Import a file of the test tree by path (the tests have no packages)."""
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
    """Every crash test is slow (real processes, real servers): ``make test-fast`` skips them."""
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def crash_pipeline() -> ModuleType:
    """The pipeline module, to build its flow in the test process too."""
    return _load("routilux_crash_pipeline", PIPELINE)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL server for the whole session (tests/stores/pg_server.py)."""
    if os.environ.get("ROUTILUX_SKIP_POSTGRES") == "1":
        pytest.skip("ROUTILUX_SKIP_POSTGRES=1")
    pg_server = _load("pg_server", PG_SERVER)
    with pg_server.running_server() as server:
        yield server.dsn


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``--store`` argument of the pipeline: a new SQLite file, or the test server."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'jobs.db'}"
    return f"postgres:{request.getfixturevalue('postgres_dsn')}"


@pytest.fixture
def open_store(crash_pipeline: ModuleType) -> Iterator[Callable[[str], JobStore]]:
    """Open stores in the test process; all are closed at teardown."""
    stores: list[JobStore] = []

    def opener(spec: str) -> JobStore:
        store: JobStore = crash_pipeline.open_store(spec)
        stores.append(store)
        return store

    yield opener
    for store in stores:
        store.close()


@dataclass
class Child:
    """One pipeline subprocess, with its output in files."""

    proc: subprocess.Popen[bytes]
    mode: str
    out_path: Path
    err_path: Path
    killed: bool = False
    first_line: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """What it printed so far."""
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def errors(self) -> str:
        """What it printed to stderr so far."""
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        return (
            f"{self.mode} pid={self.pid} rc={self.proc.returncode}\n"
            f"--- stdout ---\n{self.output()}--- stderr ---\n{self.errors()[-4000:]}"
        )

    def read_first_line(self, timeout: float = STARTUP_PATIENCE) -> str:
        """Wait for its first printed line (the job id) and return it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.output()
            if "\n" in text:
                self.first_line = text.split("\n", 1)[0].strip()
                return self.first_line
            if self.proc.poll() is not None:
                text = self.output()
                if "\n" in text:
                    continue
                raise AssertionError(
                    f"The pipeline ended before its first line:\n{self.describe()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(
                    f"The pipeline printed nothing within {timeout} s:\n{self.describe()}"
                )
            time.sleep(POLL)

    def kill(self) -> bool:
        """SIGKILL it now (if it runs) and reap it; return whether the kill ended it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(STARTUP_PATIENCE)
        self.killed = self.proc.returncode == -signal.SIGKILL
        return self.killed

    def kill_after(self, delay: float) -> bool:
        """SIGKILL it ``delay`` seconds from now unless it ends first; return whether it was."""
        deadline = time.monotonic() + delay
        while self.proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.kill()
            time.sleep(min(POLL, left))
        return False

    def wait(self, timeout: float = RUN_PATIENCE) -> int:
        """Wait for it to end by itself; kill it and fail past ``timeout``."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"The pipeline did not end within {timeout} s:\n{self.describe()}"
            ) from None

    def status(self) -> str | None:
        """The final status it printed (``status X``), if it got that far."""
        for line in self.output().splitlines():
            if line.startswith("status "):
                return line.split(" ", 1)[1].strip()
        return None


@dataclass
class Runner:
    """Starts pipeline subprocesses on one store; kills those left at teardown."""

    store_spec: str
    workdir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, mode: str, log: Path, *, job: str | None = None, **options: object) -> Child:
        """Run ``pipeline.py mode`` with ``--name value`` for each option."""
        number = len(self.children)
        args = [sys.executable, str(PIPELINE), mode, "--store", self.store_spec, "--log", str(log)]
        if job is not None:
            args += ["--job", job]
        for name, value in options.items():
            if value is not None:
                args += [f"--{name}", str(value)]
        out_path = self.workdir / f"child{number}.out"
        err_path = self.workdir / f"child{number}.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        child = Child(proc, mode, out_path, err_path)
        self.children.append(child)
        return child

    def cleanup(self) -> None:
        for child in self.children:
            if child.proc.poll() is None:
                child.kill()


@pytest.fixture
def runner(store_spec: str, tmp_path: Path) -> Iterator[Runner]:
    """Start pipeline subprocesses on the test's store."""
    workdir = tmp_path / "children"
    workdir.mkdir()
    keeper = Runner(store_spec, workdir)
    yield keeper
    keeper.cleanup()


def read_log(path: Path) -> list[list[str]]:
    """The log's lines, split into fields."""
    if not path.exists():
        return []
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line]


def wait_for_log(
    path: Path, found: Callable[[list[list[str]]], bool], child: Child, timeout: float
) -> list[list[str]]:
    """Wait until ``found(lines)`` holds for the log; fail if the child ends or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        lines = read_log(path)
        if found(lines):
            return lines
        if child.proc.poll() is not None:
            raise AssertionError(
                f"The pipeline ended before the log showed it:\n{child.describe()}"
            )
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"The log did not show it within {timeout} s:\n{child.describe()}")
        time.sleep(POLL)


@pytest.fixture
def log_waiter() -> Callable[..., list[list[str]]]:
    """:func:`wait_for_log`, for the tests (which cannot import this module)."""
    return wait_for_log


@pytest.fixture
def log_reader() -> Callable[[Path], list[list[str]]]:
    """:func:`read_log`, for the tests."""
    return read_log
