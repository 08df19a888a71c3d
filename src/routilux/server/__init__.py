"""The HTTP service of routilux: run and watch jobs over HTTP (``routilux serve``).

:func:`create_app` builds the FastAPI app of a job store and the flows it
serves; ``routilux serve`` runs it with uvicorn; :mod:`routilux.server.keys`
creates the API keys its clients send. See ``docs/service.md``.

The web libraries (FastAPI, uvicorn, prometheus-client) are the optional
``server`` extra, imported only when an app is created: importing
``routilux`` or this package does not need them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from routilux._install import install_command

if TYPE_CHECKING:
    from fastapi import FastAPI

    from routilux import Flow
    from routilux.stores import JobStore

__all__ = ["REQUIRED", "create_app", "missing_libraries", "require_libraries"]

#: The libraries of the server extra: import names and project names.
REQUIRED = {"fastapi": "fastapi", "uvicorn": "uvicorn", "prometheus_client": "prometheus-client"}


def missing_libraries() -> list[str]:
    """The projects of the ``server`` extra that are not installed."""
    missing = []
    for name, project in REQUIRED.items():
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(project)
    return missing


def require_libraries() -> None:
    """Check that the ``server`` extra is installed.

    Raises:
        ImportError: It is not (the message gives the command that installs it).
    """
    missing = missing_libraries()
    if missing:
        raise ImportError(
            f"The routilux HTTP service needs {', '.join(missing)}; install the server extra "
            f"from a clone of routilux: {install_command('server')}"
        )


def create_app(
    store: JobStore,
    *,
    flows: Iterable[Flow] = (),
    flows_dir: str | Path | None = None,
    imports: Iterable[str] = (),
    auth: bool = True,
    cors_origins: Iterable[str] = (),
    rate_limit: str | float | None = "100/s",
    max_body_bytes: int = 1_048_576,
    heartbeat: float = 15.0,
    resume_interrupted: bool = False,
    queue: str | None = None,
    ray_address: str | None = None,
) -> FastAPI:
    """The HTTP service of ``store`` and the given flows, as a FastAPI app.

    Serve it with any ASGI server (``routilux serve`` uses uvicorn). Jobs run
    in this process (unless handed to the workers: ``queue``), on ``store``:
    each served flow gets ``store`` (as ``flow.store``) and the service's
    event hooks. Stopping the app (its
    lifespan's end) pauses the jobs still running here.

    Args:
        store: The job store: its jobs are listed, and new jobs are kept there.
            API keys and idempotency keys are kept in its database too, in
            tables of the server's own.
        flows: Flow objects to serve.
        flows_dir: Also serve every ``*.yaml``, ``*.yml`` and ``*.json`` flow
            file of this directory (the directory goes on ``sys.path`` for
            their routine classes).
        imports: Also serve these ``module:attribute`` import paths, each a
            Flow or a callable returning one.
        auth: Require an API key (``Authorization: Bearer``). ``False`` is for
            local use only: every client may do everything.
        cors_origins: Origins allowed to call the API from a browser (no CORS
            headers at all when empty).
        rate_limit: Requests per key (per client address without auth):
            ``"20/s"``, ``"600/m"``, a number per second, or ``None`` for no
            limit. Up to N requests may come at once (the N of N/period).
        max_body_bytes: Largest request body; larger ones get 413.
        heartbeat: Seconds between keep-alive comments of an event stream.
        resume_interrupted: Resume, now, the jobs of the served flows that a
            server paused as it stopped, and those left ``running`` by a
            process that has ended (or whose lease expired).
        queue: Hand the jobs that requests start to the workers on this
            queue (``flow.submit``; ``routilux worker``) instead of running
            them here; a request's own ``queue`` wins. Needs a PostgreSQL
            store. Schedules (``/schedules``) need one too.
        ray_address: Replace each served flow's ``ray_address`` with this
            one (the Ray cluster of the flows on the ``"ray"`` strategy).

    Raises:
        ImportError: The ``server`` extra is not installed.
        DefinitionError: Two flows have one id, a flow cannot be loaded, or an
            option is invalid.
        SerializationError: A flow file is invalid.
        StoreError: The store's database cannot keep the server's tables.
    """
    require_libraries()
    from routilux.server._app import build_app

    return build_app(
        store,
        flows=flows,
        flows_dir=flows_dir,
        imports=imports,
        auth=auth,
        cors_origins=cors_origins,
        rate_limit=rate_limit,
        max_body_bytes=max_body_bytes,
        heartbeat=heartbeat,
        resume_interrupted=resume_interrupted,
        queue=queue,
        ray_address=ray_address,
    )
