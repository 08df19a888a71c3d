"""Fixtures for the CLI tests: a working directory with flow files, and the command.

Each test gets a fresh directory (``tmp_path``) holding ``cli_routines.py``
(the routines its flow files name) and runs ``python -m routilux`` there in
a subprocess, on real files and a real SQLite store (``routilux-jobs.db`` in
that directory: the command's default store). Every run is bounded in time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
#: Seconds one command may take (imports, a short job).
COMMAND_PATIENCE = 60.0
#: How often :func:`wait_for_progress` looks at a command running in the background.
POLL = 0.005

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
    class: cli_routines:Source
    config: {{log: {log}, sleep: {sleep}}}
    slots:
      - {{name: trigger, handler: emit_all, merge_strategy: override}}
    events:
      - {{name: out, params: [msg_id]}}
    error_handler: null
    timeout: null
    max_concurrency: 1
  step:
    class: cli_routines:Step
    config: {{log: {log}, sleep: {sleep}, fail_once: {fail_once}, fail_always: {fail_always}}}
    slots:
      - {{name: input, handler: take, merge_strategy: override}}
    events:
      - {{name: out, params: [msg_id]}}
    error_handler: {step_policy}
    timeout: null
    max_concurrency: 1
  sink:
    class: cli_routines:Sink
    config: {{log: {log}, sleep: {sleep}}}
    slots:
      - {{name: input, handler: take, merge_strategy: override}}
    events: []
    error_handler: null
    timeout: null
    max_concurrency: 1
connections:
  - {{source: source, event: out, target: step, slot: input, param_mapping: null}}
  - {{source: step, event: out, target: sink, slot: input, param_mapping: null}}
"""

#: Step error policies: the message becomes a dead letter and the job goes on,
#: or it is retried, or (None) the job stops, failed.
POLICIES = {
    "continue": "{strategy: continue, max_retries: 3, retry_delay: 1.0, retry_backoff: 2.0, "
    "retryable_exceptions: ['builtins:Exception'], is_critical: false}",
    "retry": "{strategy: retry, max_retries: 3, retry_delay: 0.01, retry_backoff: 1.0, "
    "retryable_exceptions: ['builtins:RuntimeError'], is_critical: false}",
    "stop": "null",
}


def make_workdir(path: Path) -> Path:
    """Put the routines module the flow files name in ``path``; return ``path``."""
    shutil.copy(HERE / "cli_routines.py", path / "cli_routines.py")
    return path


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory holding the routines module the flow files name."""
    return make_workdir(tmp_path)


def write_flow_file(
    workdir: Path,
    name: str = "flow.yaml",
    *,
    flow_id: str = "pipeline",
    sleep: float = 0.0,
    fail_once: tuple[int, ...] = (),
    fail_always: tuple[int, ...] = (),
    policy: str = "continue",
) -> Path:
    """Write a source -> step -> sink flow file in ``workdir``; return its path.

    Options: ``name`` (file name), ``flow_id``, ``sleep`` (seconds per
    handler), ``fail_once`` and ``fail_always`` (message ids the step fails
    on), ``policy`` (a key of :data:`POLICIES`). The handlers log to
    ``log.txt`` in ``workdir``.
    """
    text = FLOW_TEMPLATE.format(
        flow_id=flow_id,
        log=json.dumps(str(workdir / "log.txt")),
        sleep=sleep,
        fail_once=list(fail_once),
        fail_always=list(fail_always),
        step_policy=POLICIES[policy],
    )
    path = workdir / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def write_flow(workdir: Path) -> Callable[..., Path]:
    """:func:`write_flow_file` in the working directory."""
    return lambda *args, **options: write_flow_file(workdir, *args, **options)


def run_routilux(
    workdir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m routilux ARGS`` in ``workdir``; return the finished process."""
    # The default store is the working directory's, whatever the caller's shell says.
    environment = {k: v for k, v in os.environ.items() if k != "ROUTILUX_STORE"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "routilux", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=COMMAND_PATIENCE,
        check=False,
        env=environment,
    )


@pytest.fixture
def routilux(workdir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m routilux ARGS`` in the working directory; return the finished process."""
    return lambda *args, env=None: run_routilux(workdir, *args, env=env)


#: What :func:`two_jobs_made` leaves: its directory, and the two runs' reports.
TwoJobs = tuple[Path, list[dict[str, Any]]]
#: The files of a directory's default store.
STORE_FILES = ("routilux-jobs.db", "routilux-jobs.db-wal", "routilux-jobs.db-shm")


@pytest.fixture(scope="session")
def two_jobs_made(tmp_path_factory: pytest.TempPathFactory) -> TwoJobs:
    """A completed job of flow 'pipeline' and a failed one of flow 'other', run once.

    Tests that only read or change the two stored jobs start from a copy of
    this store (see ``two_jobs``), instead of running both again.
    """
    made = make_workdir(tmp_path_factory.mktemp("two-jobs"))
    write_flow_file(made)
    write_flow_file(made, "other.yaml", flow_id="other", policy="stop", fail_always=(0,))
    reports = []
    for name in ("flow.yaml", "other.yaml"):
        proc = run_routilux(made, "run", name, "--param", "n=2", "--json")
        reports.append(json.loads(proc.stdout))
    return made, reports


@pytest.fixture
def two_jobs(two_jobs_made: TwoJobs, workdir: Path) -> list[dict[str, Any]]:
    """The jobs of :func:`two_jobs_made`, in a copy of its store in the working directory.

    The flow files are written in the working directory too.
    """
    made, reports = two_jobs_made
    write_flow_file(workdir)
    write_flow_file(workdir, "other.yaml", flow_id="other", policy="stop", fail_always=(0,))
    for name in STORE_FILES:
        if (made / name).exists():
            shutil.copy(made / name, workdir / name)
    return json.loads(json.dumps(reports))


@pytest.fixture
def run_json(
    routilux: Callable[..., subprocess.CompletedProcess[str]],
) -> Callable[..., Any]:
    """Run a command with ``--json`` and return its parsed stdout (and the process)."""

    def run(*args: str) -> tuple[Any, subprocess.CompletedProcess[str]]:
        proc = routilux(*args, "--json")
        try:
            return json.loads(proc.stdout), proc
        except ValueError:
            raise AssertionError(f"Not JSON: {proc.stdout!r}\nstderr: {proc.stderr}") from None

    return run


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The command's stderr, checked to be one ``routilux: error:`` line without traceback."""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("routilux: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture
def error_line() -> Callable[[subprocess.CompletedProcess[str]], str]:
    """:func:`one_error_line`, for the tests (which cannot import this module)."""
    return one_error_line


def read_log(path: Path) -> list[list[str]]:
    """The handlers' log, one list of fields per line."""
    if not path.exists():
        return []
    return [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture
def handler_log(workdir: Path) -> Callable[[], list[list[str]]]:
    """Read the handlers' log of the working directory."""
    return lambda: read_log(workdir / "log.txt")


def wait_for_progress(found: Callable[[], bool], proc: subprocess.Popen[Any], what: str) -> None:
    """Wait until ``found()`` holds, while ``proc`` runs a command in the background.

    The command writes files, not events this process could wait on, so
    this looks again every :data:`POLL` seconds.

    Raises:
        AssertionError: The command ended first, or :data:`COMMAND_PATIENCE` ran out.
    """
    deadline = time.monotonic() + COMMAND_PATIENCE
    while not found():
        if proc.poll() is not None:
            raise AssertionError(f"the command ended ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {what} after {COMMAND_PATIENCE} s")
        time.sleep(POLL)


@pytest.fixture
def wait_for() -> Callable[[Callable[[], bool], subprocess.Popen[Any], str], None]:
    """:func:`wait_for_progress`, for the tests (which cannot import this module)."""
    return wait_for_progress


@pytest.fixture
def sink_ended(handler_log: Callable[[], list[list[str]]]) -> Callable[[int], bool]:
    """Whether the sink has finished a message in process ``pid`` (its job made progress)."""
    return lambda pid: any(
        f[0] == "end" and f[3] == "sink" and f[4] == str(pid) for f in handler_log()
    )
