"""JobState <-> versioned JSON document."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._model.durable import DeadLetter
from routilux._model.records import ErrorRecord, ExecutionRecord, PendingDelivery
from routilux._model.status import JobStatus
from routilux._serde.job_routines_doc import read_routine_records, write_routine_records
from routilux._serde.json_text import safe_repr
from routilux._serde.values import decode_value, encode_value
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._model.job_state import JobState

__all__ = ["JOB_STATE_SCHEMA", "JOB_STATE_VERSION", "job_state_from_doc", "job_state_to_doc"]

JOB_STATE_SCHEMA = "routilux.job_state"
JOB_STATE_VERSION = 1

J = TypeVar("J", bound="JobState")
T = TypeVar("T")

#: Largest count or attempt number a job document may hold: what a store's
#: 64-bit integer column holds.
MAX_COUNT = 2**63 - 1


def job_state_to_doc(job: JobState) -> dict[str, Any]:
    """Write ``job`` as a JSON-compatible document.

    Raises:
        SerializationError: A value in the job cannot be written.
    """
    return {
        "schema": JOB_STATE_SCHEMA,
        "version": JOB_STATE_VERSION,
        "job_id": job.job_id,
        "flow_id": job.flow_id,
        "status": job.status.value,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "current_routine_id": job.current_routine_id,
        "error": job.error,
        "history_dropped": job.history_dropped,
        "routine_states": encode_value(job.routine_states, "routine_states"),
        **write_routine_records(job),
        "execution_history": [
            {
                "routine_id": r.routine_id,
                "event_name": r.event_name,
                "data": encode_value(r.data, f"execution_history[{i}].data"),
                "timestamp": r.timestamp.isoformat(),
            }
            for i, r in enumerate(job.execution_history)
        ],
        "shared_data": encode_value(job.shared_data, "shared_data"),
        "shared_log": encode_value(job.shared_log, "shared_log"),
        "output_log": encode_value(job.output_log, "output_log"),
        "pause_points": encode_value(job.pause_points, "pause_points"),
        "deferred_events": encode_value(job.deferred_events, "deferred_events"),
        "next_delivery": job._next_delivery,
        "errors": [e.to_dict() for e in job.errors],
        "pending_deliveries": [
            {**p.to_dict(), "data": encode_value(p.data, f"pending_deliveries[{i}].data")}
            for i, p in enumerate(job.pending_deliveries)
        ],
        "dead_letters": [
            {
                **letter.to_dict(),
                "data": encode_value(letter.data, f"dead_letters[{i}].data"),
                "error": letter.error.to_dict(),
            }
            for i, letter in enumerate(job.dead_letters)
        ],
    }


def job_state_from_doc(cls: type[J], doc: Any) -> J:
    """Rebuild a job from :func:`job_state_to_doc`'s document.

    Raises:
        SerializationError: The document is malformed or of another version.
    """
    if not isinstance(doc, dict):
        raise SerializationError(f"A job document must be an object, not {type(doc).__name__}.")
    if doc.get("schema") != JOB_STATE_SCHEMA:
        raise SerializationError(
            f"Not a job document: schema is {safe_repr(doc.get('schema'))}, "
            f"expected {JOB_STATE_SCHEMA!r}."
        )
    if doc.get("version") != JOB_STATE_VERSION:
        raise SerializationError(
            f"Job document version {safe_repr(doc.get('version'))} is not supported; "
            f"this routilux reads version {JOB_STATE_VERSION}."
        )
    job_id = _field(doc, "job_id", str)
    if not job_id:
        raise SerializationError("The 'job_id' field of the job document must not be empty.")
    job = cls(_field(doc, "flow_id", str), job_id=job_id)
    _fill(job, doc)
    return job


def _fill(job: JobState, doc: dict[str, Any]) -> None:
    job.status = _convert(doc, "status", JobStatus)
    job.created_at = _convert(doc, "created_at", datetime.fromisoformat)
    job.updated_at = _convert(doc, "updated_at", datetime.fromisoformat)
    job.current_routine_id = _optional(doc, "current_routine_id", str)
    job.error = _optional(doc, "error", str)
    job.history_dropped = _count(doc, "history_dropped", 0, "job document", optional=True)
    job.routine_states = _routine_states(_field(doc, "routine_states", dict))
    # Optional: documents written before them kept these in the routine states.
    read_routine_records(job, doc)
    job.shared_data = decode_value(_field(doc, "shared_data", dict), "shared_data")
    job.shared_log = decode_value(_field(doc, "shared_log", list), "shared_log")
    # Optional: documents written before outputs existed have none.
    job.output_log = _entries(doc.get("output_log", []), "output_log", "output_type")
    job.execution_history = [
        _history_record(item, i) for i, item in enumerate(_field(doc, "execution_history", list))
    ]
    job.errors = [_error_record(item, i) for i, item in enumerate(_field(doc, "errors", list))]
    # Optional: documents written before pauses were recorded have none.
    job.pause_points = _pause_points(doc.get("pause_points", []))
    # Optional, as pause_points: events to emit when the job is resumed.
    job.deferred_events = _entries(doc.get("deferred_events", []), "deferred_events", "event_name")
    # Optional, as pause_points: the number of the job's next new delivery.
    next_delivery = _count(doc, "next_delivery", 1, "job document", optional=True)
    job._next_delivery = next_delivery or None
    job.pending_deliveries = [
        _pending(item, i) for i, item in enumerate(_field(doc, "pending_deliveries", list))
    ]
    # Optional: job stores keep dead letters apart and may leave them out.
    letters = doc.get("dead_letters", [])
    if not isinstance(letters, list):
        raise SerializationError("The 'dead_letters' field of the job document must be a list.")
    job.dead_letters = [_dead_letter(item, i) for i, item in enumerate(letters)]
    if job.status.is_terminal:
        job._finished.set()


def _pause_points(raw: Any) -> list[dict[str, Any]]:
    points = decode_value(raw, "pause_points")
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise SerializationError(
            "The 'pause_points' field of the job document must be a list of objects."
        )
    return points


def _routine_states(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states = decode_value(raw, "routine_states")
    for routine_id, state in states.items():
        if not isinstance(state, dict):
            raise SerializationError(
                f"routine_states[{routine_id!r}] of the job document must be an object, "
                f"not {type(state).__name__}."
            )
    return states  # type: ignore[no-any-return]


def _field(doc: Any, key: str, kind: type[T], where: str = "job document") -> T:
    if not isinstance(doc, dict) or key not in doc:
        raise SerializationError(f"The {where} has no {key!r} field.")
    value = doc[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SerializationError(
            f"The {key!r} field of the {where} must be a {kind.__name__}, "
            f"not {type(value).__name__}."
        )
    return value


def _optional(doc: dict[str, Any], key: str, kind: type[T]) -> T | None:
    if doc.get(key) is None:
        return None
    return _field(doc, key, kind)


def _count(doc: Any, key: str, minimum: int, where: str, *, optional: bool = False) -> int:
    """The integer field ``key`` (0 when ``optional`` and null or missing), checked in range."""
    if optional and (not isinstance(doc, dict) or doc.get(key) is None):
        return 0
    value = _field(doc, key, int, where)
    if not minimum <= value <= MAX_COUNT:
        raise SerializationError(
            f"The {key!r} field of the {where} must be an integer from {minimum} to "
            f"{MAX_COUNT}, not {safe_repr(value)}."
        )
    return value


def _convert(doc: dict[str, Any], key: str, convert: Callable[[Any], T]) -> T:
    text = _field(doc, key, str)
    try:
        return convert(text)
    except ValueError:
        raise SerializationError(
            f"The {key!r} field of the job document is not valid: {doc[key]!r}."
        ) from None


def _number(item: Any, key: str, where: str) -> float:
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SerializationError(f"The {key!r} field of {where} must be a number.")
    try:
        return float(value)
    except OverflowError:  # An integer beyond any float.
        raise SerializationError(
            f"The {key!r} field of {where} must be a number of seconds, not {safe_repr(value)}."
        ) from None


def _history_record(item: Any, index: int) -> ExecutionRecord:
    where = f"execution_history[{index}]"
    return ExecutionRecord(
        _field(item, "routine_id", str, where),
        _field(item, "event_name", str, where),
        decode_value(_field(item, "data", dict, where), f"{where}.data"),
        _moment(item, "timestamp", where),
    )


def _moment(item: Any, key: str, where: str) -> datetime:
    """An ISO 8601 time, or (as documents written before ISO times have) seconds since the epoch."""
    value = item.get(key) if isinstance(item, dict) else None
    try:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    raise SerializationError(
        f"The {key!r} field of {where} must be an ISO 8601 time (or a number of seconds "
        f"since the epoch), not {safe_repr(value)}."
    )


def _entries(raw: Any, name: str, kind: str) -> list[dict[str, Any]]:
    """The entries of the ``output_log`` or ``deferred_events`` field (``kind``: their name key)."""
    if not isinstance(raw, list):
        raise SerializationError(f"The {name!r} field of the job document must be a list.")
    entries = decode_value(raw, name)
    for i, entry in enumerate(entries):
        where = f"{name}[{i}]"
        if not isinstance(entry, dict):
            raise SerializationError(f"{where} of the job document must be an object.")
        _field(entry, "routine_id", str, where)
        _field(entry, kind, str, where)
        _field(entry, "data", dict, where)
        _field(entry, "timestamp", str, where)
    return entries  # type: ignore[no-any-return]


def _error_record(item: Any, index: int) -> ErrorRecord:
    where = f"errors[{index}]"
    if not isinstance(item, dict):
        raise SerializationError(f"{where} of the job document must be an object.")
    try:
        return ErrorRecord(
            routine_id=_optional(item, "routine_id", str),
            slot=_optional(item, "slot", str),
            error_type=_field(item, "error_type", str, where),
            message=_field(item, "message", str, where),
            traceback=_field(item, "traceback", str, where),
            attempt=_count(item, "attempt", 0, where),
            action=_field(item, "action", str, where),
            timestamp=_number(item, "timestamp", where),
            delivery_id=_optional(item, "delivery_id", str),
        )
    except SerializationError as exc:
        raise SerializationError(f"{exc} (in {where})") from None


def _dead_letter(item: Any, index: int) -> DeadLetter:
    where = f"dead_letters[{index}]"
    return DeadLetter(
        letter_id=_field(item, "letter_id", str, where),
        job_id=_field(item, "job_id", str, where),
        flow_id=_field(item, "flow_id", str, where),
        routine_id=_field(item, "routine_id", str, where),
        slot=_field(item, "slot", str, where),
        data=decode_value(_field(item, "data", dict, where), f"{where}.data"),
        attempt=_count(item, "attempt", 0, where),
        error=_error_record(_field(item, "error", dict, where), index),
        created_at=_number(item, "created_at", where),
        replayed_by=_optional(item, "replayed_by", str),
    )


def _pending(item: Any, index: int) -> PendingDelivery:
    where = f"pending_deliveries[{index}]"
    return PendingDelivery(
        delivery_id=_field(item, "delivery_id", str, where),
        routine_id=_field(item, "routine_id", str, where),
        slot=_field(item, "slot", str, where),
        data=decode_value(_field(item, "data", dict, where), f"{where}.data"),
        attempt=_count(item, "attempt", 0, where),
        delay=_number(item, "delay", where),
        # Written since hop counts came; 0 in the documents written before.
        hops=_count(item, "hops", 0, where, optional=True),
    )
