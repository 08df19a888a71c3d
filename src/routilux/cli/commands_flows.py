"""The commands that take a flow file: ``run``, ``validate`` and ``graph``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from routilux import DefinitionError, Flow, JobState, SerializationError
from routilux.cli.errors import EXIT_FAILED, EXIT_OK, UsageProblem
from routilux.cli.following import announce, follow
from routilux.cli.loading import flow_from_file, pick_entry
from routilux.cli.log_levels import kept_logs_made
from routilux.cli.log_output import log_options, printed_logs
from routilux.cli.options import (
    Seconds,
    flow_file_argument,
    json_option,
    ray_address_option,
    store_option,
)
from routilux.cli.output import echo_json, one_line
from routilux.cli.store_urls import opened_store

__all__ = ["graph", "parse_params", "run", "validate"]


def _json_value(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


def parse_params(pairs: tuple[str, ...], params_json: str | None) -> dict[str, Any]:
    """The job's entry params: ``--params-json``'s object, then each ``--param``.

    Raises:
        UsageProblem: A ``--param`` is not ``KEY=VALUE``, or ``--params-json``
            is not a JSON object.
    """
    params: dict[str, Any] = {}
    if params_json is not None:
        try:
            value = _json_value(params_json)
        except ValueError as exc:
            raise UsageProblem(f"--params-json is not valid JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise UsageProblem("--params-json must be a JSON object, such as '{\"n\": 3}'.")
        params.update(value)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageProblem(f"--param {pair!r} is not KEY=VALUE.")
        try:
            params[key] = _json_value(raw)
        except ValueError:
            params[key] = raw
    return params


@click.command(short_help="Run a job of a flow file, with live progress.")
@flow_file_argument
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="An entry param (repeatable). VALUE is read as JSON when it parses "
    '(3, true, null, [1, 2], {"a": 1}, "quoted"), else taken as a string.',
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
@store_option
@click.option(
    "--concurrent",
    type=click.IntRange(min=1, max=Flow.MAX_WORKERS),
    metavar="N",
    help="Run deliveries on N threads (the concurrent strategy), whatever the file says.",
)
@ray_address_option
@click.option(
    "--timeout",
    type=Seconds(min=0, min_open=True),
    metavar="SECONDS",
    help="Fail the job if it runs longer than this.",
)
@click.option(
    "--fail-on-errors",
    is_flag=True,
    help="Exit with status 1 if the job recorded any error or dead letter, even if it "
    "completed (a handler failure that was retried, skipped or continued past).",
)
@json_option
@log_options
def run(
    flow_file: Path,
    params: tuple[str, ...],
    params_json: str | None,
    entry: str | None,
    store_url: str,
    concurrent: int | None,
    ray_address: str | None,
    timeout: float | None,
    fail_on_errors: bool,
    as_json: bool,
    log_format: str,
    log_level: str | None,
) -> int:
    """Run a job of the flow in FLOW (a YAML or JSON flow file) on a job store.

    Prints the job's id first, then (for a job that takes more than half a
    second) its live progress, then a summary: status, duration, deliveries,
    what each routine did, errors and dead letters. The job is checkpointed
    in the store after every delivery: if this command is killed,
    'routilux jobs resume JOB_ID' continues it. Ctrl-C pauses the job.

    \b
    Exit status:
      0    the job completed (even if handlers failed under a continue,
           skip or retry policy: see --fail-on-errors)
      1    the job failed or was cancelled; or, with --fail-on-errors, it
           completed with errors or dead letters; or FLOW is invalid or
           the store refused
      2    usage error: a bad option, argument or store URL, a missing extra
      130  interrupted with Ctrl-C: the job is paused, to be resumed
    """
    entry_params = parse_params(params, params_json)
    _, flow = flow_from_file(flow_file, concurrent=concurrent, ray_address=ray_address)
    entry_id = pick_entry(flow, entry)
    with (
        opened_store(store_url) as store,
        flow,
        kept_logs_made([flow]),
        printed_logs(log_format, log_level),
    ):
        job = flow.start(entry_id, entry_params, timeout, store=store)
        announce(job.job_id, f"started: flow {flow.flow_id!r}, entry {entry_id!r}", as_json=as_json)
        return follow(flow, job, store, as_json=as_json, fail_on_errors=fail_on_errors)


@click.command(short_help="Check a flow file without running it.")
@flow_file_argument
@json_option
def validate(flow_file: Path, as_json: bool) -> int:
    """Check the flow file FLOW without running it.

    Reads the file, builds the flow (importing the routine classes it
    names) and runs each routine's own definition checks, as a job would
    before it starts. Prints OK, or the error with its file, line and place.

    Exit status: 0 if FLOW is valid, 1 if it is not, 2 for a usage error.
    """
    try:
        _, flow = flow_from_file(flow_file)
    except (SerializationError, DefinitionError) as exc:
        if not as_json:
            raise
        echo_json({"valid": False, "file": str(flow_file), "error": one_line(exc)})
        return EXIT_FAILED
    starts = [rid for rid, routine in flow.routines.items() if "trigger" in routine.slots]
    summary = {
        "valid": True,
        "file": str(flow_file),
        "flow_id": flow.flow_id,
        "routines": list(flow.routines),
        "connections": len(flow.connections),
        "entries": starts,
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(
            f"OK: {flow_file}: flow {flow.flow_id!r}, {len(flow.routines)} routines, "
            f"{len(flow.connections)} connections; entry: {', '.join(starts) or 'none'}"
        )
    return EXIT_OK


@click.command(short_help="Print a Mermaid or DOT picture of a flow or job.")
@flow_file_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default="mermaid",
    show_default=True,
    help="Mermaid flowchart, or Graphviz DOT.",
)
@click.option(
    "--job",
    "job_id",
    metavar="JOB_ID",
    help="Colour each routine by what it did in this job of the store "
    "(completed, failed, skipped, not run).",
)
@store_option
@json_option
def graph(flow_file: Path, fmt: str, job_id: str | None, store_url: str, as_json: bool) -> int:
    """Print a picture of the flow in FLOW, or of one of its jobs.

    Nodes are the routines (id and class), edges the connections
    ('event → slot', with their param mappings). Paste Mermaid into a
    Markdown file or https://mermaid.live; render DOT with
    'dot -Tsvg -o flow.svg'.
    """
    _, flow = flow_from_file(flow_file)
    job_state = _stored_job(store_url, job_id, flow.flow_id) if job_id else None
    text = flow.to_mermaid(job_state) if fmt == "mermaid" else flow.to_dot(job_state)
    if as_json:
        echo_json({"format": fmt, "flow_id": flow.flow_id, "job_id": job_id, "graph": text})
    else:
        click.echo(text, nl=False)
    return EXIT_OK


def _stored_job(store_url: str, job_id: str, flow_id: str) -> JobState:
    with opened_store(store_url, create=False) as store:
        job = JobState.deserialize(store.load_job(job_id).document)
    if job.flow_id != flow_id:
        raise UsageProblem(
            f"Job {job_id} is a job of flow {job.flow_id!r}, not of {flow_id!r}; pass the "
            "flow file that ran it."
        )
    return job
