"""Printing: JSON for scripts, tables and lines for people.

On a terminal, tables are drawn with rich; otherwise (a pipe, a file, a CI
log) they are plain aligned text, so the output stays greppable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

import click

__all__ = ["Table", "dropped_count", "echo_json", "is_terminal", "one_line", "to_json"]

#: Colours of statuses in terminal tables.
STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
    "skipped": "yellow",
    "running": "cyan",
    "paused": "blue",
    "pending": "cyan",
    "not run": "dim",
}


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: stdout) is an interactive terminal."""
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty())


def one_line(text: object) -> str:
    """``text`` on one line: every run of whitespace becomes one space."""
    return " ".join(str(text).split())


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def dropped_count(count: int) -> str:
    """``"3 pending deliveries dropped"`` (``"1 pending delivery dropped"``)."""
    return f"{count} pending {'delivery' if count == 1 else 'deliveries'} dropped"


def to_json(data: Any) -> str:
    """``data`` as indented JSON; values JSON cannot hold are written as text."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=_jsonable)


def echo_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    click.echo(to_json(data))


class Table:
    """Rows under headers, printed with rich on a terminal and as aligned text otherwise.

    Args:
        headers: The column names; a name ending in ``">"`` is right-aligned
            (the ``">"`` is not shown).
        title: A line printed above the table.
    """

    def __init__(self, headers: Sequence[str], *, title: str | None = None) -> None:
        self.right = [h.endswith(">") for h in headers]
        self.headers = [h.rstrip(">") for h in headers]
        self.title = title
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        """Add a row (each cell shown as text; ``None`` as ``-``)."""
        self.rows.append(["-" if c is None else str(c) for c in cells])

    def print(self) -> None:
        """Print the table on stdout."""
        if is_terminal():
            self._print_rich()
        else:
            self._print_plain()

    def _print_plain(self) -> None:
        if self.title:
            click.echo(self.title)
        widths = [
            max(len(row[i]) for row in [self.headers, *self.rows]) for i in range(len(self.headers))
        ]
        for row in [self.headers, *self.rows]:
            cells = [
                cell.rjust(width) if right else cell.ljust(width)
                for cell, width, right in zip(row, widths, self.right, strict=True)
            ]
            click.echo("  " + "  ".join(cells).rstrip())

    def _print_rich(self) -> None:
        from rich.console import Console
        from rich.table import Table as RichTable

        table = RichTable(title=self.title, title_justify="left", title_style="bold")
        for header, right in zip(self.headers, self.right, strict=True):
            table.add_column(header, justify="right" if right else "left")
        for row in self.rows:
            table.add_row(*[_styled(cell) for cell in row])
        Console().print(table)


def _styled(cell: str) -> str:
    from rich.markup import escape

    style = STATUS_STYLES.get(cell)
    return f"[{style}]{escape(cell)}[/{style}]" if style else escape(cell)
