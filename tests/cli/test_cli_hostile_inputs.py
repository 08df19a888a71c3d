"""Hostile flow files and damaged stores on the command line: one error line, no traceback.

A flow file the library refuses is an invalid file (exit 1, as ``validate --help`` says);
``validate`` and ``run`` refuse the same files with the same line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

Run = Callable[..., subprocess.CompletedProcess[str]]
JsonRun = Callable[..., tuple[Any, subprocess.CompletedProcess[str]]]
LONG = "9" * 5000


def edited(path: Path, old: str, new: str, name: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text
    target = path.with_name(name)
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def as_json(path: Path, name: str, old: str = "", new: str = "") -> Path:
    """The YAML flow file at ``path`` written as JSON, with ``old`` replaced in its text."""
    text = json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))
    target = path.with_name(name)
    target.write_text(text.replace(old, new, 1) if old else text, encoding="utf-8")
    return target


@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_integer_too_long_to_read_is_one_located_line_exit_1(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str], command: str
) -> None:
    edited(write_flow(), "max_workers: 3", f"max_workers: {LONG}", "long.yaml")

    proc = routilux(command, "long.yaml")

    assert proc.returncode == 1
    assert error_line(proc).startswith("routilux: error: long.yaml:5: max_workers: the integer '")
    assert error_line(proc).endswith("has 5000 digits; at most 4300 are allowed.")


def test_a_json_integer_too_long_to_read_is_one_line_naming_its_place(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str]
) -> None:
    as_json(write_flow(), "long.json", '"max_workers": 3', f'"max_workers": {LONG}')

    proc = routilux("validate", "long.json")

    assert proc.returncode == 1
    assert error_line(proc) == (
        "routilux: error: long.json: max_workers: is an integer of 5000 digits; at most 4300 "
        "are allowed."
    )


def test_validate_and_run_refuse_a_hexadecimal_integer_alike(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str]
) -> None:
    edited(write_flow(), "max_workers: 3", "max_workers: 0x10", "hex.yaml")

    checked, ran = routilux("validate", "hex.yaml"), routilux("run", "hex.yaml")

    expected = (
        "routilux: error: hex.yaml:5: max_workers: '0x10' is not a decimal integer (YAML 1.1 "
        "reads it as 16); flow files take numbers in decimal only, as JSON does: write 16, or "
        "quote it to make it a string."
    )
    assert checked.returncode == ran.returncode == 1
    assert error_line(checked) == error_line(ran) == expected


def test_max_workers_above_the_limit_is_refused_in_a_file_and_on_the_command_line(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str]
) -> None:
    edited(write_flow(), "max_workers: 3", "max_workers: 100000", "many.yaml")

    in_file = routilux("validate", "many.yaml")
    on_line = routilux("run", "flow.yaml", "--concurrent", "100000")

    assert in_file.returncode == 1
    assert "many.yaml:5: max_workers: " in error_line(in_file)
    assert "Flow max_workers must be at most 1024, not 100000" in error_line(in_file)
    assert on_line.returncode == 2
    assert "'--concurrent': 100000 is not in the range 1<=x<=1024" in error_line(on_line)


def test_an_event_the_class_does_not_have_is_refused_at_its_line(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str]
) -> None:
    path = write_flow()
    text = path.read_text(encoding="utf-8")
    text = text.replace("source: source, event: out", "source: source, event: output")
    text = text.replace("{name: out, params: [msg_id]}", "{name: output, params: [msg_id]}", 1)
    path.with_name("renamed.yaml").write_text(text)
    line = 1 + text[: text.index("{name: output")].count("\n")

    proc = routilux("validate", "renamed.yaml")

    assert proc.returncode == 1
    assert error_line(proc).startswith(
        f"routilux: error: renamed.yaml:{line}: routines.source.events[0]: is refused: Routine "
        "'source' (class cli_routines:Source) has no event 'output'; its class defines 'out'"
    )


@pytest.mark.parametrize(
    ("update", "column"),
    [
        ("UPDATE jobs SET shared_data = ? WHERE job_id = ?", "jobs.shared_data"),
        ("UPDATE jobs SET flow_document = ? WHERE job_id = ?", "jobs.flow_document"),
        ("UPDATE history SET event = ? WHERE job_id = ?", "history.event (entry 0)"),
    ],
)
def test_show_and_resume_of_a_row_nested_too_deeply_are_one_line_exit_1(
    routilux: Run,
    run_json: JsonRun,
    workdir: Path,
    write_flow: Callable[..., Path],
    error_line: Callable[..., str],
    update: str,
    column: str,
) -> None:
    write_flow()
    job, _ = run_json("run", "flow.yaml", "--param", "n=2")
    with sqlite3.connect(workdir / "routilux-jobs.db") as conn:
        conn.execute(update, ("[" * 100_000 + "]" * 100_000, job["job_id"]))

    for command in ("show", "resume"):
        proc = routilux("jobs", command, job["job_id"])
        assert proc.returncode == 1, proc.stderr
        assert f"is damaged: column {column} holds JSON that cannot be read: it nests" in (
            error_line(proc)
        )


def test_dead_letters_of_a_row_nested_too_deeply_are_one_line_exit_1(
    routilux: Run,
    run_json: JsonRun,
    workdir: Path,
    write_flow: Callable[..., Path],
    error_line: Callable[..., str],
) -> None:
    write_flow(fail_always=(0,))
    run_json("run", "flow.yaml", "--param", "n=2")
    with sqlite3.connect(workdir / "routilux-jobs.db") as conn:
        changed = conn.execute("UPDATE dead_letters SET data = ?", ("[" * 100_000 + "]" * 100_000,))
        assert changed.rowcount == 1

    proc = routilux("dead-letters", "list")

    assert proc.returncode == 1, proc.stderr
    assert "column dead_letters.data holds JSON that cannot be read" in error_line(proc)
