"""``routilux validate`` and bad flow files: one located line, exit 1, no traceback."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from routilux import Flow
from routilux.builtin_routines import Aggregator

Run = Callable[..., subprocess.CompletedProcess[str]]


def edit(path: Path, old: str, new: str, name: str) -> Path:
    """A copy of the flow file at ``path`` with ``old`` replaced, named ``name``."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    target = path.with_name(name)
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


def line_of(path: Path, needle: str) -> int:
    """The 1-based line of the first line of ``path`` containing ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in {path}")


def test_a_valid_file_is_ok_with_exit_0(routilux: Run, write_flow: Callable[..., Path]) -> None:
    write_flow()
    proc = routilux("validate", "flow.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "OK: flow.yaml: flow 'pipeline', 3 routines, 2 connections; entry: source\n"
    )


def test_validate_json_output_describes_the_flow(
    run_json: Callable[..., Any], write_flow: Callable[..., Path]
) -> None:
    write_flow()
    summary, proc = run_json("validate", "flow.yaml")
    assert proc.returncode == 0
    assert summary == {
        "valid": True,
        "file": "flow.yaml",
        "flow_id": "pipeline",
        "routines": ["source", "step", "sink"],
        "connections": 2,
        "entries": ["source"],
    }


def test_validate_json_output_reports_an_invalid_file(
    run_json: Callable[..., Any], write_flow: Callable[..., Path]
) -> None:
    edit(write_flow(), "max_workers: 3", "max_workers: three", "bad.yaml")
    summary, proc = run_json("validate", "bad.yaml")
    assert proc.returncode == 1
    assert summary["valid"] is False
    assert summary["error"] == "bad.yaml:5: max_workers: must be an integer, not a string."


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_yaml_syntax_error_names_its_line(
    routilux: Run, write_flow: Callable[..., Path], error_line: Callable[..., str], command: str
) -> None:
    path = edit(
        write_flow(),
        "    class: cli_routines:Step\n",
        "    class: cli_routines:Step\n   oops\n",
        "syntax.yaml",
    )
    proc = routilux(command, "syntax.yaml")
    assert proc.returncode == 1
    message = error_line(proc)
    line = line_of(path, "   oops")
    assert message.startswith(f"routilux: error: syntax.yaml:{line}: invalid YAML: "), message


@pytest.mark.parametrize(
    ("old", "new", "where", "needle"),
    [
        (
            "class: cli_routines:Step",
            "class: cli_routines:Stepp",
            "routines.step.class:",
            "module 'cli_routines' defines no 'Stepp'",
        ),
        (
            "class: cli_routines:Step",
            "class: os:system",
            "routines.step.class:",
            "not a Routine subclass",
        ),
        (
            "class: cli_routines:Step",
            "class: __main__:Step",
            "routines.step.class:",
            "of the script that wrote the document",
        ),
        (
            "class: cli_routines:Step",
            "class: !!python/name:os.system ''",
            "routines.step.class:",
            "has the YAML tag '!!python/name:os.system'",
        ),
        (
            "max_workers: 3",
            "max_workers: three",
            "max_workers:",
            "must be an integer, not a string",
        ),
        (
            "{name: input, handler: take, merge_strategy: override}",
            "{name: input, handler: [take], merge_strategy: override}",
            "routines.step.slots[0].handler:",
            "must be a string or null, not a list",
        ),
        (
            "target: sink, slot: input",
            "target: sunk, slot: input",
            "connections[1].target:",
            "names the routine 'sunk', which the document does not define",
        ),
        ("flow_id: pipeline", "flow_id: 2024-01-01", "flow_id:", "is a YAML date or time"),
        ("flow_id: pipeline", "flow_id: pipeline\nflow_id: again", "", "appears twice"),
    ],
)
def test_a_bad_document_names_file_line_and_place(
    routilux: Run,
    write_flow: Callable[..., Path],
    error_line: Callable[..., str],
    old: str,
    new: str,
    where: str,
    needle: str,
) -> None:
    path = edit(write_flow(), old, new, "bad.yaml")
    proc = routilux("validate", "bad.yaml")
    assert proc.returncode == 1, proc.stderr
    message = error_line(proc)
    line = line_of(path, new.splitlines()[-1])
    assert message.startswith(f"routilux: error: bad.yaml:{line}: {where}"), message
    assert needle in message


def test_an_unready_routine_is_located_at_its_entry(
    routilux: Run, workdir: Path, error_line: Callable[..., str]
) -> None:
    # An aggregator that completes on a count it was not given: valid config,
    # not ready to run (its check_definition refuses it).
    flow = Flow(flow_id="unready")
    flow.add_routine(Aggregator(), "router")
    (workdir / "unready.yaml").write_text(yaml.safe_dump(flow.serialize(), sort_keys=False))
    proc = routilux("validate", "unready.yaml")
    assert proc.returncode == 1
    message = error_line(proc)
    line = line_of(workdir / "unready.yaml", "  router:")
    assert message.startswith(f"routilux: error: unready.yaml:{line}: routines.router: ")
    assert "Routine 'router' is not ready to run" in message
    assert "needs count" in message


def test_a_json_syntax_error_names_line_and_column(
    routilux: Run, write_flow: Callable[..., Path], workdir: Path, error_line: Callable[..., str]
) -> None:
    document = yaml.safe_load(write_flow().read_text(encoding="utf-8"))
    text = json.dumps(document, indent=2).replace('"max_workers": 3,', '"max_workers": 3')
    (workdir / "bad.json").write_text(text, encoding="utf-8")
    proc = routilux("validate", "bad.json")
    assert proc.returncode == 1
    line = line_of(workdir / "bad.json", '"execution_timeout"')
    assert error_line(proc) == (
        f"routilux: error: bad.json:{line}:3: invalid JSON: Expecting ',' delimiter."
    )


def test_a_bad_json_document_is_located_too(
    routilux: Run, write_flow: Callable[..., Path], workdir: Path, error_line: Callable[..., str]
) -> None:
    document = yaml.safe_load(write_flow().read_text(encoding="utf-8"))
    document["routines"]["sink"]["timeout"] = "soon"
    (workdir / "bad.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    proc = routilux("validate", "bad.json")
    assert proc.returncode == 1
    message = error_line(proc)
    line = line_of(workdir / "bad.json", '"timeout": "soon"')
    assert message.startswith(f"routilux: error: bad.json:{line}: routines.sink.timeout: ")


def test_a_file_of_another_extension_is_refused(
    routilux: Run, workdir: Path, error_line: Callable[..., str]
) -> None:
    (workdir / "flow.txt").write_text("{}", encoding="utf-8")
    proc = routilux("validate", "flow.txt")
    assert proc.returncode == 1
    assert "a flow file must end in .yaml, .yml or .json" in error_line(proc)


def test_a_routine_module_is_found_next_to_the_flow_file(
    routilux: Run, write_flow: Callable[..., Path], workdir: Path
) -> None:
    path = write_flow()
    (workdir / "flows").mkdir()
    (workdir / "cli_routines.py").rename(workdir / "flows" / "cli_routines.py")
    path.rename(workdir / "flows" / "flow.yaml")
    proc = routilux("validate", "flows/flow.yaml")
    assert proc.returncode == 0, proc.stderr
