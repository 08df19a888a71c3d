"""The FastAPI app of the service: :func:`create_app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from routilux import (
    DeadLetterNotFound,
    DeadLetterReplayedError,
    DefinitionError,
    Flow,
    JobNotFound,
    JobOwnedError,
    SerializationError,
)
from routilux.server import _routes, _stream
from routilux.server._events import EventHub
from routilux.server._flows import collect_flows
from routilux.server._jobs import ServedJobs
from routilux.server._limits import BodyLimit, CatchAll, RateLimiter, RequestMetrics, parse_rate
from routilux.server._metrics import MetricsHooks, ServerMetrics
from routilux.server._problems import STATUS_CODES, ApiError
from routilux.server._schedules import ServedSchedules
from routilux.server._service import Service
from routilux.server._tables import open_tables
from routilux.server.dashboard import mount as mount_dashboard
from routilux.stores import JobStore, PostgresStore
from routilux.workers import check_queue_name

__all__ = ["build_app"]

logger = logging.getLogger("routilux.server")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    error = ApiError(status, message, headers=headers)
    return JSONResponse(error.body(), status_code=status, headers=error.headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "The request is not valid."


#: Errors of the library, by the status they are answered with.
_LIBRARY_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFound, 404),
    (DeadLetterNotFound, 404),
    (DeadLetterReplayedError, 409),
    (JobOwnedError, 409),
    (DefinitionError, 400),
    (SerializationError, 400),
)


def _install_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.message, exc.headers)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _error(400, _validation_message(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code if exc.status_code in STATUS_CODES else 500
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if status == 404:
            message = f"No endpoint {request.method} {request.url.path}."
        return _error(status, message, dict(exc.headers or {}))

    def library(status: int) -> Any:
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            message = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
            return _error(status, message)

        return handle

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for cls, status in _LIBRARY_ERRORS:
        app.add_exception_handler(cls, library(status))


def _without_422(app: FastAPI) -> None:
    """Drop the 422 answers FastAPI documents: this service answers a bad request with 400."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _lifespan(svc: Service) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        svc.stop()

    return lifespan


def _check_options(
    store: JobStore,
    max_body_bytes: int,
    heartbeat: float,
    queue: str | None,
    ray_address: str | None,
) -> None:
    """Refuse a bad option of :func:`build_app` with a :class:`DefinitionError` naming it."""
    if ray_address is not None and (not isinstance(ray_address, str) or not ray_address):
        raise DefinitionError(f"ray_address must be a non-empty string, not {ray_address!r}.")
    if queue is not None:
        check_queue_name(queue)
        if not isinstance(store, PostgresStore):
            raise DefinitionError(
                f"queue={queue!r} hands the jobs to the workers, which share a PostgreSQL "
                f"store; this service's store is a {type(store).__name__}."
            )
    if (
        isinstance(max_body_bytes, bool)
        or not isinstance(max_body_bytes, int)
        or max_body_bytes < 1
    ):
        raise DefinitionError(f"max_body_bytes must be a positive int, not {max_body_bytes!r}.")
    if not isinstance(heartbeat, (int, float)) or not 0 < heartbeat < float("inf"):
        raise DefinitionError(f"heartbeat must be a positive number of seconds, not {heartbeat!r}.")


def build_app(
    store: JobStore,
    *,
    flows: Iterable[Flow],
    flows_dir: str | Path | None,
    imports: Iterable[str],
    auth: bool,
    cors_origins: Iterable[str],
    rate_limit: str | float | None,
    max_body_bytes: int,
    heartbeat: float,
    resume_interrupted: bool,
    queue: str | None,
    ray_address: str | None,
) -> FastAPI:
    """:func:`routilux.server.create_app`, once the extra is known to be installed."""
    served = collect_flows(flows, flows_dir=flows_dir, imports=imports)
    _check_options(store, max_body_bytes, heartbeat, queue, ray_address)
    rate = parse_rate(rate_limit)
    tables = open_tables(store)
    hub = EventHub()
    metrics = ServerMetrics(store)
    counting = MetricsHooks(metrics)
    for flow in served.values():
        flow.store = store
        if ray_address is not None:
            flow.ray_address = ray_address
        if flow.keep_logs is None:  # GET /jobs/{job_id}/logs of the jobs run here.
            flow.keep_logs = True
        flow.add_hooks(hub)
        flow.add_hooks(counting)
    svc = Service(
        store=store,
        flows=served,
        jobs=ServedJobs(store, served, tables, queue),
        schedules=ServedSchedules(store, served),
        hub=hub,
        metrics=metrics,
        tables=tables,
        auth=auth,
        limiter=RateLimiter(*rate) if rate is not None else None,
        heartbeat=heartbeat,
        counting=counting,
    )
    app = FastAPI(
        title="routilux",
        summary="Run and watch routilux jobs over HTTP.",
        version="1",
        lifespan=_lifespan(svc),
    )
    app.state.service = svc
    if resume_interrupted:
        for job_id in svc.jobs.resume_interrupted():
            logger.warning("Resumed job %s, which a stopped server or a crash left.", job_id)
    _install_handlers(app)
    # The routes themselves, not an included router: each is then one of
    # app.routes, with its path template (for the metrics and the tests).
    app.router.routes.extend([*_routes.router.routes, *_stream.router.routes])
    _without_422(app)
    mount_dashboard(app)  # The page at /ui/ (static files, no key: they hold no data).
    app.add_middleware(CatchAll)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    origins = list(cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        )
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
