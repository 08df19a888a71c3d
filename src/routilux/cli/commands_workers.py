"""``routilux submit`` and ``routilux worker``: jobs handed to worker processes."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from routilux import Flow
from routilux.cli.commands_flows import parse_params
from routilux.cli.errors import EXIT_OK, UsageProblem
from routilux.cli.loading import flow_from_file, pick_entry
from routilux.cli.log_levels import kept_logs_made
from routilux.cli.options import (
    Seconds,
    flow_file_argument,
    json_option,
    ray_address_option,
    store_option,
)
from routilux.cli.output import echo_json
from routilux.cli.store_urls import opened_store

__all__ = ["postgres_url", "submit", "worker"]

_FLOW_SUFFIXES = (".yaml", ".yml", ".json")


def postgres_url(store_url: str, option: str = "--store") -> str:
    """``store_url`` if it names a PostgreSQL store, the only kind workers share.

    Raises:
        UsageProblem: It names another kind.
    """
    if store_url.partition(":")[0].lower() not in ("postgresql", "postgres"):
        raise UsageProblem(
            f"{option} {store_url}: workers share jobs through a PostgreSQL store "
            "(postgresql://user@host/db); a SQLite or memory store has no job queue."
        )
    return store_url


@click.command(short_help="Hand a job of a flow file to the workers; print its id.")
@flow_file_argument
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="An entry param (repeatable), read as JSON when it parses, else a string.",
)
@click.option(
    "--params-json", metavar="JSON", help="Entry params as one JSON object; --param adds to it."
)
@click.option(
    "--entry",
    metavar="ROUTINE",
    help="The routine whose 'trigger' slot gets the params "
    "[default: the only routine with a 'trigger' slot].",
)
@click.option("--queue", default="default", show_default=True, help="The queue to put it on.")
@click.option(
    "--idempotency-key",
    metavar="KEY",
    help="Submitting the same flow with the same key again gives the first job's id "
    "and enqueues nothing.",
)
@store_option
@json_option
def submit(
    flow_file: Path,
    params: tuple[str, ...],
    params_json: str | None,
    entry: str | None,
    queue: str,
    idempotency_key: str | None,
    store_url: str,
    as_json: bool,
) -> int:
    """Record a job of the flow in FLOW as pending and put it on a queue.

    A worker that knows the flow ('routilux worker --flows-dir DIR', with the
    file in DIR) and takes the queue runs it. Prints the job's id; follow
    it with 'routilux jobs show JOB_ID'.
    """
    entry_params = parse_params(params, params_json)
    _, flow = flow_from_file(flow_file)
    entry_id = pick_entry(flow, entry)
    with opened_store(postgres_url(store_url)) as store:
        job_id = flow.submit(
            entry_id, entry_params, queue=queue, idempotency_key=idempotency_key, store=store
        )
    if as_json:
        echo_json({"job_id": job_id, "flow_id": flow.flow_id, "queue": queue})
    else:
        click.echo(job_id)
    return EXIT_OK


def flows_of(directory: Path, *, ray_address: str | None = None) -> list[Flow]:
    """The flows of the flow files (YAML or JSON) of ``directory``.

    ``ray_address``, if given, replaces each flow's (``--ray-address``).

    Raises:
        UsageProblem: It holds none, or two of one flow id.
    """
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in _FLOW_SUFFIXES)
    flows: dict[str, tuple[Path, Flow]] = {}
    for path in files:
        _, flow = flow_from_file(path, ray_address=ray_address)
        if flow.flow_id in flows:
            raise UsageProblem(
                f"--flows-dir {directory}: {flows[flow.flow_id][0].name} and {path.name} "
                f"both define flow {flow.flow_id!r}."
            )
        flows[flow.flow_id] = (path, flow)
    if not flows:
        raise UsageProblem(f"--flows-dir {directory} holds no flow file (*.yaml, *.yml, *.json).")
    return [flow for _, flow in flows.values()]


@click.command(short_help="Run the jobs submitted to a PostgreSQL store.")
@store_option
@click.option(
    "--flows-dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="The flow files whose jobs this worker runs (matched by flow id).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="NAME",
    help="Take jobs of this queue (repeatable) [default: every queue].",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=256),
    default=1,
    show_default=True,
    metavar="N",
    help="Run up to N jobs at once.",
)
@click.option(
    "--drain-seconds",
    type=Seconds(min=0),
    default=30.0,
    show_default=True,
    metavar="S",
    help="On SIGTERM, let running jobs finish for S seconds, then pause them for another worker.",
)
@click.option(
    "--stalled-seconds",
    type=Seconds(min=0.5),
    default=5.0,
    show_default=True,
    metavar="S",
    help="Take a worker whose heartbeat (every S/5 seconds) is older than S for dead, and "
    "hand its jobs to another.",
)
@click.option(
    "--lease-seconds",
    type=Seconds(min=0.5, max=86400),
    metavar="S",
    help="The lease of the jobs this worker runs (each flow's lease_seconds, 30 by default): "
    "a job whose worker stopped answering is taken over by another at most S seconds later.",
)
@ray_address_option
@click.option("-v", "--verbose", is_flag=True, help="Log what the worker does on stderr.")
def worker(
    store_url: str,
    flows_dir: Path,
    queues: tuple[str, ...],
    concurrency: int,
    drain_seconds: float,
    stalled_seconds: float,
    lease_seconds: float | None,
    ray_address: str | None,
    verbose: bool,
) -> int:
    """Take jobs from the queue of a PostgreSQL store and run them, until stopped.

    Any number of workers, on any machines that reach the database, may run
    at once: each job is run by one of them. A worker killed mid-job has
    its job taken over by another once its lease expires. The first
    SIGTERM or SIGINT drains (no new job; running ones finish within
    --drain-seconds or are paused and handed back; exit 0); a second stops
    at once (exit 1). See docs/scaling.md.
    """
    from routilux.workers import WorkerSettings, run_worker

    url = postgres_url(store_url)
    flows = flows_of(flows_dir, ray_address=ray_address)
    if lease_seconds is not None:
        for flow in flows:
            flow.lease_seconds = lease_seconds
    # The level printed is the handler's own: keep_logs may lower the root's (kept_logs_made).
    printed = logging.StreamHandler()
    printed.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(
        level=printed.level,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[printed],
    )
    settings = WorkerSettings(
        queues=queues,
        concurrency=concurrency,
        drain_seconds=drain_seconds,
        heartbeat=stalled_seconds / 5,
        stalled_after=stalled_seconds,
        stall_check=min(1.0, stalled_seconds / 5),
    )
    with kept_logs_made(flows):
        return run_worker(url, flows, settings, source=f"--flows-dir {flows_dir}")
