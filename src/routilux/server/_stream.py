"""``GET /jobs/{job_id}/events``: a job's events as Server-Sent Events.

For a job this server runs, the events come from the :class:`EventHub`
(those so far, then the live ones). For another job of the store, they are
made up from what the store keeps: ``started``, one ``succeeded`` delivery
per history record (what each routine emitted), one ``dead_lettered`` per
dead letter, and ``ended`` once the job has ended (the store is read again
every second until then). Either way the stream skips the events up to
``Last-Event-ID``, ends with ``event: end`` after the job's end, and sends a
comment every ``heartbeat`` seconds while nothing happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from routilux import JobState
from routilux.server._auth import needs, service
from routilux.server._events import END, StreamEvent, Subscription
from routilux.server._models import ErrorResponse
from routilux.server._problems import bad_request
from routilux.server._service import Service
from routilux.server.keys import Scope

__all__ = ["router"]

#: How often the store is read again for a job that runs elsewhere.
STORE_POLL = 1.0

router = APIRouter()


def _stored_events(svc: Service, job_id: str) -> tuple[list[StreamEvent], bool]:
    """The events of a stored job, made up from its document and dead letters."""
    stored = svc.store.load_job(job_id)
    job = JobState.deserialize(stored.document)
    data: list[tuple[str, dict[str, Any]]] = [
        (
            "job",
            {"type": "started", "status": "running", "error": None, "time": _time(job.created_at)},
        )
    ]
    data.extend(
        (
            "delivery",
            _delivery("succeeded", routine_id=record.routine_id, time=_time(record.timestamp)),
        )
        for record in job.execution_history
    )
    letters = svc.store.list_dead_letters(
        job_id=job_id, include_replayed=True, limit=max(stored.next_seq, 1)
    )
    data.extend(
        (
            "delivery",
            _delivery(
                "dead_lettered",
                routine_id=letter.routine_id,
                slot=letter.slot,
                delivery_id=letter.letter_id,
                attempt=letter.attempt,
                error_type=letter.error.error_type,
                error=letter.error.message,
                time=letter.created_at,
            ),
        )
        for letter in letters
    )
    ended = job.status.is_terminal
    if ended:
        ended_data = {"type": "ended", "status": job.status.value, "error": job.error}
        data.append(("job", {**ended_data, "time": _time(job.updated_at)}))
    return [StreamEvent(n, kind, d) for n, (kind, d) in enumerate(data, 1)], ended


def _time(when: datetime) -> float:
    return when.timestamp()


def _delivery(kind: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(
        (
            "routine_id",
            "slot",
            "delivery_id",
            "attempt",
            "duration",
            "error_type",
            "error",
            "retry_delay",
            "time",
        )
    )
    return {"type": kind, **base, **fields}


def _last_id(value: str | None) -> int:
    if value is None or not value.strip():
        return 0
    if not value.strip().isdigit():
        raise bad_request(f"Last-Event-ID: {value!r} is not an event id (a whole number).")
    return int(value)


async def _live(
    svc: Service,
    job_id: str,
    backlog: list[StreamEvent],
    sub: Subscription,
    ended: bool,
    after: int,
) -> AsyncIterator[str]:
    try:
        for event in backlog:
            if event.id > after:
                yield event.encode()
        while not ended:
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=svc.heartbeat)
            except asyncio.TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if event is END:
                break
            if event.id > after:
                yield event.encode()
        yield "event: end\ndata: {}\n\n"
    finally:
        svc.hub.unsubscribe(job_id, sub)


async def _stored(
    svc: Service, job_id: str, events: list[StreamEvent], ended: bool, after: int
) -> AsyncIterator[str]:
    for event in events:
        if event.id > after:
            yield event.encode()
    next_id = len(events) + 1
    waited = 0.0
    while not ended:
        # The job runs elsewhere: read its status again every STORE_POLL seconds,
        # until it has ended (the client closing the stream stops this too).
        await asyncio.sleep(STORE_POLL)
        waited += STORE_POLL
        stored = await run_in_threadpool(svc.store.load_job, job_id)
        job = JobState.deserialize(stored.document)
        if job.status.is_terminal:
            ended = True
            data = {
                "type": "ended",
                "status": job.status.value,
                "error": job.error,
                "time": _time(job.updated_at),
            }
            yield StreamEvent(next_id, "job", data).encode()
        elif waited >= svc.heartbeat:
            waited = 0.0
            yield ": heartbeat\n\n"
    yield "event: end\ndata: {}\n\n"


@router.get(
    "/jobs/{job_id}/events",
    dependencies=[Depends(needs(Scope.READ))],
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The job's events."},
        **{code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 429)},
    },
)
async def events(
    job_id: str,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """The job's events (Server-Sent Events), until it ends."""
    svc = service(request)
    after = _last_id(last_event_id)
    loop = asyncio.get_running_loop()
    here = svc.jobs.live(job_id) is not None
    found = svc.hub.subscribe(job_id, loop, create=here)
    if found is not None:
        stream = _live(svc, job_id, *found, after)
    else:
        stored, ended = await run_in_threadpool(_stored_events, svc, job_id)  # 404 if unknown.
        stream = _stored(svc, job_id, stored, ended, after)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
