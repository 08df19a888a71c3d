"""Every command has ``--help`` text, options with help, and a section in docs/cli.md."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from routilux._install import install_command
from routilux.cli.app import cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def walk(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, (*path, name))


COMMANDS = list(walk(cli, ("routilux",)))
NAMES = [name for name, _ in COMMANDS]


def test_the_tree_has_every_command() -> None:
    assert NAMES == [
        "routilux",
        "routilux dead-letters",
        "routilux dead-letters list",
        "routilux dead-letters replay",
        "routilux dead-letters show",
        "routilux graph",
        "routilux jobs",
        "routilux jobs cancel",
        "routilux jobs delete",
        "routilux jobs list",
        "routilux jobs logs",
        "routilux jobs resume",
        "routilux jobs show",
        "routilux keys",
        "routilux keys create",
        "routilux keys list",
        "routilux keys revoke",
        "routilux run",
        "routilux schedule",
        "routilux schedule add",
        "routilux schedule list",
        "routilux schedule remove",
        "routilux serve",
        "routilux submit",
        "routilux validate",
        "routilux worker",
    ]


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=NAMES)
def test_every_command_has_help_text(name: str, command: click.Command) -> None:
    assert command.help, name
    assert len(command.help.split()) >= 5, name
    undocumented = [
        p.name
        for p in command.params
        if isinstance(p, click.Option) and not p.help and p.name not in ("help", "version")
    ]
    assert undocumented == [], f"{name}: options without help: {undocumented}"


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_a_section_in_the_docs(name: str) -> None:
    headings = re.findall(r"^#+ `(routilux[^`]*)`$", DOCS.read_text(encoding="utf-8"), re.M)
    assert name in headings


@pytest.mark.parametrize("name", ["routilux", "routilux jobs resume", "routilux run"])
def test_help_is_printed_with_exit_0(
    name: str, routilux: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    proc = routilux(*name.split()[1:], "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Usage: {name} ")


def test_a_missing_extra_is_one_line_naming_the_install_command_from_the_clone(
    workdir: Path,
) -> None:
    code = "import sys; sys.modules['yaml'] = None; from routilux.cli import main; main(['--help'])"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        "routilux: error: the routilux command needs PyYAML, which is not installed; "
        f"install the cli extra from a clone of routilux: {install_command('cli')}\n"
    )
