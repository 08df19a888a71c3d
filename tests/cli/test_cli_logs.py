"""``routilux run --log-format``: records logged during a job, printed on stderr."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from routilux.logs import TAG_NAMES

Run = Callable[..., subprocess.CompletedProcess[str]]
JOB_LINE = re.compile(r"^Job (\S+) started:")


def job_id_of(proc: subprocess.CompletedProcess[str]) -> str:
    match = JOB_LINE.match(proc.stdout.splitlines()[0])
    assert match, proc.stdout
    return match.group(1)


def test_json_log_lines_parse_and_carry_the_delivery_tags(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="stop", fail_always=(1,))
    proc = routilux("run", "flow.yaml", "--param", "n=3", "--log-format", "json")
    assert proc.returncode == 1, proc.stderr
    job_id = job_id_of(proc)
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    failures = [line for line in lines if line["message"].startswith(f"Job {job_id}")]
    assert len(failures) == 1, proc.stderr
    failed = failures[0]
    assert failed["level"] == "ERROR"
    assert failed["message"].startswith(f"Job {job_id} of flow 'pipeline' failed")
    assert failed["routilux_job_id"] == job_id
    assert failed["routilux_flow_id"] == "pipeline"
    assert failed["routilux_routine_id"] == "step"
    assert failed["routilux_slot"] == "input"
    assert failed["routilux_delivery_id"].startswith(f"{job_id}:")
    assert set(TAG_NAMES) <= set(failed)


def test_text_logs_at_a_level_are_tagged(routilux: Run, write_flow: Callable[..., Path]) -> None:
    write_flow(policy="stop", fail_always=(1,))
    proc = routilux("run", "flow.yaml", "--param", "n=3", "--log-level", "info")
    assert proc.returncode == 1, proc.stderr
    job_id = job_id_of(proc)
    assert re.search(
        rf"^ERROR routilux \[step\.input {job_id}:\d+\]: Job {job_id} of flow 'pipeline' failed",
        proc.stderr,
        re.M,
    ), proc.stderr


def test_text_without_a_level_prints_as_before(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="stop", fail_always=(1,))
    proc = routilux("run", "flow.yaml", "--param", "n=3")
    assert proc.returncode == 1, proc.stderr
    assert "routilux_job_id" not in proc.stderr
    assert not any(line.startswith("{") for line in proc.stderr.splitlines())
