"""``routilux jobs logs``: the records a job kept in its store, printed or followed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]
WaitFor = Callable[[Callable[[], bool], subprocess.Popen[Any], str], None]
JOB_LINE = re.compile(r"^Job (\S+) started:", re.M)
#: Seconds a follower may take to see a job end, and print everything.
PATIENCE = 60.0


@pytest.fixture
def logging_flow(write_flow: Callable[..., Path]) -> Callable[..., Path]:
    """Write a flow file whose handlers log and whose jobs keep their logs (INFO)."""

    def write(**options: Any) -> Path:
        path = write_flow(**options)
        text = path.read_text(encoding="utf-8")
        text = text.replace("config: {log:", "config: {say: true, log:")
        text = text.replace("record_history: true\n", "record_history: true\nkeep_logs: INFO\n")
        path.write_text(text, encoding="utf-8")
        return path

    return write


def job_id_in(text: str) -> str:
    match = JOB_LINE.search(text)
    assert match, text
    return match.group(1)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_logs_prints_each_kept_record_as_a_tagged_line(
    routilux: Run, logging_flow: Callable[..., Path]
) -> None:
    logging_flow()
    job_id = job_id_in(routilux("run", "flow.yaml", "--param", "n=2").stdout)

    proc = routilux("jobs", "logs", job_id)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 10  # start and end of the source, and of two steps and two sinks.
    assert lines[0] == f"INFO cli_routines [source.trigger {job_id}:1]: start source -"
    assert lines[1] == f"INFO cli_routines [source.trigger {job_id}:1]: end source -"
    assert re.fullmatch(rf"INFO cli_routines \[step\.input {job_id}:\d+\]: start step 0", lines[2])


def test_logs_json_gives_each_record_with_its_position(
    run_json: Callable[..., Any], routilux: Run, logging_flow: Callable[..., Path]
) -> None:
    logging_flow()
    job_id = job_id_in(routilux("run", "flow.yaml", "--param", "n=1").stdout)

    proc = routilux("jobs", "logs", job_id, "--json")

    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)
    assert [r["position"] for r in records] == list(range(6))
    first = records[0]
    assert first["message"] == "start source -"
    assert (first["level"], first["levelno"], first["logger"]) == ("INFO", 20, "cli_routines")
    assert (first["routine_id"], first["slot"]) == ("source", "trigger")
    assert first["delivery_id"] == f"{job_id}:1"


def test_logs_level_keeps_the_records_of_that_level_and_above(
    routilux: Run, logging_flow: Callable[..., Path]
) -> None:
    logging_flow(fail_always=(1,))
    job_id = job_id_in(routilux("run", "flow.yaml", "--param", "n=2").stdout)

    proc = routilux("jobs", "logs", job_id, "--level", "warning", "--json")

    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)
    assert {r["level"] for r in records} == {"WARNING"}
    assert [r["message"] for r in records if r["logger"] == "cli_routines"] == ["fail step 1"]
    # The engine's own warning of the failure is logged during the delivery: kept too.
    assert any(r["logger"] == "routilux" for r in records)


def test_a_job_of_a_flow_that_keeps_no_logs_prints_nothing(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow()
    job_id = job_id_in(routilux("run", "flow.yaml", "--param", "n=1").stdout)

    proc = routilux("jobs", "logs", job_id)

    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.parametrize("follow", [[], ["--follow"]])
def test_logs_of_an_unknown_job_is_one_line_exit_1(
    routilux: Run, logging_flow: Callable[..., Path], error_line: Callable[..., str], follow: list
) -> None:
    logging_flow()
    routilux("run", "flow.yaml", "--param", "n=1")  # The store exists.

    proc = routilux("jobs", "logs", "nope", *follow)

    assert proc.returncode == 1
    assert "has no job 'nope'" in error_line(proc)


def test_follow_prints_the_records_of_a_job_running_elsewhere_until_it_ends(
    workdir: Path, routilux: Run, logging_flow: Callable[..., Path], wait_for: WaitFor
) -> None:
    logging_flow(sleep=0.05)  # 20 messages: well over a second.
    out = workdir / "runner.out"
    with out.open("wb") as sink:
        runner = subprocess.Popen(
            [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", "n=20"],
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: JOB_LINE.search(out.read_text()) is not None, runner, "the job's id")
        job_id = job_id_in(out.read_text())
        follower = subprocess.Popen(
            [sys.executable, "-m", "routilux", "jobs", "logs", job_id, "--follow", "--json"],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runner_was_running = runner.poll() is None
        followed, errors = follower.communicate(timeout=PATIENCE)
        runner.wait(PATIENCE)
    finally:
        runner.kill()
        runner.wait(PATIENCE)

    assert follower.returncode == 0, errors
    assert runner_was_running
    assert runner.returncode == 0
    assert followed == routilux("jobs", "logs", job_id, "--json").stdout
    assert [r["position"] for r in json_lines(followed)] == list(range(2 + 4 * 20))


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
    reason="this test run ignores SIGINT (started in the background by a shell), and so "
    "would the command it interrupts",
)
def test_ctrl_c_stops_following_with_exit_130_and_no_traceback(
    workdir: Path,
    logging_flow: Callable[..., Path],
    wait_for: WaitFor,
    sink_ended: Callable[[int], bool],
) -> None:
    logging_flow(sleep=0.02)
    out = workdir / "killed.out"
    with out.open("wb") as sink:
        runner = subprocess.Popen(
            [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", "n=50"],
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.DEVNULL,
        )
    try:  # Killed once it has stored records: the job stays running in the store.
        wait_for(lambda: sink_ended(runner.pid), runner, "progress")
        job_id = job_id_in(out.read_text())
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.kill()
        runner.wait(PATIENCE)
    follower = subprocess.Popen(
        [sys.executable, "-m", "routilux", "jobs", "logs", job_id, "-f", "--interval", "0.05"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    first = follower.stdout.readline()  # It prints what the job stored, then waits.
    follower.send_signal(signal.SIGINT)
    _, errors = follower.communicate(timeout=PATIENCE)

    assert first.startswith("INFO cli_routines [source.trigger"), first + errors
    assert follower.returncode == 130
    assert errors.strip() == "routilux: interrupted."  # After the newline click ends ^C with.
