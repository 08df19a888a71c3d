"""What the endpoints answer, built from the flows and the store (no web framework here)."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from routilux import DefinitionError, Flow, JobState, JobStatus, SerializationError
from routilux.flow_files import entry_routine
from routilux.server._problems import bad_request
from routilux.stores import JobStore, JobSummary

__all__ = ["flow_detail", "flow_summary", "history", "list_jobs", "parse_time"]

#: Most jobs one listing reads from the store.
MAX_LISTED = 1_000_000


def _entry(flow: Flow) -> dict[str, str] | None:
    try:
        return {"routine_id": entry_routine(flow), "slot": "trigger"}
    except DefinitionError:
        return None


def flow_summary(flow: Flow) -> dict[str, Any]:
    """One line of ``GET /flows``."""
    return {
        "flow_id": flow.flow_id,
        "routines": len(flow.routines),
        "connections": len(flow.connections),
        "entry": _entry(flow),
    }


def flow_detail(flow: Flow) -> dict[str, Any]:
    """``GET /flows/{flow_id}``: the document, the default entry and the graph."""
    try:
        document: dict[str, Any] | None = flow.serialize()
    except (SerializationError, DefinitionError):
        document = None
    nodes = [
        {
            "id": rid,
            "class": f"{type(r).__module__}:{type(r).__qualname__}",
            "slots": list(r.slots),
            "events": list(r.events),
        }
        for rid, r in flow.routines.items()
    ]
    edges = [
        {"source": c.source_id, "event": c.event, "target": c.target_id, "slot": c.slot}
        for c in flow.connections
    ]
    return {
        "flow_id": flow.flow_id,
        "document": document,
        "entry": _entry(flow),
        "graph": {"nodes": nodes, "edges": edges},
    }


def parse_time(name: str, text: str | None) -> datetime | None:
    """An ISO 8601 query parameter (naive means UTC); 400 naming it if invalid."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name}: {text!r} is not an ISO 8601 time.") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _cursor_key(summary: JobSummary) -> tuple[datetime, str]:
    return parse_time("updated_at", summary.updated_at) or datetime.min, summary.job_id


def encode_cursor(key: tuple[datetime, str]) -> str:
    """The cursor after the job of this (updated_at, job_id)."""
    text = json.dumps([key[0].isoformat(), key[1]])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (updated_at, job_id) a cursor is after; 400 if it is not a cursor of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, job_id = json.loads(raw)
        stamp = parse_time("cursor", when)
        if stamp is None or not isinstance(job_id, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"cursor: {cursor!r} is not a cursor this server returned.") from None
    return stamp, job_id


def check_statuses(statuses: list[str]) -> list[str]:
    """The status filter; 400 naming an unknown status."""
    known = [s.value for s in JobStatus]
    for status in statuses:
        if status not in known:
            raise bad_request(f"status: {status!r} is not a job status; use one of {known}.")
    return statuses


def list_jobs(
    store: JobStore,
    *,
    flow_id: str | None,
    statuses: list[str],
    updated_after: datetime | None,
    updated_before: datetime | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """``GET /jobs``: newest updated first, keyset-paginated on (updated_at, job_id).

    A cursor names the last job of a page by its (updated_at, job_id); the
    next page starts after it, so jobs created meanwhile do not shift it.
    """
    after = decode_cursor(cursor) if cursor is not None else None
    found = store.list_jobs(flow_id=flow_id, status=statuses or None, limit=MAX_LISTED)
    keyed = []
    for summary in found:
        key = _cursor_key(summary)
        if updated_after is not None and key[0] <= updated_after:
            continue
        if updated_before is not None and key[0] >= updated_before:
            continue
        keyed.append((key, summary))
    counts = Counter(summary.status for _, summary in keyed)
    keyed.sort(key=lambda item: item[0], reverse=True)
    if after is not None:
        keyed = [item for item in keyed if item[0] < after]
    page = keyed[:limit]
    more = len(keyed) > limit
    return {
        "jobs": [asdict(summary) for _, summary in page],
        "next_cursor": encode_cursor(page[-1][0]) if more and page else None,
        "counts": dict(counts),
    }


def _plain(value: Any) -> Any:
    """``value`` as plain JSON (other values, such as a Decimal, as their text)."""
    return json.loads(json.dumps(value, default=str))


def history(job: JobState) -> dict[str, Any]:
    """``GET /jobs/{job_id}/history``: what its routines emitted, oldest first."""
    return {
        "history": [
            {
                "routine_id": r.routine_id,
                "event_name": r.event_name,
                "data": _plain(r.data),
                "timestamp": r.timestamp.isoformat(),
            }
            for r in job.execution_history
        ],
        "dropped": job.history_dropped,
    }
