"""``routilux jobs``: list, show, resume, cancel and delete jobs of a real SQLite store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routilux.stores import SqliteStore

Run = Callable[..., subprocess.CompletedProcess[str]]
JsonRun = Callable[..., tuple[Any, subprocess.CompletedProcess[str]]]
WaitFor = Callable[[Callable[[], bool], subprocess.Popen[Any], str], None]
Progress = Callable[[int], bool]


@pytest.fixture
def unfinished_job(
    workdir: Path, write_flow: Callable[..., Path], wait_for: WaitFor, sink_ended: Progress
) -> Callable[[], str]:
    """Make a job left running in the store by a process killed with SIGKILL; return its id.

    Its handlers take 20 ms each, so the 50 messages take a second or more:
    the kill comes once the first one has gone through, long before the last.
    """

    def make() -> str:
        write_flow(sleep=0.02)
        with (workdir / "killed.out").open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", "n=50"],
                cwd=workdir,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
        out = workdir / "killed.out"
        try:
            wait_for(lambda: "\n" in out.read_text() and sink_ended(proc.pid), proc, "progress")
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(30)
        return out.read_text().split()[1]

    return make


def test_list_shows_jobs_newest_first(routilux: Run, two_jobs: list[dict[str, Any]]) -> None:
    proc = routilux("jobs", "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["job", "flow", "status"]
    assert lines[1].split()[:3] == [two_jobs[1]["job_id"], "other", "failed"]
    assert lines[2].split()[:3] == [two_jobs[0]["job_id"], "pipeline", "completed"]


def test_list_json_filters_by_flow_and_status(
    run_json: JsonRun, two_jobs: list[dict[str, Any]]
) -> None:
    by_flow, _ = run_json("jobs", "list", "--flow", "pipeline")
    assert [j["job_id"] for j in by_flow] == [two_jobs[0]["job_id"]]
    by_status, _ = run_json("jobs", "list", "--status", "failed")
    assert [(j["job_id"], j["status"]) for j in by_status] == [(two_jobs[1]["job_id"], "failed")]
    limited, _ = run_json("jobs", "list", "--limit", "1")
    assert len(limited) == 1


def test_list_on_a_missing_store_is_an_error(
    routilux: Run, workdir: Path, error_line: Callable[..., str]
) -> None:
    proc = routilux("jobs", "list")
    assert proc.returncode == 1
    assert "There is no job store at routilux-jobs.db" in error_line(proc)
    assert not (workdir / "routilux-jobs.db").exists()


@pytest.mark.parametrize("url", ["sqlite:/routilux-jobs.db", "sqlite://routilux-jobs.db"])
def test_a_sqlite_url_with_too_few_slashes_is_a_usage_error(
    routilux: Run, two_jobs: list[dict[str, Any]], error_line: Callable[..., str], url: str
) -> None:
    proc = routilux("jobs", "list", "--store", url)
    assert proc.returncode == 2
    assert error_line(proc) == (
        f"routilux: error: {url!r} is not a SQLite URL; write sqlite:///relative/path.db "
        "or sqlite:////absolute/path.db."
    )


SCRIPT = """\
import os
from routilux import ErrorHandler, ErrorStrategy, Flow, Routine
from routilux.stores import SqliteStore


class Numbers(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", handler=self.emit_all)
        self.define_event("out", ["n"])

    def emit_all(self, count):
        for n in range(count):
            self.emit("out", n=n)


class Picky(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, n):
        if n == 0:
            raise ValueError("cannot take 0")
        os._exit(3)  # The process dies: the job stays unfinished in the store.


flow = Flow(flow_id="scripted", store=SqliteStore("routilux-jobs.db"))
flow.add_routine(Numbers(), "numbers")
picky = Picky()
picky.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
flow.add_routine(picky, "picky")
flow.connect("numbers", "out", "picky", "input")
flow.execute("numbers", {"count": 2})
"""


def test_a_job_of_routines_defined_in_a_script_is_refused_with_the_reason_and_exit_1(
    routilux: Run, workdir: Path, error_line: Callable[..., str]
) -> None:
    (workdir / "script.py").write_text(SCRIPT, encoding="utf-8")
    died = subprocess.run(
        [sys.executable, "script.py"], cwd=workdir, capture_output=True, text=True, timeout=60
    )
    assert died.returncode == 3, died.stderr
    line_number = SCRIPT.splitlines().index('flow.execute("numbers", {"count": 2})') + 1
    assert f"script.py:{line_number}: FlowDocumentWarning: Job " in died.stderr
    assert "names classes of the running script (__main__:Numbers, __main__:Picky)" in died.stderr
    store = SqliteStore(workdir / "routilux-jobs.db")
    try:
        (summary,) = store.list_jobs()
        (letter,) = store.list_dead_letters(job_id=summary.job_id)
    finally:
        store.close()
    job_id = summary.job_id

    resumed = routilux("jobs", "resume", job_id)
    replayed = routilux("dead-letters", "replay", letter.letter_id)
    for proc in (resumed, replayed):
        assert proc.returncode == 1
        line = error_line(proc)
        assert "names '__main__:Numbers', of the script that wrote the document" in line
        assert "Move it into a module, or register it" in line


def test_show_describes_the_job(routilux: Run, two_jobs: list[dict[str, Any]]) -> None:
    failed = two_jobs[1]["job_id"]
    proc = routilux("jobs", "show", failed)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Job {failed} of flow 'other': failed in ")
    assert "Error: " in proc.stdout
    assert "Created: " in proc.stdout
    assert "Pending deliveries: " in proc.stdout
    assert "  step, attempt 1, stop: RuntimeError: step cannot take 0" in proc.stdout


def test_show_json_is_the_run_s_report(run_json: JsonRun, two_jobs: list[dict[str, Any]]) -> None:
    shown, proc = run_json("jobs", "show", two_jobs[0]["job_id"])
    assert proc.returncode == 0
    ran = two_jobs[0]
    for key in ("job_id", "status", "deliveries", "routines", "errors", "dead_letters"):
        assert shown[key] == ran[key]


def test_show_prints_each_routine_s_counts_from_its_stats(
    routilux: Run,
    run_json: JsonRun,
    workdir: Path,
    two_jobs: list[dict[str, Any]],
) -> None:
    failed = two_jobs[1]["job_id"]
    with sqlite3.connect(workdir / "routilux-jobs.db") as conn:  # What a handler might store.
        conn.execute(
            """UPDATE jobs SET routine_states = '{"sink": {"status": "x", "deliveries": 9}}' """
            "WHERE job_id = ?",
            (failed,),
        )
    shown, _ = run_json("jobs", "show", failed)
    assert shown["routines"] == [
        {"routine_id": "source", "status": "completed", "deliveries": 1, "failures": 0, "skips": 0},
        {"routine_id": "step", "status": "failed", "deliveries": 1, "failures": 1, "skips": 0},
        {"routine_id": "sink", "status": "not run", "deliveries": 0, "failures": 0, "skips": 0},
    ]
    table = routilux("jobs", "show", failed).stdout.splitlines()
    start = table.index(next(line for line in table if line.split()[:2] == ["routine", "status"]))
    assert [line.split() for line in table[start + 1 : start + 4]] == [
        ["source", "completed", "1", "0", "0"],
        ["step", "failed", "1", "1", "0"],
        ["sink", "not", "run", "0", "0", "0"],
    ]


def test_show_of_an_unknown_job_is_one_line_exit_1(
    routilux: Run, two_jobs: list[dict[str, Any]], error_line: Callable[..., str]
) -> None:
    proc = routilux("jobs", "show", "nope")
    assert proc.returncode == 1
    assert "nope" in error_line(proc)


@pytest.mark.parametrize(
    ("update", "column"),
    [
        ("UPDATE jobs SET shared_data = '{oops' WHERE job_id = ?", "jobs.shared_data"),
        ("UPDATE jobs SET extra = '[]' WHERE job_id = ?", "jobs.extra"),
        ("UPDATE jobs SET status = 'bogus' WHERE job_id = ?", "jobs.status"),
        ("UPDATE jobs SET routine_states = '[]' WHERE job_id = ?", "jobs.routine_states"),
        (
            'UPDATE jobs SET engine_states = \'{"routine_stats": {"step": {"deliveries": "x"}}}\' '
            "WHERE job_id = ?",
            "jobs.engine_states",
        ),
    ],
)
def test_show_and_resume_of_a_damaged_job_are_one_line_exit_1(
    routilux: Run,
    workdir: Path,
    two_jobs: list[dict[str, Any]],
    error_line: Callable[..., str],
    update: str,
    column: str,
) -> None:
    job_id = two_jobs[0]["job_id"]
    with sqlite3.connect(workdir / "routilux-jobs.db") as conn:
        conn.execute(update, (job_id,))

    for command in ("show", "resume"):
        proc = routilux("jobs", command, job_id)
        assert proc.returncode == 1, proc.stderr
        line = error_line(proc)
        assert f"job '{job_id}' is damaged: column {column} " in line


@pytest.mark.slow  # A crash test: a run killed mid-job, then resumed or cancelled.
def test_resume_completes_a_killed_job(routilux: Run, unfinished_job: Callable[[], str]) -> None:
    job_id = unfinished_job()
    shown = routilux("jobs", "show", job_id)
    assert "of flow 'pipeline': running, " in shown.stdout
    assert "(not running: 'routilux jobs resume" in shown.stdout
    proc = routilux("jobs", "resume", job_id)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Job {job_id} resumed: flow 'pipeline'\n")
    assert f"Job {job_id} of flow 'pipeline': completed in " in proc.stdout


def test_resume_of_a_finished_job_says_so_and_exits_by_its_status(
    routilux: Run, two_jobs: list[dict[str, Any]]
) -> None:
    done, failed = (job["job_id"] for job in two_jobs)
    proc = routilux("jobs", "resume", done)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"Job {done} has already ended; nothing to resume.")
    assert routilux("jobs", "resume", failed).returncode == 1


@pytest.mark.slow  # A crash test: a run killed mid-job, then resumed or cancelled.
def test_cancel_marks_an_unfinished_job_cancelled_and_drops_its_deliveries(
    routilux: Run, run_json: JsonRun, workdir: Path, unfinished_job: Callable[[], str]
) -> None:
    job_id = unfinished_job()
    result, proc = run_json("jobs", "cancel", job_id)
    assert proc.returncode == 0, proc.stderr
    assert result["cancelled"] is True
    assert result["dropped"] > 0
    store = SqliteStore(workdir / "routilux-jobs.db")
    try:
        stored = store.load_job(job_id)
    finally:
        store.close()
    assert stored.document["status"] == "cancelled"
    assert stored.pending == []
    again = routilux("jobs", "cancel", job_id)
    assert again.returncode == 1
    assert "has already ended (cancelled); nothing to cancel" in again.stdout
    assert routilux("jobs", "resume", job_id).returncode == 1


def test_cancel_refuses_a_job_a_live_process_runs(
    routilux: Run,
    workdir: Path,
    write_flow: Callable[..., Path],
    error_line: Callable[..., str],
    wait_for: WaitFor,
) -> None:
    write_flow(sleep=0.05)  # 200 messages: ten seconds or more, while the test asks.
    with (workdir / "live.out").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", "n=200"],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: "\n" in (workdir / "live.out").read_text(), proc, "the job's id")
        job_id = (workdir / "live.out").read_text().split()[1]
        refused = routilux("jobs", "cancel", job_id)
        resumed = routilux("jobs", "resume", job_id)
    finally:
        proc.kill()
        proc.wait(30)
    assert refused.returncode == 1
    assert "is still running in process" in error_line(refused)
    assert resumed.returncode == 1
    assert "is still running in process" in error_line(resumed)


def test_delete_removes_one_job(
    routilux: Run, run_json: JsonRun, two_jobs: list[dict[str, Any]]
) -> None:
    done = two_jobs[0]["job_id"]
    proc = routilux("jobs", "delete", done)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Deleted job {done}.\n"
    left, _ = run_json("jobs", "list")
    assert [j["job_id"] for j in left] == [two_jobs[1]["job_id"]]
    assert routilux("jobs", "delete", done).returncode == 1


def test_delete_older_than_removes_finished_jobs_only(
    run_json: JsonRun, two_jobs: list[dict[str, Any]], unfinished_job: Callable[[], str]
) -> None:
    unfinished = unfinished_job()
    result, proc = run_json("jobs", "delete", "--older-than", "0")
    assert proc.returncode == 0, proc.stderr
    assert result == {"deleted": 2}
    left, _ = run_json("jobs", "list")
    assert [j["job_id"] for j in left] == [unfinished]
    kept, _ = run_json("jobs", "delete", "--older-than", "1")
    assert kept == {"deleted": 0}


def test_delete_refuses_an_age_that_is_not_a_finite_number(
    routilux: Run, two_jobs: list[dict[str, Any]], error_line: Callable[..., str]
) -> None:
    proc = routilux("jobs", "delete", "--older-than", "nan")
    assert proc.returncode == 2
    assert "'nan' is not a finite number" in error_line(proc)


@pytest.mark.parametrize("args", [[], ["some-id", "--older-than", "3"]])
def test_delete_takes_a_job_or_an_age(
    routilux: Run, two_jobs: list[dict[str, Any]], error_line: Callable[..., str], args: list[str]
) -> None:
    proc = routilux("jobs", "delete", *args)
    assert proc.returncode == 2
    assert "takes a JOB_ID or --older-than DAYS" in error_line(proc)


@pytest.mark.slow  # A crash test: a run killed mid-job, then resumed or cancelled.
def test_resume_json_reports_the_completed_job(
    run_json: JsonRun, unfinished_job: Callable[[], str]
) -> None:
    job_id = unfinished_job()
    report, proc = run_json("jobs", "resume", job_id)
    assert proc.returncode == 0, proc.stderr
    assert (report["job_id"], report["status"], report["pending"]) == (job_id, "completed", 0)
    assert proc.stderr.startswith(f"routilux: job {job_id} resumed")


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
    reason="this test run ignores SIGINT (started in the background by a shell), and so "
    "would the command it interrupts",
)
@pytest.mark.slow  # A crash test: a run interrupted mid-job, then resumed.
def test_ctrl_c_pauses_the_run_and_resume_finishes_it(
    routilux: Run,
    workdir: Path,
    write_flow: Callable[..., Path],
    handler_log: Callable[[], Any],
    wait_for: WaitFor,
    sink_ended: Progress,
) -> None:
    write_flow(sleep=0.02)
    proc = subprocess.Popen(
        [sys.executable, "-m", "routilux", "run", "flow.yaml", "--param", "n=60"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    wait_for(lambda: sink_ended(proc.pid), proc, "a message went through")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    job_id = first.split()[1]
    assert proc.returncode == 130
    assert f"routilux: interrupted: job {job_id} paused;" in err
    resumed = routilux("jobs", "resume", job_id)
    assert resumed.returncode == 0, resumed.stderr
    sinks = sorted(int(f[2]) for f in handler_log() if f[0] == "end" and f[3] == "sink")
    assert sorted(set(sinks)) == list(range(60))
