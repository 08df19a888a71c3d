"""The request and response bodies of the service (they type its OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeadLetters",
    "ErrorDetail",
    "ErrorResponse",
    "FlowDetail",
    "FlowList",
    "FlowSummary",
    "Graph",
    "GraphEdge",
    "GraphNode",
    "Health",
    "History",
    "HistoryRecord",
    "JobCreated",
    "JobList",
    "JobReport",
    "JobRow",
    "JobStatusReply",
    "Logs",
    "ReplayRequest",
    "Replayed",
    "ScheduleList",
    "ScheduleReply",
    "ScheduleRequest",
    "StartJobRequest",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="not_found, bad_request, conflict, unauthorized, ...")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str
    store: str = Field(description="The kind of job store: sqlite, postgres or memory.")
    flows: int


class EntryRef(BaseModel):
    routine_id: str
    slot: str


class FlowSummary(BaseModel):
    flow_id: str
    routines: int
    connections: int
    entry: EntryRef | None


class FlowList(BaseModel):
    flows: list[FlowSummary]


class GraphNode(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    class_: str = Field(alias="class")
    slots: list[str]
    events: list[str]


class GraphEdge(BaseModel):
    source: str
    event: str
    target: str
    slot: str


class Graph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class FlowDetail(BaseModel):
    flow_id: str
    document: dict[str, Any] | None = Field(
        description="The flow document; null if the flow cannot be serialized."
    )
    entry: EntryRef | None
    graph: Graph


class StartJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry: str | None = Field(default=None, description="The routine that starts the job.")
    slot: str | None = Field(default=None, description="Its slot (default: trigger).")
    params: dict[str, Any] | None = Field(default=None, description="The data for the entry slot.")
    idempotency_key: str | None = Field(
        default=None, max_length=200, description="The same key again returns the same job."
    )
    queue: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="Hand the job to the workers on this queue ('routilux worker') instead "
        "of running it here (default: the service's --queue, if any). Needs a PostgreSQL store.",
    )


class JobCreated(BaseModel):
    job_id: str
    flow_id: str
    status: str
    queue: str | None = Field(
        default=None,
        description="The queue that carries the job to a worker; null if it runs here.",
    )


class JobRow(BaseModel):
    job_id: str
    flow_id: str
    status: str
    created_at: str
    updated_at: str
    error: str | None
    pending: int
    dead_letters: int


class JobList(BaseModel):
    jobs: list[JobRow]
    next_cursor: str | None
    counts: dict[str, int]


class JobReport(BaseModel):
    """As ``routilux jobs show --json``."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    flow_id: str
    status: str
    error: str | None
    created_at: str
    updated_at: str
    duration: float | None
    deliveries: int
    pending: int
    owner: str | None
    owner_alive: bool
    claim: int
    lease_expires_at: str | None
    lease_remaining: float | None
    queue: str | None = Field(
        default=None, description="A submitted job's queue (flow.submit); null otherwise."
    )
    worker: str | None = Field(
        default=None, description="The worker that runs or ran a submitted job (its owner)."
    )
    routines: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]


class HistoryRecord(BaseModel):
    routine_id: str
    event_name: str
    data: Any
    timestamp: str


class History(BaseModel):
    history: list[HistoryRecord]
    dropped: int


class Logs(BaseModel):
    logs: list[dict[str, Any]]
    next: int


class JobStatusReply(BaseModel):
    job_id: str
    status: str


class DeadLetters(BaseModel):
    dead_letters: list[dict[str, Any]]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    again: bool = False


class Replayed(BaseModel):
    job_id: str


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str = Field(description="A five-field cron expression, in UTC: '*/5 * * * *'.")
    entry: str | None = Field(
        default=None, description="The routine whose trigger slot starts each job."
    )
    params: dict[str, Any] | None = Field(default=None, description="Each job's entry data.")
    queue: str = Field(default="default", min_length=1, max_length=63)
    missed: str = Field(
        default="skip",
        description="Ticks missed while no worker ran: 'skip' fires the latest, "
        "'catch-up' each of them.",
    )
    schedule_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="Its id (default: a new one)."
    )


class ScheduleReply(BaseModel):
    schedule_id: str
    flow_id: str
    cron: str
    entry: str | None
    params: dict[str, Any]
    queue: str
    missed: str
    last_tick: str = Field(description="The last tick fired or passed over (ISO-8601, UTC).")
    next_tick: str | None = Field(description="The next tick to fire (ISO-8601, UTC).")


class ScheduleList(BaseModel):
    schedules: list[ScheduleReply]
