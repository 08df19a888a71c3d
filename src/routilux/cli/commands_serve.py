"""``routilux serve``: the HTTP service (``docs/service.md``)."""

from __future__ import annotations

import ipaddress
import logging
import signal
from pathlib import Path
from typing import Any

import click

from routilux.cli.errors import EXIT_OK, UsageProblem
from routilux.cli.log_levels import kept_logs_made
from routilux.cli.options import ray_address_option, store_option
from routilux.cli.store_urls import opened_store
from routilux.server import require_libraries

__all__ = ["serve"]

#: Seconds uvicorn waits for open requests (event streams) when stopping.
GRACEFUL_SECONDS = 5


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(short_help="Serve flows over HTTP: start, watch and control jobs.")
@store_option
@click.option(
    "--flows-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="Serve every *.yaml, *.yml and *.json flow file of DIR.",
)
@click.option(
    "--flow",
    "imports",
    multiple=True,
    metavar="MODULE:ATTR",
    help="Serve this flow: a Flow, or a callable returning one (repeatable).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="The TCP port to listen on.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="No API keys: anyone who can connect may do everything (loopback hosts only).",
)
@click.option(
    "--rate-limit",
    default="100/s",
    show_default=True,
    metavar="RATE",
    help="Requests per API key: N/s, N/m or N/h; 'off' for none.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let web pages of ORIGIN call the API (repeatable; none by default).",
)
@click.option(
    "--resume-interrupted",
    is_flag=True,
    help="On start, resume the jobs of the served flows that a stopped server paused, "
    "and those left running by a process that has ended.",
)
@click.option(
    "--queue",
    metavar="NAME",
    help="Hand the jobs that requests start to the workers on this queue ('routilux "
    "worker') instead of running them here; a request's own \"queue\" wins. "
    "PostgreSQL store only.",
)
@ray_address_option
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=1_048_576,
    show_default=True,
    help="Largest request body accepted.",
)
def serve(
    store_url: str,
    flows_dir: Path | None,
    imports: tuple[str, ...],
    host: str,
    port: int,
    no_auth: bool,
    rate_limit: str,
    cors_origins: tuple[str, ...],
    max_body_bytes: int,
    resume_interrupted: bool,
    queue: str | None,
    ray_address: str | None,
) -> int:
    """Serve the flows of --flows-dir and --flow over HTTP, on the job store --store.

    Clients send an API key ('routilux keys create') as 'Authorization:
    Bearer KEY'. Jobs run in this process, or on the workers with --queue
    (or a request's "queue"). Ctrl-C or SIGTERM stops the
    server: jobs still running are paused in the store (resume them with
    POST /jobs/ID/resume or 'routilux jobs resume ID'). See docs/service.md.
    """
    if no_auth and not _loopback(host):
        raise UsageProblem(
            f"--no-auth serves without API keys: it is for local use only, and refuses "
            f"--host {host}; use 127.0.0.1 (or create keys with 'routilux keys create')."
        )
    require_libraries()  # An ImportError naming the install command.
    import uvicorn

    from routilux.server import create_app

    _show_server_log()
    with opened_store(store_url) as store:
        app = create_app(
            store,
            flows_dir=flows_dir,
            imports=imports,
            auth=not no_auth,
            cors_origins=cors_origins,
            rate_limit=rate_limit,
            max_body_bytes=max_body_bytes,
            resume_interrupted=resume_interrupted,
            queue=queue,
            ray_address=ray_address,
        )
        if no_auth:
            click.secho(
                "WARNING: --no-auth: no API keys are checked; anyone who can connect to "
                f"{host}:{port} may start, pause and cancel jobs. For local use only.",
                err=True,
                fg="red",
                bold=True,
            )
        flows = ", ".join(app.state.service.flows) or "none"
        click.echo(f"routilux serve: http://{host}:{port} (flows: {flows}; store: {store_url})")
        config = uvicorn.Config(
            app, host=host, port=port, timeout_graceful_shutdown=GRACEFUL_SECONDS
        )
        try:
            with kept_logs_made(app.state.service.flows.values()):
                _run(uvicorn.Server(config))
        finally:
            app.state.service.close()
    return EXIT_OK


def _show_server_log() -> None:
    """Print what the service logs (jobs paused and resumed, errors) on stderr."""
    logger = logging.getLogger("routilux.server")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("routilux serve: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class _Stopped(Exception):
    """SIGTERM, raised again by uvicorn once it has shut down gracefully."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


def _run(server: Any) -> None:
    """Run uvicorn; SIGTERM stops it gracefully, and the command then exits with 0.

    uvicorn handles SIGINT and SIGTERM while it runs (a graceful shutdown:
    the app pauses its running jobs), then raises the signal again for the
    handler that was there before: this one, for SIGTERM.
    """
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        server.run()
    except _Stopped:
        click.echo("routilux serve: stopped (SIGTERM).", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
