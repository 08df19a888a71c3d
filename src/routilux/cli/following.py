"""Following a job this process runs: progress, then the summary and the exit status."""

from __future__ import annotations

import sys
import time

import click

from routilux import Flow, JobState
from routilux.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from routilux.cli.output import echo_json, is_terminal
from routilux.cli.progress import watch
from routilux.cli.report import job_report
from routilux.cli.report_text import print_job
from routilux.stores import JobStore

__all__ = ["announce", "follow", "show_report", "status_exit"]

#: Seconds a Ctrl-C waits for the running deliveries before the command exits.
PAUSE_SECONDS = 10.0


def announce(job_id: str, what: str, *, as_json: bool) -> None:
    """Say which job runs, first, so that even a killed command has told its id."""
    if as_json:
        click.echo(f"routilux: job {job_id} {what}", err=True)
    else:
        click.echo(f"Job {job_id} {what}")
    (sys.stderr if as_json else sys.stdout).flush()


def status_exit(status: str) -> int:
    """The exit status for a job that ended ``status``."""
    return EXIT_OK if status == "completed" else EXIT_FAILED


def show_report(
    store: JobStore,
    job_id: str,
    *,
    as_json: bool,
    duration: float | None,
    fail_on_errors: bool = False,
) -> int:
    """Print the job's summary (text or JSON); return the exit status its status calls for.

    With ``fail_on_errors``, a completed job that recorded errors or dead
    letters exits with status 1 too, and stderr says why.
    """
    report = job_report(store, job_id, duration=duration)
    if as_json:
        echo_json(report)
    else:
        click.echo()
        print_job(report)
    status = status_exit(report["status"])
    if fail_on_errors and status == EXIT_OK and (report["errors"] or report["dead_letters"]):
        click.echo(
            f"routilux: job {job_id} completed with {len(report['errors'])} errors and "
            f"{len(report['dead_letters'])} dead letters; exit status {EXIT_FAILED} "
            "(--fail-on-errors).",
            err=True,
        )
        return EXIT_FAILED
    return status


def follow(
    flow: Flow, job: JobState, store: JobStore, *, as_json: bool, fail_on_errors: bool = False
) -> int:
    """Wait for ``job`` with live progress, print its summary, return the exit status.

    Ctrl-C pauses the job (its pending deliveries stay in the store) and
    exits with status 130; ``routilux jobs resume`` continues it. For
    ``fail_on_errors``, see :func:`show_report`.
    """
    started = time.monotonic()
    stream = sys.stderr if as_json else sys.stdout
    try:
        watch(flow, job, stream=stream, live=not as_json or is_terminal(sys.stderr))
    except KeyboardInterrupt:
        return _interrupted(flow, job)
    return show_report(
        store,
        job.job_id,
        as_json=as_json,
        duration=time.monotonic() - started,
        fail_on_errors=fail_on_errors,
    )


def _interrupted(flow: Flow, job: JobState) -> int:
    paused = flow.pause(job, PAUSE_SECONDS)
    what = "paused" if paused else f"left {job.status.value}"
    click.echo(
        f"routilux: interrupted: job {job.job_id} {what}; continue it with "
        f"'routilux jobs resume {job.job_id}' (and the same --store).",
        err=True,
    )
    return EXIT_INTERRUPTED
