"""``routilux graph``: Mermaid and DOT pictures of a flow file, and of a stored job."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routilux import Flow

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def flow_file(write_flow: Callable[..., Path]) -> Path:
    return write_flow(policy="stop", fail_always=(0,))


def test_mermaid_is_the_flow_s_to_mermaid(routilux: Run, flow_file: Path, workdir: Path) -> None:
    proc = routilux("graph", "flow.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == Flow.from_file(flow_file).to_mermaid()
    assert proc.stdout.startswith("flowchart LR\n")


def test_dot_is_the_flow_s_to_dot(routilux: Run, flow_file: Path) -> None:
    proc = routilux("graph", "flow.yaml", "--format", "dot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == Flow.from_file(flow_file).to_dot()
    assert proc.stdout.startswith('digraph "pipeline" {\n')


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_a_job_colours_routines_by_their_state(
    routilux: Run, run_json: Callable[..., Any], flow_file: Path, fmt: str
) -> None:
    report, proc = run_json("run", "flow.yaml", "--param", "n=2")
    assert report["status"] == "failed"
    proc = routilux("graph", "flow.yaml", "--format", fmt, "--job", report["job_id"])
    assert proc.returncode == 0, proc.stderr
    if fmt == "mermaid":
        assert "    class r0 completed\n" in proc.stdout
        assert "    class r1 failed\n" in proc.stdout
        assert "    class r2 not_run\n" in proc.stdout
    else:
        assert '"step" [label="step\\nStep", style="rounded,filled", fillcolor="#f8d7da"' in (
            proc.stdout
        )
        assert 'tooltip="not run"' in proc.stdout


def test_json_output_holds_the_graph(run_json: Callable[..., Any], flow_file: Path) -> None:
    data, proc = run_json("graph", "flow.yaml", "--format", "dot")
    assert proc.returncode == 0
    assert data["format"] == "dot"
    assert data["graph"] == Flow.from_file(flow_file).to_dot()


def test_an_unknown_job_is_one_line_exit_1(
    routilux: Run, run_json: Callable[..., Any], flow_file: Path, error_line: Callable[..., str]
) -> None:
    run_json("run", "flow.yaml", "--param", "n=1")
    proc = routilux("graph", "flow.yaml", "--job", "no-such-job")
    assert proc.returncode == 1
    assert "no-such-job" in error_line(proc)


def test_a_job_of_another_flow_is_refused(
    routilux: Run,
    run_json: Callable[..., Any],
    write_flow: Callable[..., Path],
    error_line: Callable[..., str],
) -> None:
    write_flow()
    write_flow("other.yaml", flow_id="other")
    report, _ = run_json("run", "other.yaml", "--param", "n=1")
    proc = routilux("graph", "flow.yaml", "--job", report["job_id"])
    assert proc.returncode == 2
    assert "is a job of flow 'other', not of 'pipeline'" in error_line(proc)


def test_a_missing_store_is_an_error_not_a_new_file(
    routilux: Run, flow_file: Path, workdir: Path, error_line: Callable[..., str]
) -> None:
    proc = routilux("graph", "flow.yaml", "--job", "x", "--store", "sqlite:///nope.db")
    assert proc.returncode == 1
    assert "There is no job store at nope.db" in error_line(proc)
    assert not (workdir / "nope.db").exists()
