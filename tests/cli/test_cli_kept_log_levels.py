"""keep_logs from a flow file, for loggers without a level of their own.

Python's root logger is at WARNING, so such a logger makes no INFO record
unless the command that runs the handlers lowers the root level to the
lowest level its flows keep. What is printed on stderr must not change.
The handlers here log with ``say: plain`` (see ``cli_routines.py``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from routilux import Flow
from routilux.cli.log_levels import kept_logs_made

Run = Callable[..., subprocess.CompletedProcess[str]]
WaitFor = Callable[[Callable[[], bool], subprocess.Popen[Any], str], None]
JOB_LINE = re.compile(r"^Job (\S+) started:", re.M)
#: Seconds a killed command may take to be reaped.
PATIENCE = 60.0


@pytest.fixture
def plain_flow(write_flow: Callable[..., Path]) -> Callable[..., Path]:
    """Write a flow file whose handlers log to ``cli_plain``, keeping records from a level."""

    def write(keep_logs: str = "INFO", **options: Any) -> Path:
        path = write_flow(**options)
        text = path.read_text(encoding="utf-8")
        text = text.replace("config: {log:", "config: {say: plain, log:")
        text = text.replace(
            "record_history: true\n", f"record_history: true\nkeep_logs: {keep_logs}\n"
        )
        path.write_text(text, encoding="utf-8")
        return path

    return write


def job_id_in(text: str) -> str:
    match = JOB_LINE.search(text)
    assert match, text
    return match.group(1)


def kept(routilux: Run, job_id: str) -> list[dict[str, Any]]:
    """The records the job kept, as ``jobs logs --json`` prints them."""
    proc = routilux("jobs", "logs", job_id, "--json")
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_run_keeps_the_info_records_of_a_logger_without_a_level_and_prints_none(
    routilux: Run, plain_flow: Callable[..., Path]
) -> None:
    plain_flow()

    run = routilux("run", "flow.yaml", "--param", "n=1")

    assert run.returncode == 0, run.stderr
    records = kept(routilux, job_id_in(run.stdout))
    assert [(r["level"], r["logger"], r["message"]) for r in records] == [
        ("INFO", "cli_plain", f"{kind} {routine} {msg}")
        for routine, msg in (("source", "-"), ("step", 0), ("sink", 0))
        for kind in ("start", "end")
    ]
    assert run.stderr == ""  # Python's last-resort handler prints warnings and above only.


def test_log_level_warning_prints_warnings_only_while_debug_records_are_kept(
    routilux: Run, plain_flow: Callable[..., Path]
) -> None:
    plain_flow("DEBUG", fail_always=(1,))

    run = routilux("run", "flow.yaml", "--param", "n=2", "--log-level", "WARNING")

    assert run.returncode == 0, run.stderr
    records = kept(routilux, job_id_in(run.stdout))
    assert "detail start source -" in [r["message"] for r in records if r["level"] == "DEBUG"]
    assert "start sink 0" in [r["message"] for r in records if r["level"] == "INFO"]
    assert "WARNING cli_plain [step.input " in run.stderr
    assert not re.search(r"^(DEBUG|INFO) ", run.stderr, re.M), run.stderr


def test_a_resumed_job_keeps_the_records_of_the_handlers_it_runs(
    workdir: Path,
    routilux: Run,
    plain_flow: Callable[..., Path],
    wait_for: WaitFor,
    sink_ended: Callable[[int], bool],
    handler_log: Callable[[], list[list[str]]],
) -> None:
    plain_flow(sleep=0.02)  # 10 messages: killed long before the last sink ends.
    out = workdir / "killed.out"
    with out.open("wb") as sink:
        runner = subprocess.Popen(
            [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", "n=10"],
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: sink_ended(runner.pid), runner, "progress")
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.kill()
        runner.wait(PATIENCE)
    job_id = job_id_in(out.read_text())

    resumed = routilux("jobs", "resume", job_id)

    assert resumed.returncode == 0, resumed.stderr
    assert not re.search(r"^(DEBUG|INFO) ", resumed.stderr, re.M), resumed.stderr
    ended_later = [f for f in handler_log() if f[0] == "end" and f[4] != str(runner.pid)]
    assert ended_later  # The resuming process ran handlers...
    ends = {r["message"] for r in kept(routilux, job_id) if r["message"].startswith("end sink")}
    assert ends == {f"end sink {i}" for i in range(10)}  # ...and kept their records.


def test_a_replayed_dead_letter_keeps_the_records_of_its_new_job(
    routilux: Run, run_json: Callable[..., Any], plain_flow: Callable[..., Path]
) -> None:
    plain_flow(fail_once=(1,))  # Message 1 is delivery 3; the replay succeeds.
    report, proc = run_json("run", "flow.yaml", "--param", "n=3")
    assert proc.returncode == 0, proc.stderr

    replayed = routilux("dead-letters", "replay", f"{report['job_id']}:3")

    assert replayed.returncode == 0, replayed.stderr
    assert not re.search(r"^(DEBUG|INFO) ", replayed.stderr, re.M), replayed.stderr
    records = kept(routilux, replayed.stdout.split()[1])
    assert [r["message"] for r in records] == [
        f"{kind} {routine} 1" for routine in ("step", "sink") for kind in ("start", "end")
    ]


@pytest.fixture
def root_level() -> Iterator[logging.Logger]:
    """The root logger, its level restored after the test."""
    root = logging.getLogger()
    before = root.level
    yield root
    root.setLevel(before)


def test_the_root_level_is_lowered_to_the_lowest_kept_level_then_restored(
    root_level: logging.Logger,
) -> None:
    root_level.setLevel(logging.WARNING)
    flows = [Flow(flow_id="a", keep_logs="INFO"), Flow(flow_id="b", keep_logs=15), Flow()]

    with kept_logs_made(flows):
        lowered = root_level.level

    assert (lowered, root_level.level) == (15, logging.WARNING)


@pytest.mark.parametrize("keep_logs", ["ERROR", None])
def test_the_root_level_is_never_raised(root_level: logging.Logger, keep_logs: str | None) -> None:
    root_level.setLevel(logging.INFO)

    with kept_logs_made([Flow(keep_logs=keep_logs)]):
        kept_level = root_level.level

    assert kept_level == logging.INFO
