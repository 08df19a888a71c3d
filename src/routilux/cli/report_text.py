"""The human-readable forms of :mod:`routilux.cli.report`'s dicts."""

from __future__ import annotations

from typing import Any

import click

from routilux.cli.output import Table, one_line

__all__ = ["print_job", "print_letter", "print_letters"]

#: Longest error message shown in a table or a summary line.
MESSAGE_WIDTH = 100
#: Most errors (and dead letters) a summary lists; --json has them all.
LISTED = 20


def _short(text: object, width: int = MESSAGE_WIDTH) -> str:
    line = one_line(text)
    return line if len(line) <= width else line[: width - 3] + "..."


def print_job(report: dict[str, Any], *, details: bool = False) -> None:
    """Print a job's summary: status, routines, errors and dead letters.

    Args:
        report: :func:`routilux.cli.report.job_report`'s dict.
        details: Also print the timestamps and the process that ran it
            (``jobs show``).
    """
    took = f" in {report['duration']:.2f} s" if report["duration"] is not None else ""
    click.echo(
        f"Job {report['job_id']} of flow {report['flow_id']!r}: {report['status']}{took}, "
        f"{report['deliveries']} deliveries"
    )
    if report["error"]:
        click.echo(f"Error: {_short(report['error'], 300)}")
    if details:
        click.echo(f"Created: {report['created_at']}   Updated: {report['updated_at']}")
        click.echo(f"Run by: {report['owner'] or '-'}{_owner_note(report)}")
        if report["queue"] is not None:
            click.echo(f"Queue: {report['queue']} (submitted to workers; run by one of them)")
    if report["pending"] or details:
        click.echo(f"Pending deliveries: {report['pending']}")
    click.echo()
    table = Table(["routine", "status", "deliveries>", "failures>", "skips>"])
    for row in report["routines"]:
        table.add(
            row["routine_id"], row["status"], row["deliveries"], row["failures"], row["skips"]
        )
    table.print()
    _print_errors(report["errors"])
    _print_letter_lines(report["dead_letters"])


def _owner_note(report: dict[str, Any]) -> str:
    if report["status"] in ("completed", "failed", "cancelled"):
        return ""
    if report["owner_alive"]:
        left = report["lease_remaining"]
        return " (running)" if left is None else f" (running; its lease expires in {left:.0f} s)"
    if report["queue"] is not None and report["owner"] is None:
        return f" (waiting in queue {report['queue']!r} for a worker)"
    return f" (not running: 'routilux jobs resume {report['job_id']}' continues it)"


def _print_errors(errors: list[dict[str, Any]]) -> None:
    click.echo()
    click.echo(f"Errors: {len(errors)}")
    for error in errors[:LISTED]:
        where = error["routine_id"] or "job"
        click.echo(
            f"  {where}, attempt {error['attempt']}, {error['action']}: "
            f"{error['error_type']}: {_short(error['message'])}"
        )
    _more(len(errors))


def _print_letter_lines(letters: list[dict[str, Any]]) -> None:
    click.echo(f"Dead letters: {len(letters)}")
    for letter in letters[:LISTED]:
        replayed = f" (replayed by {letter['replayed_by']})" if letter["replayed_by"] else ""
        click.echo(
            f"  {letter['letter_id']}  {letter['routine_id']}.{letter['slot']}: "
            f"{letter['error_type']}: {_short(letter['message'])}{replayed}"
        )
    _more(len(letters))


def _more(count: int) -> None:
    if count > LISTED:
        click.echo(f"  ... and {count - LISTED} more (--json lists them all)")


def print_letters(letters: list[dict[str, Any]]) -> None:
    """Print dead letters as a table."""
    if not letters:
        click.echo("No dead letters.")
        return
    table = Table(["letter", "routine.slot", "attempt>", "error", "created", "replayed by"])
    for letter in letters:
        table.add(
            letter["letter_id"],
            f"{letter['routine_id']}.{letter['slot']}",
            letter["attempt"],
            _short(f"{letter['error_type']}: {letter['message']}", 60),
            letter["created_at"],
            letter["replayed_by"],
        )
    table.print()


def print_letter(letter: dict[str, Any], data_json: str) -> None:
    """Print one dead letter in full: where it failed, its message and traceback."""
    for label, key in [
        ("Letter", "letter_id"),
        ("Job", "job_id"),
        ("Flow", "flow_id"),
        ("Routine", "routine_id"),
        ("Slot", "slot"),
        ("Attempt", "attempt"),
        ("Created", "created_at"),
        ("Replayed by", "replayed_by"),
    ]:
        click.echo(f"{label + ':':<13}{letter[key] if letter[key] is not None else '-'}")
    click.echo(f"{'Error:':<13}{letter['error_type']}: {one_line(letter['message'])}")
    click.echo("Message:")
    for line in data_json.splitlines():
        click.echo(f"  {line}")
    click.echo("Traceback:")
    for line in letter["traceback"].rstrip().splitlines():
        click.echo(f"  {line}")
