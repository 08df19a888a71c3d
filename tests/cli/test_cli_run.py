"""``routilux run``: jobs of flow files on a real SQLite store, and their exit statuses."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from routilux.stores import SqliteStore

Run = Callable[..., subprocess.CompletedProcess[str]]
JOB_LINE = re.compile(r"^Job (\S+) started: flow 'pipeline', entry 'source'$")


def sink_messages(log: list[list[str]]) -> list[str]:
    return sorted(
        (fields[2] for fields in log if fields[0] == "end" and fields[3] == "sink"), key=int
    )


def test_a_completed_job_exits_0_and_prints_its_id_then_its_summary(
    routilux: Run, write_flow: Callable[..., Path], handler_log: Callable[[], Any]
) -> None:
    write_flow()
    proc = routilux("run", "flow.yaml", "--param", "n=3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert JOB_LINE.match(lines[0]), lines[0]
    job_id = JOB_LINE.match(lines[0]).group(1)  # type: ignore[union-attr]
    assert f"Job {job_id} of flow 'pipeline': completed in " in proc.stdout
    assert re.search(r"^\s+sink\s+completed\s+3\s+0\s+0$", proc.stdout, re.M)
    assert sink_messages(handler_log()) == ["0", "1", "2"]


def test_the_job_is_kept_in_the_default_store_of_the_working_directory(
    routilux: Run, write_flow: Callable[..., Path], workdir: Path
) -> None:
    write_flow()
    proc = routilux("run", "flow.yaml", "--param", "n=2")
    assert proc.returncode == 0, proc.stderr
    store = SqliteStore(workdir / "routilux-jobs.db")
    try:
        (summary,) = store.list_jobs()
    finally:
        store.close()
    assert (summary.flow_id, summary.status) == ("pipeline", "completed")


def test_a_failed_job_exits_1_with_its_error_in_the_summary(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="stop", fail_always=(1,))
    proc = routilux("run", "flow.yaml", "--param", "n=3")
    assert proc.returncode == 1, proc.stderr
    assert "of flow 'pipeline': failed" in proc.stdout
    assert "step cannot take 1" in proc.stdout


def test_a_job_whose_every_delivery_failed_under_continue_completes_with_exit_0(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="continue", fail_always=(0, 1, 2))
    proc = routilux("run", "flow.yaml", "--param", "n=3")
    assert proc.returncode == 0, proc.stderr
    assert "of flow 'pipeline': completed" in proc.stdout
    assert "Dead letters: 3" in proc.stdout


def test_fail_on_errors_exits_1_for_a_completed_job_with_dead_letters(
    run_json: Callable[..., Any], write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="continue", fail_always=(0, 1, 2))
    report, proc = run_json("run", "flow.yaml", "--param", "n=3", "--fail-on-errors")
    assert proc.returncode == 1
    assert (report["status"], len(report["errors"]), len(report["dead_letters"])) == (
        "completed",
        3,
        3,
    )
    assert proc.stderr.splitlines()[-1] == (
        f"routilux: job {report['job_id']} completed with 3 errors and 3 dead letters; "
        "exit status 1 (--fail-on-errors)."
    )


def test_fail_on_errors_exits_1_for_a_failure_that_a_retry_got_past(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="retry", fail_once=(1,))
    proc = routilux("run", "flow.yaml", "--param", "n=3", "--fail-on-errors")
    assert proc.returncode == 1, proc.stderr
    assert "of flow 'pipeline': completed" in proc.stdout
    assert "completed with 1 errors and 0 dead letters" in proc.stderr


def test_fail_on_errors_exits_0_for_a_job_without_errors(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow()
    proc = routilux("run", "flow.yaml", "--param", "n=3", "--fail-on-errors")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_fail_on_errors_keeps_exit_1_for_a_failed_job(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(policy="stop", fail_always=(1,))
    proc = routilux("run", "flow.yaml", "--param", "n=3", "--fail-on-errors")
    assert proc.returncode == 1, proc.stderr
    assert "of flow 'pipeline': failed" in proc.stdout
    assert "--fail-on-errors" not in proc.stderr


def test_run_help_says_what_each_exit_status_means(routilux: Run) -> None:
    proc = routilux("run", "--help")
    assert proc.returncode == 0, proc.stderr
    statuses = proc.stdout.partition("Exit status:")[2].partition("Options:")[0]
    assert re.search(r"^\s+0\s+the job completed", statuses, re.M)
    assert re.search(
        r"^\s+1\s+the job failed or was cancelled; or, with\s+--fail-on-errors", statuses, re.M
    )
    assert re.search(r"^\s+2\s+usage error", statuses, re.M)
    assert re.search(r"^\s+130\s+interrupted with Ctrl-C: the job is paused", statuses, re.M)


def test_json_output_is_one_json_document_describing_the_job(
    run_json: Callable[..., Any], write_flow: Callable[..., Path]
) -> None:
    write_flow(fail_always=(2,))
    report, proc = run_json("run", "flow.yaml", "--param", "n=4")
    assert proc.returncode == 0
    assert report["status"] == "completed"
    assert report["deliveries"] == 1 + 4 + 3
    assert {r["routine_id"]: r["deliveries"] for r in report["routines"]} == {
        "source": 1,
        "step": 4,
        "sink": 3,
    }
    (letter,) = report["dead_letters"]
    assert (letter["routine_id"], letter["message"]) == ("step", "step cannot take 2")
    assert proc.stderr.startswith(f"routilux: job {report['job_id']} started")


def test_param_values_are_json_when_they_parse_and_strings_otherwise(
    run_json: Callable[..., Any], write_flow: Callable[..., Path]
) -> None:
    write_flow()
    # n="2" as a string would make range() fail: the value must arrive as 2.
    report, proc = run_json("run", "flow.yaml", "--params-json", '{"n": 9}', "--param", "n=2")
    assert proc.returncode == 0, proc.stderr
    assert report["deliveries"] == 1 + 2 + 2


def test_a_timeout_fails_the_job_with_exit_1(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(sleep=0.05)
    proc = routilux("run", "flow.yaml", "--param", "n=50", "--timeout", "0.2")
    assert proc.returncode == 1, proc.stderr
    assert "of flow 'pipeline': failed" in proc.stdout


def test_concurrent_runs_the_job_on_threads_to_completion(
    run_json: Callable[..., Any], write_flow: Callable[..., Path], workdir: Path
) -> None:
    write_flow()
    report, proc = run_json("run", "flow.yaml", "--param", "n=20", "--concurrent", "4")
    assert proc.returncode == 0, proc.stderr
    assert report["status"] == "completed"
    store = SqliteStore(workdir / "routilux-jobs.db")
    try:
        document = store.load_job(report["job_id"]).flow_document
    finally:
        store.close()
    assert document is not None
    assert (document["execution_strategy"], document["max_workers"]) == ("concurrent", 4)


def test_a_long_job_shows_progress_lines_before_its_summary(
    routilux: Run, write_flow: Callable[..., Path]
) -> None:
    write_flow(sleep=0.02)
    proc = routilux("run", "flow.yaml", "--param", "n=20")
    assert proc.returncode == 0, proc.stderr
    progress = [line for line in proc.stdout.splitlines() if line.startswith("progress ")]
    assert progress, proc.stdout
    assert re.match(r"progress \d+\.\d s: \d+ deliveries done, .* \| source 1", progress[0])


def test_a_short_job_shows_no_progress(routilux: Run, write_flow: Callable[..., Path]) -> None:
    write_flow()
    proc = routilux("run", "flow.yaml", "--param", "n=2")
    assert "progress " not in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--param", "novalue"], "--param 'novalue' is not KEY=VALUE"),
        (["--params-json", "[1, 2]"], "--params-json must be a JSON object"),
        (["--params-json", "{oops"], "--params-json is not valid JSON"),
        (["--entry", "ghost"], "the flow has no routine 'ghost'"),
        (["--entry", "step"], "routine 'step' has no 'trigger' slot"),
        (["--store", "mysql://x/y"], "Unknown store URL 'mysql://x/y'"),
        (["--store", "sqlite://relative.db"], "is not a SQLite URL"),
        (["--store", "sqlite:/relative.db"], "is not a SQLite URL"),
        (["--concurrent", "0"], "Invalid value for '--concurrent'"),
        (["--timeout", "-1"], "Invalid value for '--timeout'"),
        (["--timeout", "nan"], "Invalid value for '--timeout': 'nan' is not a finite number"),
        (["--timeout", "inf"], "Invalid value for '--timeout': 'inf' is not a finite number"),
        (["--bogus"], "No such option '--bogus'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    routilux: Run,
    write_flow: Callable[..., Path],
    error_line: Callable[..., str],
    args: list[str],
    needle: str,
) -> None:
    write_flow()
    proc = routilux("run", "flow.yaml", *args)
    assert proc.returncode == 2
    assert needle in error_line(proc)


def test_a_missing_flow_file_is_a_usage_error(
    routilux: Run, error_line: Callable[..., str]
) -> None:
    proc = routilux("run", "nowhere.yaml")
    assert proc.returncode == 2
    assert "'nowhere.yaml' does not exist" in error_line(proc)


def test_several_trigger_routines_need_entry(
    routilux: Run, write_flow: Callable[..., Path], workdir: Path, error_line: Callable[..., str]
) -> None:
    path = write_flow()
    document = json.dumps(_with_second_source(path))
    (workdir / "two.json").write_text(document, encoding="utf-8")
    proc = routilux("run", "two.json")
    assert proc.returncode == 2
    assert "Several routines have a 'trigger' slot ('source', 'source2')" in error_line(proc)
    chosen = routilux("run", "two.json", "--entry", "source2", "--param", "n=1")
    assert chosen.returncode == 0, chosen.stderr


def _with_second_source(path: Path) -> dict[str, Any]:
    import yaml

    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["routines"]["source2"] = document["routines"]["source"]
    document["connections"].append({**document["connections"][0], "source": "source2"})
    return document


def test_the_store_url_can_come_from_the_environment(
    routilux: Run, write_flow: Callable[..., Path], workdir: Path
) -> None:
    write_flow()
    url = f"sqlite:///{workdir / 'env.db'}"
    proc = routilux("run", "flow.yaml", "--param", "n=1", env={"ROUTILUX_STORE": url})
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "env.db").exists()
    assert not (workdir / "routilux-jobs.db").exists()
