"""``routilux schedule``: add, list and remove the cron schedules the workers fire."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone

import click

from routilux.cli.commands_flows import parse_params
from routilux.cli.commands_workers import postgres_url
from routilux.cli.errors import EXIT_FAILED, EXIT_OK
from routilux.cli.options import json_option, store_option
from routilux.cli.output import Table, echo_json
from routilux.cli.store_urls import opened_store
from routilux.schedules import MISSED_POLICIES, add_schedule, list_schedules, remove_schedule

__all__ = ["schedule"]


@click.group(short_help="Add, list and remove cron schedules of jobs for the workers.")
def schedule() -> None:
    """Add, list and remove cron schedules: a flow's job submitted at every tick.

    The workers ('routilux worker') fire them: each tick submits one job,
    however many workers run. Schedules live in a PostgreSQL store.
    """


@schedule.command("add")
@click.argument("flow_id")
@click.option("--cron", required=True, help="A five-field cron expression, in UTC: '*/5 * * * *'.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="An entry param of each job (repeatable), read as JSON when it parses.",
)
@click.option("--params-json", metavar="JSON", help="Entry params as one JSON object.")
@click.option(
    "--entry",
    metavar="ROUTINE",
    help="The routine whose 'trigger' slot starts each job [default: the only one].",
)
@click.option("--queue", default="default", show_default=True, help="The queue of its jobs.")
@click.option(
    "--missed",
    type=click.Choice(MISSED_POLICIES),
    default="skip",
    show_default=True,
    help="Ticks missed while no worker ran: fire only the latest (skip) or each (catch-up).",
)
@click.option("--id", "schedule_id", metavar="ID", help="The schedule's id [default: a new one].")
@store_option
@json_option
def add(
    flow_id: str,
    cron: str,
    params: tuple[str, ...],
    params_json: str | None,
    entry: str | None,
    queue: str,
    missed: str,
    schedule_id: str | None,
    store_url: str,
    as_json: bool,
) -> int:
    """Fire a job of the flow FLOW_ID at every tick of --cron; print the schedule's id."""
    entry_params = parse_params(params, params_json)
    with opened_store(postgres_url(store_url)) as store:
        added = add_schedule(
            store,
            flow_id,
            cron,
            entry=entry,
            params=entry_params,
            queue=queue,
            missed=missed,
            schedule_id=schedule_id,
        )
    if as_json:
        echo_json(asdict(added))
    else:
        click.echo(added.schedule_id)
    return EXIT_OK


@schedule.command("list")
@store_option
@json_option
def list_command(store_url: str, as_json: bool) -> int:
    """List the store's schedules, by id, with the last tick each fired or passed."""
    with opened_store(postgres_url(store_url)) as store:
        found = list_schedules(store)
    if as_json:
        echo_json([asdict(s) for s in found])
        return EXIT_OK
    if not found:
        click.echo("No schedules.")
        return EXIT_OK
    table = Table(["schedule", "flow", "cron", "queue", "missed", "last tick"])
    for s in found:
        last = datetime.fromtimestamp(s.last_tick, tz=timezone.utc).isoformat()
        table.add(s.schedule_id, s.flow_id, s.cron, s.queue, s.missed, last)
    table.print()
    return EXIT_OK


@schedule.command("remove")
@click.argument("schedule_id")
@store_option
def remove(schedule_id: str, store_url: str) -> int:
    """Remove the schedule SCHEDULE_ID; the jobs it fired are kept."""
    with opened_store(postgres_url(store_url)) as store:
        removed = remove_schedule(store, schedule_id)
    if not removed:
        click.echo(f"routilux: error: the store has no schedule {schedule_id!r}.", err=True)
        return EXIT_FAILED
    click.echo(f"Removed schedule {schedule_id}.")
    return EXIT_OK
