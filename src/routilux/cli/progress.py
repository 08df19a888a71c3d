"""Live progress of a running job, read from :meth:`routilux.Flow.get_progress`.

Nothing is shown for the first :data:`QUIET_SECONDS`, so a short job prints
only its summary. Then, on a terminal, a table of the routines is redrawn a
few times a second (and erased when the job ends); elsewhere, one line is
printed every :data:`LINE_SECONDS`, so a log shows how far a job got.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

import click

from routilux.cli.output import is_terminal

if TYPE_CHECKING:
    from rich.console import RenderableType

    from routilux import Flow, JobProgress, JobState

__all__ = ["deliveries", "progress_line", "watch"]

#: Seconds before progress is first shown.
QUIET_SECONDS = 0.5
#: Seconds between redraws of the live table.
REDRAW_SECONDS = 0.2
#: Seconds between progress lines when the output is not a terminal.
LINE_SECONDS = 0.5


def _routine_part(rid: str, counts: dict[str, int]) -> str:
    notes = [
        f"{counts[key]} {word}" for key, word in (("failures", "failed"), ("skips", "skipped"))
    ]
    extra = [note for note in notes if not note.startswith("0 ")]
    return f"{rid} {counts['deliveries']}" + (f" ({', '.join(extra)})" if extra else "")


def deliveries(progress: JobProgress) -> int:
    """Deliveries run so far.

    The sequential strategy updates ``progress.deliveries`` only when it
    stops driving the job, while the per-routine counts are live: their sum
    is the same figure, up to date.
    """
    return max(progress.deliveries, sum(c["deliveries"] for c in progress.per_routine.values()))


def progress_line(progress: JobProgress, elapsed: float) -> str:
    """One line: totals, then deliveries (and failures) per routine."""
    routines = ", ".join(_routine_part(rid, c) for rid, c in progress.per_routine.items())
    return (
        f"progress {elapsed:.1f} s: {deliveries(progress)} deliveries done, "
        f"{progress.running} in flight, {progress.pending} waiting, {progress.errors} errors"
        + (f" | {routines}" if routines else "")
    )


def watch(flow: Flow, job: JobState, *, stream: TextIO, live: bool = True) -> None:
    """Return once ``job`` has ended, showing its progress on ``stream`` meanwhile.

    Args:
        flow: The flow that runs the job, in this process.
        job: The job.
        stream: Where progress goes (stdout, or stderr under ``--json``).
        live: Show progress at all (without it, only wait).
    """
    started = time.monotonic()
    if job.wait(QUIET_SECONDS) or not live:
        job.wait()
        return
    if is_terminal(stream):
        _watch_live(flow, job, stream, started)
    else:
        _watch_lines(flow, job, stream, started)


def _watch_lines(flow: Flow, job: JobState, stream: TextIO, started: float) -> None:
    while True:
        progress = flow.get_progress(job)
        if progress is not None:
            click.echo(progress_line(progress, time.monotonic() - started), file=stream)
            stream.flush()
        if job.wait(LINE_SECONDS):
            return


def _watch_live(flow: Flow, job: JobState, stream: TextIO, started: float) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream)
    with Live(console=console, transient=True, auto_refresh=False) as live:
        while not job.wait(REDRAW_SECONDS):
            progress = flow.get_progress(job)
            if progress is not None:
                live.update(_progress_table(progress, time.monotonic() - started), refresh=True)


def _progress_table(progress: JobProgress, elapsed: float) -> RenderableType:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=(
            f"[bold]{progress.status}[/bold] {elapsed:.1f} s: {deliveries(progress)} deliveries "
            f"done, {progress.running} in flight, {progress.pending} waiting, "
            f"{progress.errors} errors"
        ),
        title_justify="left",
    )
    for header in ("routine", "deliveries", "failures", "skips"):
        table.add_column(header, justify="left" if header == "routine" else "right")
    for rid, counts in progress.per_routine.items():
        table.add_row(
            escape(rid), str(counts["deliveries"]), str(counts["failures"]), str(counts["skips"])
        )
    return table
