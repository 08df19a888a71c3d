"""``routilux jobs``: list, show, resume, cancel and delete stored jobs; print their logs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from routilux import (
    Flow,
    JobStatus,
    cancel_stored_job,
    delete_stored_job,
    follow_job_logs,
    read_job_logs,
)
from routilux.cli.errors import EXIT_FAILED, EXIT_OK, UsageProblem
from routilux.cli.following import announce, follow, show_report
from routilux.cli.loading import flow_from_job
from routilux.cli.log_levels import kept_logs_made
from routilux.cli.log_output import LEVEL_NAMES, json_line, record_line
from routilux.cli.options import (
    Seconds,
    json_option,
    path_option,
    ray_address_option,
    store_option,
)
from routilux.cli.output import Table, dropped_count, echo_json, one_line
from routilux.cli.report import job_report
from routilux.cli.report_text import print_job
from routilux.cli.store_urls import opened_store
from routilux.stores import JobStore

__all__ = ["jobs"]

_STATUSES = [status.value for status in JobStatus]


@click.group(short_help="List, show, resume, cancel and delete jobs; print their logs.")
def jobs() -> None:
    """List, show, resume, cancel and delete the jobs of a job store; print their logs."""


@jobs.command("list")
@click.option("--flow", "flow_id", metavar="FLOW_ID", help="Only jobs of this flow.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(_STATUSES),
    help="Only jobs of this status (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    metavar="N",
    help="At most N jobs, newest first.",
)
@store_option
@json_option
def list_jobs(
    flow_id: str | None, statuses: tuple[str, ...], limit: int, store_url: str, as_json: bool
) -> int:
    """List the jobs of the store, newest first."""
    with opened_store(store_url, create=False) as store:
        found = store.list_jobs(flow_id=flow_id, status=statuses or None, limit=limit)
    rows = [asdict(summary) for summary in found]
    if as_json:
        echo_json(rows)
    else:
        _print_jobs(rows)
    return EXIT_OK


def _print_jobs(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("No jobs.")
        return
    table = Table(["job", "flow", "status", "created", "pending>", "dead letters>", "error"])
    for r in rows:
        error = one_line(r["error"] or "")[:60] or None
        table.add(
            r["job_id"],
            r["flow_id"],
            r["status"],
            r["created_at"],
            r["pending"],
            r["dead_letters"],
            error,
        )
    table.print()


@jobs.command("show")
@click.argument("job_id")
@store_option
@json_option
def show(job_id: str, store_url: str, as_json: bool) -> int:
    """Show the job JOB_ID: status, routines, errors, dead letters, times."""
    with opened_store(store_url, create=False) as store:
        report = job_report(store, job_id)
    if as_json:
        echo_json(report)
    else:
        print_job(report, details=True)
    return EXIT_OK


@jobs.command("logs")
@click.argument("job_id")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing the records the job stores as it runs; stop once it has ended "
    "and every record is printed (or on Ctrl-C).",
)
@click.option(
    "--level",
    type=click.Choice(LEVEL_NAMES, case_sensitive=False),
    help="Only the records of this level and above.",
)
@click.option(
    "--interval",
    type=Seconds(min=0.01),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="With --follow: how often the store is asked for new records.",
)
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per record.")
def logs(
    job_id: str,
    follow: bool,
    level: str | None,
    interval: float,
    store_url: str,
    as_json: bool,
) -> int:
    """Print the log records the job JOB_ID kept in its store, oldest first.

    A job keeps the records its handlers log when its flow has keep_logs on
    (flow files: keep_logs: INFO). Each record is one line, as 'run
    --log-format text' prints them: level, logger, [routine.slot delivery],
    message (and the traceback of an exception); with --json, one JSON object
    per line: the record's fields and its position among the job's records.

    Exit status: 0 once every record is printed, 1 if the job is not in the
    store, 130 on Ctrl-C.
    """
    min_level = level.upper() if level else 0
    with opened_store(store_url, create=False) as store:
        if follow:
            records = follow_job_logs(store, job_id, min_level=min_level, interval=interval)
        else:
            records = iter(read_job_logs(store, job_id, min_level=min_level))
        for position, record in records:
            line = json_line({"position": position, **record}) if as_json else record_line(record)
            click.echo(line)
    return EXIT_OK


@jobs.command("resume")
@click.argument("job_id")
@click.option(
    "--concurrent",
    type=click.IntRange(min=1, max=Flow.MAX_WORKERS),
    metavar="N",
    help="Run the rest of the job on N threads (the concurrent strategy).",
)
@ray_address_option
@path_option
@store_option
@json_option
def resume(
    job_id: str,
    concurrent: int | None,
    ray_address: str | None,
    paths: tuple[Path, ...],
    store_url: str,
    as_json: bool,
) -> int:
    """Continue the unfinished job JOB_ID from its last checkpoint, here.

    Use it for a job whose process was killed or crashed, or that was
    paused with Ctrl-C. The flow is rebuilt from the flow document stored
    with the job (its routine modules must be importable from here).
    Deliveries that finished do not run again; those that were running
    when the process died do. A job that a live process of this machine
    still runs is refused. Shows progress and the summary, as 'run' does.

    Exit status: 0 if the job completed, 1 if it failed, was cancelled, is
    running elsewhere, is not in the store or was stored without its flow
    document (its routines are defined in the script that ran it).
    """
    with opened_store(store_url, create=False) as store:
        flow = flow_from_job(
            store, job_id, concurrent=concurrent, paths=paths, ray_address=ray_address
        )
        with flow, kept_logs_made([flow]):
            if not flow.resume(job_id, store=store):
                if not as_json:
                    click.echo(f"Job {job_id} has already ended; nothing to resume.")
                return show_report(store, job_id, as_json=as_json, duration=None)
            job = flow.get_execution(job_id)
            if job is None:  # The flow remembers every job it runs; this cannot happen.
                raise RuntimeError(f"Job {job_id} was resumed but is not known to its flow.")
            announce(job_id, f"resumed: flow {flow.flow_id!r}", as_json=as_json)
            return follow(flow, job, store, as_json=as_json)


@jobs.command("cancel")
@click.argument("job_id")
@store_option
@json_option
def cancel(job_id: str, store_url: str, as_json: bool) -> int:
    """Cancel the unfinished job JOB_ID, which no process runs any more.

    The job is marked cancelled in the store and its pending deliveries are
    dropped, so it can no longer be resumed. A job that a live process runs
    cannot be cancelled from here: stop it there (Ctrl-C pauses a
    'routilux run'), then cancel it.

    Exit status: 0 if the job was cancelled, 1 if it had ended already, is
    running elsewhere or is not in the store.
    """
    with opened_store(store_url, create=False) as store:
        dropped = cancel_stored_job(store, job_id)
        status = "cancelled" if dropped is not None else store.load_job(job_id).document["status"]
    if as_json:
        echo_json(
            {
                "job_id": job_id,
                "cancelled": dropped is not None,
                "status": status,
                "dropped": dropped or 0,
            }
        )
    elif dropped is None:
        click.echo(f"Job {job_id} has already ended ({status}); nothing to cancel.")
    else:
        click.echo(f"Job {job_id} cancelled; {dropped_count(dropped)}.")
    return EXIT_OK if dropped is not None else EXIT_FAILED


@jobs.command("delete")
@click.argument("job_id", required=False)
@click.option(
    "--older-than",
    "days",
    type=Seconds(min=0),
    metavar="DAYS",
    help="Instead of one job: every finished job (completed, failed, cancelled) "
    "last updated more than DAYS days ago.",
)
@store_option
@json_option
def delete(job_id: str | None, days: float | None, store_url: str, as_json: bool) -> int:
    """Delete the job JOB_ID, or old finished jobs, with their dead letters.

    An unfinished job that a live process owns (its lease has not expired)
    is refused.

    Exit status: 0 if done, 1 if JOB_ID is not in the store or is running.
    """
    if (job_id is None) == (days is None):
        raise UsageProblem("jobs delete takes a JOB_ID or --older-than DAYS (one of them).")
    with opened_store(store_url, create=False) as store:
        if job_id is not None:
            count, what = _delete_one(store, job_id)
        else:
            count, what = _delete_finished(store, days or 0.0)
    if as_json:
        echo_json({"deleted": count})
    else:
        click.echo(what)
    return EXIT_OK


def _delete_one(store: JobStore, job_id: str) -> tuple[int, str]:
    delete_stored_job(store, job_id)
    return 1, f"Deleted job {job_id}."


def _delete_finished(store: JobStore, days: float) -> tuple[int, str]:
    before = datetime.now(timezone.utc) - timedelta(days=days)
    count = store.delete_jobs(updated_before=before)
    when = before.isoformat(timespec="seconds")
    return count, f"Deleted {count} finished jobs last updated before {when}."
