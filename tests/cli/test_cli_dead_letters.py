"""``routilux dead-letters``: list, show and replay the deliveries that failed for good."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]
JsonRun = Callable[..., tuple[Any, subprocess.CompletedProcess[str]]]


@pytest.fixture
def job(run_json: JsonRun, write_flow: Callable[..., Path]) -> dict[str, Any]:
    """A completed job whose step failed once on message 1 (a dead letter; replay succeeds)."""
    write_flow(fail_once=(1,))
    report, proc = run_json("run", "flow.yaml", "--param", "n=3")
    assert proc.returncode == 0, proc.stderr
    assert len(report["dead_letters"]) == 1
    return report


def test_list_shows_the_letters(routilux: Run, job: dict[str, Any]) -> None:
    proc = routilux("dead-letters", "list")
    assert proc.returncode == 0, proc.stderr
    (header, row) = proc.stdout.splitlines()
    assert header.split()[:2] == ["letter", "routine.slot"]
    assert row.split()[:3] == [f"{job['job_id']}:3", "step.input", "1"]
    assert "RuntimeError: step cannot take 1" in row


def test_list_json_filters_by_job(run_json: JsonRun, job: dict[str, Any]) -> None:
    letters, _ = run_json("dead-letters", "list", "--job", job["job_id"])
    assert [letter["letter_id"] for letter in letters] == [f"{job['job_id']}:3"]
    none, _ = run_json("dead-letters", "list", "--job", "other-job")
    assert none == []


def test_show_prints_the_message_and_the_traceback(routilux: Run, job: dict[str, Any]) -> None:
    proc = routilux("dead-letters", "show", f"{job['job_id']}:3")
    assert proc.returncode == 0, proc.stderr
    assert "Routine:     step" in proc.stdout
    assert '"msg_id": 1' in proc.stdout
    assert "raise RuntimeError" in proc.stdout


def test_show_json_has_the_data(run_json: JsonRun, job: dict[str, Any]) -> None:
    letter, _ = run_json("dead-letters", "show", f"{job['job_id']}:3")
    assert letter["data"] == {"msg_id": 1}
    assert letter["error_type"] == "RuntimeError"
    assert letter["replayed_by"] is None


def test_an_unknown_letter_is_one_line_exit_1(
    routilux: Run, job: dict[str, Any], error_line: Callable[..., str]
) -> None:
    proc = routilux("dead-letters", "show", "nope:1")
    assert proc.returncode == 1
    assert "nope:1" in error_line(proc)


@pytest.mark.parametrize(
    ("update", "column"),
    [
        ("UPDATE dead_letters SET data = 'garbage'", "dead_letters.data"),
        ("UPDATE dead_letters SET error = '5'", "dead_letters.error"),
    ],
)
def test_list_of_a_damaged_letter_is_one_line_exit_1(
    routilux: Run,
    workdir: Path,
    job: dict[str, Any],
    error_line: Callable[..., str],
    update: str,
    column: str,
) -> None:
    with sqlite3.connect(workdir / "routilux-jobs.db") as conn:
        conn.execute(update)

    proc = routilux("dead-letters", "list")

    assert proc.returncode == 1, proc.stderr
    assert f"dead letter '{job['job_id']}:3' is damaged: column {column} " in error_line(proc)


def test_replay_runs_a_new_job_and_marks_the_letter(
    routilux: Run, run_json: JsonRun, job: dict[str, Any], handler_log: Callable[[], Any]
) -> None:
    letter_id = f"{job['job_id']}:3"
    proc = routilux("dead-letters", "replay", letter_id)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.endswith(f" replayed dead letter {letter_id}")
    replay_id = first.split()[1]
    assert f"Job {replay_id} of flow 'pipeline': completed" in proc.stdout
    sinks = [f[2] for f in handler_log() if f[0] == "end" and f[3] == "sink"]
    assert sorted(sinks) == ["0", "1", "2"]
    hidden, _ = run_json("dead-letters", "list")
    assert hidden == []
    shown, _ = run_json("dead-letters", "list", "--all")
    assert [letter["replayed_by"] for letter in shown] == [replay_id]


def test_a_second_replay_is_refused_unless_again(
    routilux: Run, job: dict[str, Any], error_line: Callable[..., str]
) -> None:
    letter_id = f"{job['job_id']}:3"
    first = routilux("dead-letters", "replay", letter_id)
    second = routilux("dead-letters", "replay", letter_id)
    again = routilux("dead-letters", "replay", letter_id, "--again")

    assert first.returncode == 0, first.stderr
    replay_id = first.stdout.split()[1]
    assert second.returncode == 1
    assert f"was replayed already, by job {replay_id}" in error_line(second)
    assert "--again" in error_line(second)
    assert again.returncode == 0, again.stderr


def test_replay_json_reports_the_new_job(run_json: JsonRun, job: dict[str, Any]) -> None:
    report, proc = run_json("dead-letters", "replay", f"{job['job_id']}:3")
    assert proc.returncode == 0
    assert report["status"] == "completed"
    assert report["job_id"] != job["job_id"]
    assert [r["deliveries"] for r in report["routines"]] == [0, 1, 1]


def test_replay_needs_the_routine_modules(
    routilux: Run, job: dict[str, Any], workdir: Path, error_line: Callable[..., str]
) -> None:
    (workdir / "lib").mkdir()
    (workdir / "cli_routines.py").rename(workdir / "lib" / "cli_routines.py")
    letter_id = f"{job['job_id']}:3"
    refused = routilux("dead-letters", "replay", letter_id)
    assert refused.returncode == 1
    assert "or pass --path DIR" in error_line(refused)
    assert routilux("dead-letters", "replay", letter_id, "--path", "lib").returncode == 0
