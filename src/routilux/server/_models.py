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


class JobCreated(BaseModel):
    job_id: str
    flow_id: str
    status: str


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
