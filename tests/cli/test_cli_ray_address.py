"""``--ray-address``: the Ray cluster of the commands that run handlers, over the flow's own.

It replaces the flow's ``ray_address`` and nothing else: a flow on another
strategy runs as before, and a flow on the "ray" strategy whose cluster
cannot be reached fails at once with an error naming the address. Its use
against a real cluster: ``tests/ray/test_ray_crash_resume.py``.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routilux.cli.commands_workers import flows_of
from routilux.cli.loading import flow_from_file, flow_from_job
from routilux.stores import SqliteStore

Run = Callable[..., subprocess.CompletedProcess[str]]
#: Commands that run handlers, as the command line names them.
COMMANDS = [("run",), ("jobs", "resume"), ("dead-letters", "replay"), ("worker",)]
#: A loopback port where nothing listens.
NOWHERE = "127.0.0.1:1"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_commands_that_run_handlers_take_it_and_say_when_it_matters(
    routilux: Run, command: tuple[str, ...]
) -> None:
    proc = routilux(*command, "--help")

    assert proc.returncode == 0, proc.stderr
    help_text = " ".join(proc.stdout.split())
    assert "--ray-address ADDRESS" in help_text
    assert 'Matters only for flows on the "ray" strategy' in help_text


def test_a_flow_on_another_strategy_runs_as_before(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow()

    proc = routilux("run", "flow.yaml", "--param", "n=2", "--ray-address", NOWHERE)

    assert proc.returncode == 0, proc.stderr
    assert "completed" in proc.stdout


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the ray extra is missing")
def test_a_cluster_that_cannot_be_reached_fails_the_run_at_once_naming_the_address(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str]
) -> None:
    path = write_flow()
    path.write_text(
        path.read_text("utf-8").replace("strategy: sequential", "strategy: ray"), "utf-8"
    )

    proc = routilux("run", "flow.yaml", "--ray-address", NOWHERE)  # Bounded: see routilux().

    assert proc.returncode == 1
    line = error_line(proc)
    assert f"Could not reach the Ray cluster at '{NOWHERE}'" in line
    assert "Connection refused" in line
    assert routilux("jobs", "list").stdout.strip() == "No jobs."  # None was started.


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_address_is_a_usage_error(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str], value: str
) -> None:
    write_flow()

    proc = routilux("run", "flow.yaml", "--ray-address", value)

    assert proc.returncode == 2
    assert "Invalid value for '--ray-address': must name a Ray cluster" in error_line(proc)


def test_it_replaces_the_address_of_flow_files_and_of_stored_jobs(
    two_jobs: list[dict[str, Any]], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)  # The flow files name routines of the working directory.
    _, flow = flow_from_file(workdir / "flow.yaml", ray_address="head:6379")
    assert (flow.execution_strategy, flow.ray_address) == ("sequential", "head:6379")
    assert flow_from_file(workdir / "flow.yaml")[1].ray_address is None

    store = SqliteStore(workdir / "routilux-jobs.db")
    try:
        job_id = two_jobs[0]["job_id"]
        assert flow_from_job(store, job_id, ray_address="ray://head:10001").ray_address == (
            "ray://head:10001"
        )
        assert flow_from_job(store, job_id).ray_address is None
    finally:
        store.close()

    flows_dir = workdir / "flows"
    flows_dir.mkdir()
    shutil.copy(workdir / "flow.yaml", flows_dir / "flow.yaml")
    assert [f.ray_address for f in flows_of(flows_dir, ray_address="auto")] == ["auto"]
