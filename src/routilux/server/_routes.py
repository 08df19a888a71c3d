"""The JSON endpoints: flows, jobs, their control, dead letters, health and metrics."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from routilux import JobState, read_job_logs
from routilux.reports import job_report, letter_dict
from routilux.server import _models as m
from routilux.server._auth import needs, service
from routilux.server._problems import bad_request
from routilux.server._schedules import schedule_view
from routilux.server._service import Service, store_kind
from routilux.server._views import (
    check_statuses,
    flow_detail,
    flow_summary,
    history,
    list_jobs,
    parse_time,
)
from routilux.server.keys import Scope

__all__ = ["router"]

READ = [Depends(needs(Scope.READ))]
RUN = [Depends(needs(Scope.RUN))]
Svc = Annotated[Service, Depends(service)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": m.ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 429)
}

router = APIRouter(responses=ERRORS)


@router.get("/health", response_model=m.Health, tags=["service"])
def health(svc: Svc) -> dict[str, Any]:
    """Whether the service is up (no key needed)."""
    return {"status": "ok", "store": store_kind(svc.store), "flows": len(svc.flows)}


@router.get("/metrics", dependencies=READ, tags=["service"], response_class=Response)
def metrics(svc: Svc) -> Response:
    """The service's metrics, in the Prometheus text format."""
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/flows", response_model=m.FlowList, dependencies=READ, tags=["flows"])
def flows(svc: Svc) -> dict[str, Any]:
    """The served flows."""
    return {"flows": [flow_summary(flow) for flow in svc.flows.values()]}


@router.get("/flows/{flow_id}", response_model=m.FlowDetail, dependencies=READ, tags=["flows"])
def flow(flow_id: str, svc: Svc) -> dict[str, Any]:
    """A served flow: its document, default entry and graph."""
    return flow_detail(svc.jobs.flow(flow_id))


@router.post(
    "/flows/{flow_id}/jobs",
    response_model=m.JobCreated,
    status_code=201,
    dependencies=RUN,
    tags=["jobs"],
    responses={200: {"model": m.JobCreated, "description": "The job of a repeated key."}},
)
def start_job(
    flow_id: str,
    response: Response,
    svc: Svc,
    body: Annotated[m.StartJobRequest | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Start a job of a flow (``{}``: its default entry, no params).

    With a ``queue`` (or the service's ``--queue``), the job is recorded
    ``pending`` and handed to the workers on that queue instead of running
    here (PostgreSQL store).
    """
    body = body or m.StartJobRequest()
    key = body.idempotency_key or idempotency_key
    if body.idempotency_key and idempotency_key and body.idempotency_key != idempotency_key:
        raise bad_request("idempotency_key: the body and the Idempotency-Key header differ.")
    fields = body.model_dump(exclude={"idempotency_key"}, exclude_none=True)
    job, new = svc.jobs.start(flow_id, fields, key)
    if not new:
        response.status_code = 200
    if isinstance(job, JobState):
        return {"job_id": job.job_id, "flow_id": flow_id, "status": job.status.value}
    stored = svc.store.load_job(job)  # Handed to the workers, or started by an earlier request.
    queue = stored.document.get("queue")
    return {
        "job_id": job,
        "flow_id": flow_id,
        "status": svc.jobs.status(job),
        "queue": queue if isinstance(queue, str) else None,
    }


@router.get("/jobs", response_model=m.JobList, dependencies=READ, tags=["jobs"])
def jobs(
    svc: Svc,
    flow: str | None = None,
    status: Annotated[list[str] | None, Query()] = None,
    updated_after: str | None = None,
    updated_before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Jobs of the store, newest updated first, with counts by status."""
    return list_jobs(
        svc.store,
        flow_id=flow,
        statuses=check_statuses(status or []),
        updated_after=parse_time("updated_after", updated_after),
        updated_before=parse_time("updated_before", updated_before),
        limit=limit,
        cursor=cursor,
    )


@router.get("/jobs/{job_id}", response_model=m.JobReport, dependencies=READ, tags=["jobs"])
def job(job_id: str, svc: Svc, tracebacks: bool = False) -> dict[str, Any]:
    """A job, as ``routilux jobs show --json`` shows it (``tracebacks``: with its errors')."""
    return job_report(svc.store, job_id, tracebacks=tracebacks)


def _job_state(svc: Service, job_id: str) -> JobState:
    live = svc.jobs.live(job_id)
    if live is not None:
        return live[1]
    return JobState.deserialize(svc.store.load_job(job_id).document)


@router.get("/jobs/{job_id}/history", response_model=m.History, dependencies=READ, tags=["jobs"])
def job_history(job_id: str, svc: Svc) -> dict[str, Any]:
    """What the job's routines emitted, oldest first."""
    return history(_job_state(svc, job_id))


@router.get("/jobs/{job_id}/logs", response_model=m.Logs, dependencies=READ, tags=["jobs"])
def job_logs(job_id: str, svc: Svc, after: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """The records the job's handlers logged, as the store keeps them, from position ``after``."""
    found = read_job_logs(svc.store, job_id, after=after)
    page = [_plain_record(entry.record) for entry in found]
    return {"logs": page, "next": found[-1].position + 1 if found else after}


def _plain_record(record: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(record, default=str))
    return plain


def _control(job_id: str, status: str) -> dict[str, str]:
    return {"job_id": job_id, "status": status}


@router.post(
    "/jobs/{job_id}/pause", response_model=m.JobStatusReply, dependencies=RUN, tags=["control"]
)
def pause(job_id: str, svc: Svc) -> dict[str, str]:
    """Pause a job this server runs."""
    return _control(job_id, svc.jobs.pause(job_id))


@router.post(
    "/jobs/{job_id}/resume", response_model=m.JobStatusReply, dependencies=RUN, tags=["control"]
)
def resume(job_id: str, svc: Svc) -> dict[str, str]:
    """Resume a paused job, or an interrupted one of a served flow."""
    return _control(job_id, svc.jobs.resume(job_id))


@router.post(
    "/jobs/{job_id}/cancel", response_model=m.JobStatusReply, dependencies=RUN, tags=["control"]
)
def cancel(job_id: str, svc: Svc) -> dict[str, str]:
    """Cancel a job that has not ended."""
    return _control(job_id, svc.jobs.cancel(job_id))


@router.get(
    "/jobs/{job_id}/dead-letters",
    response_model=m.DeadLetters,
    dependencies=READ,
    tags=["dead letters"],
)
def dead_letters(job_id: str, svc: Svc, details: bool = False) -> dict[str, Any]:
    """The job's dead letters (replayed ones too), as ``routilux dead-letters list --json``.

    With ``details``, each also has its message (``data``) and ``traceback``,
    as ``routilux dead-letters show --json``.
    """
    stored = svc.store.load_job(job_id)
    letters = svc.store.list_dead_letters(
        job_id=job_id, include_replayed=True, limit=max(stored.next_seq, 1)
    )
    plain = [_plain_record(letter_dict(letter, details=details)) for letter in letters]
    return {"dead_letters": plain}


@router.post(
    "/dead-letters/{letter_id}/replay",
    response_model=m.Replayed,
    status_code=201,
    dependencies=RUN,
    tags=["dead letters"],
)
def replay(
    letter_id: str, svc: Svc, body: Annotated[m.ReplayRequest | None, Body()] = None
) -> dict[str, str]:
    """Deliver a dead letter's message again, as a new job of its flow."""
    return {"job_id": svc.jobs.replay(letter_id, body is not None and body.again)}


# -- schedules ------------------------------------------------------------------------


@router.get("/schedules", response_model=m.ScheduleList, dependencies=READ, tags=["schedules"])
def schedules(svc: Svc) -> dict[str, Any]:
    """The store's cron schedules (fired by the workers), by id."""
    return {"schedules": [schedule_view(s) for s in svc.schedules.list()]}


@router.post(
    "/flows/{flow_id}/schedules",
    response_model=m.ScheduleReply,
    status_code=201,
    dependencies=RUN,
    tags=["schedules"],
)
def add_schedule(flow_id: str, body: m.ScheduleRequest, svc: Svc) -> dict[str, Any]:
    """Fire a job of a served flow at every tick of ``cron``, on the workers (PostgreSQL store)."""
    return schedule_view(svc.schedules.add(flow_id, body.model_dump()))


@router.delete("/schedules/{schedule_id}", status_code=204, dependencies=RUN, tags=["schedules"])
def remove_schedule(schedule_id: str, svc: Svc) -> Response:
    """Remove a schedule; the jobs it fired are kept."""
    svc.schedules.remove(schedule_id)
    return Response(status_code=204)
