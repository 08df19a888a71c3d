"""Rows of the job stores: what the engine hands over, as the tuples the tables hold.

The SQL stores write these rows to their tables and
:class:`~routilux.stores.MemoryStore` keeps the same rows in memory, so every
store encodes values one way (routilux's value codec, then JSON) and refuses
the same things. Everything is encoded before a store opens its transaction
(or takes its lock), so a value that cannot be stored raises
:class:`~routilux.SerializationError` and nothing is written. Rows read back
are decoded, and checked, by :mod:`routilux.stores._decode`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from routilux._model.durable import Checkpoint, DeadLetter, StoredDelivery
from routilux._serde.job_routines_doc import split_records
from routilux._serde.values import decode_value, encode_value, is_plain_json
from routilux.exceptions import SerializationError
from routilux.stores._arguments import STATUSES

__all__ = [
    "CheckpointRows",
    "NewJobRows",
    "checkpoint_rows",
    "micros",
    "new_job_rows",
    "numbered",
    "plain",
]

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)

#: Document fields that have columns or tables of their own; the rest is kept as one JSON text.
_SPLIT_FIELDS = frozenset(
    {
        "job_id",
        "flow_id",
        "status",
        "created_at",
        "updated_at",
        "current_routine_id",
        "error",
        "shared_data",
        "routine_states",
        "routine_stats",
        "job_values",
        "timers",
        "execution_history",
        "errors",
        "shared_log",
        "output_log",
        "deferred_events",
    }
)


@dataclass(frozen=True, slots=True)
class NewJobRows:
    """The rows :meth:`create_job` inserts.

    ``job`` is in ``insert_job``'s column order: ``select_job``'s columns, then
    ``updated_us`` and the history, error, log, output and kept log record
    counts. A new job has no kept log records (a document carries none).
    """

    job: tuple[Any, ...]
    pending: list[tuple[Any, ...]]
    history: list[str]
    errors: list[str]
    log: list[str]
    values: list[tuple[str, str, str, str]]
    outputs: list[str]
    job_logs: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CheckpointRows:
    """The rows one checkpoint writes; ``job`` is in ``update_job``'s parameter order.

    ``job`` ends with the job id and the writer's claim (``None``: any claim).
    """

    job: tuple[Any, ...]
    done: list[tuple[str, int]]
    added: list[tuple[Any, ...]]
    history: list[str]
    errors: list[str]
    log: list[str]
    outputs: list[str]
    job_logs: list[str]
    letters: list[tuple[Any, ...]]
    values: list[tuple[str, str, str, str]]
    items: list[tuple[str, str, str, int, str]]


def _dumps(value: Any, where: str) -> str:
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"Cannot store {where}: it is not JSON ({exc}).") from None


def _freeze(value: Any, where: str) -> str:
    if is_plain_json(value):  # Most values: no need to walk them building paths.
        return _dumps(value, where)
    return _dumps(encode_value(value, where), where)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch; a naive ``moment`` is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MICROSECOND


def _iso_micros(text: Any, where: str) -> int:
    try:
        return micros(datetime.fromisoformat(text))
    except (TypeError, ValueError):
        raise SerializationError(f"{where} is not an ISO 8601 time: {text!r}.") from None


def _text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise SerializationError(
            f"The job document's {key!r} field must be a string, not {value!r}."
        )
    return value


def plain(*texts: Any) -> None:
    """Check texts bound for text columns (values go to JSON, which escapes anything).

    PostgreSQL's text holds no NUL character, and neither database takes lone
    surrogates (they are not UTF-8); both stores refuse them, so a job that
    runs on one runs on the other.

    Raises:
        SerializationError: A text has a NUL character or a lone surrogate.
    """
    for text in texts:
        if isinstance(text, str) and ("\x00" in text or not _utf8(text)):
            raise SerializationError(
                f"Cannot store {text!r}: ids, names, statuses, owners and a job's error "
                "must not contain NUL characters or lone surrogates."
            )


def _status(status: Any, where: str) -> None:
    if status not in STATUSES:
        raise SerializationError(
            f"Cannot store {where} {status!r}: a job's status is one of {', '.join(STATUSES)}."
        )


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _pending_row(job_id: str, delivery: StoredDelivery) -> tuple[Any, ...]:
    plain(delivery.routine_id, delivery.slot)
    data = _freeze(delivery.data, f"the message to {delivery.routine_id}.{delivery.slot}")
    return (
        job_id,
        delivery.seq,
        delivery.routine_id,
        delivery.slot,
        data,
        delivery.attempt,
        float(delivery.not_before),
        delivery.hops,
        _context_text(delivery),
    )


def _context_text(delivery: StoredDelivery) -> str | None:
    """A delivery's context as JSON text (``None`` without one); text by text, text-safe."""
    context = delivery.context
    if context is None:
        return None
    where = f"the context of delivery {delivery.seq} to {delivery.routine_id}.{delivery.slot}"
    if not isinstance(context, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in context.items()
    ):
        raise SerializationError(
            f"Cannot store {where}: a delivery's context maps text to text (a dict of str to "
            f"str), not {context!r}."
        )
    for text in (*context, *context.values()):
        if "\x00" in text or not _utf8(text):
            raise SerializationError(
                f"Cannot store {where}: its keys and values must not contain NUL characters "
                f"or lone surrogates ({text!r})."
            )
    return _dumps(context, where)


def _log_record_text(record: Any) -> str:
    """A kept log record as JSON text."""
    if not isinstance(record, dict):
        raise SerializationError(
            f"Cannot store the kept log record {record!r}: a record is a JSON object (a dict)."
        )
    return _dumps(record, "a kept log record")


def _history_text(entry: Any, index: int) -> str:
    try:
        event = [entry["routine_id"], entry["event_name"], entry["data"], entry["timestamp"]]
    except (KeyError, TypeError):
        raise SerializationError(
            f"execution_history[{index}] of the job document is not an emitted event."
        ) from None
    # Stored as seconds since the epoch, as the engine's checkpoints write them.
    if isinstance(event[3], str):
        event[3] = _iso_micros(event[3], f"execution_history[{index}].timestamp") / 1e6
    return _dumps(event, f"execution_history[{index}]")


def new_job_rows(
    document: dict[str, Any],
    pending: Sequence[StoredDelivery],
    next_seq: int,
    flow_document: dict[str, Any] | None,
    owner: str | None,
) -> NewJobRows:
    """Split a JobState document into the rows of a new job.

    Raises:
        SerializationError: The document lacks an id, flow, status or times,
            or a value cannot be stored.
    """
    job_id = _text(document, "job_id")
    history = [_history_text(e, i) for i, e in enumerate(document.get("execution_history", []))]
    errors = [_dumps(e, "an error record") for e in document.get("errors", [])]
    log = [_dumps(e, "a shared log entry") for e in document.get("shared_log", [])]
    outputs = [_dumps(e, "an output") for e in document.get("output_log", [])]
    extra = {k: v for k, v in document.items() if k not in _SPLIT_FIELDS}
    states, values, engine = _split_routines(job_id, document)
    job = (
        job_id,
        _text(document, "flow_id"),
        _text(document, "status"),
        _text(document, "created_at"),
        _text(document, "updated_at"),
        document.get("current_routine_id"),
        document.get("error"),
        0,
        next_seq,
        owner,
        None if flow_document is None else _dumps(flow_document, "the flow document"),
        _dumps(document.get("shared_data", {}), "shared_data"),
        _freeze(states, "routine_states"),
        _dumps(extra, "the job document"),
        _dumps(document.get("deferred_events", []), "deferred_events"),
        _dumps(engine, "the job document's routine_stats and timers"),
        _iso_micros(document["updated_at"], "The job document's 'updated_at'"),
        len(history),
        len(errors),
        len(log),
        len(outputs),
        0,
    )
    plain(*job[:7], owner)
    _status(job[2], "the job document's status")
    rows = [_pending_row(job_id, d) for d in pending]
    return NewJobRows(
        job=job,
        pending=rows,
        history=history,
        errors=errors,
        log=log,
        values=values,
        outputs=outputs,
    )


def _split_routines(
    job_id: str, document: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str, str, str]], dict[str, Any]]:
    """A document's routine states, its job values' rows, and its ``engine_states``.

    ``engine_states`` holds the ``routine_stats`` and ``timers`` fields; in a
    document written before they existed, they (and the job values) are
    taken out of the routine states.
    """
    encoded = document.get("routine_states", {})
    if not isinstance(encoded, dict):
        raise SerializationError(
            f"The job document's 'routine_states' must be an object, not {encoded!r}."
        )
    states = decode_value(encoded, "routine_states")
    if not isinstance(states, dict):
        raise SerializationError("The job document's 'routine_states' must be an object.")
    for routine_id, state in states.items():
        if not isinstance(state, dict):
            raise SerializationError(
                f"routine_states[{routine_id!r}] of the job document must be an object."
            )
    counts, values, timers = split_records(document, states)
    rows = [
        _value_row(job_id, routine_id, key, value)
        for routine_id, kept in values.items()
        for key, value in kept.items()
    ]
    return states, rows, {"routine_stats": counts, "timers": timers}


def _value_row(job_id: str, routine_id: Any, key: Any, value: Any) -> tuple[str, str, str, str]:
    if not isinstance(key, str):
        raise SerializationError(
            f"Cannot store the job value {key!r} of {routine_id!r}: job value keys are strings."
        )
    plain(routine_id, key)
    return (job_id, routine_id, key, _freeze(value, f"the job value {key!r} of {routine_id!r}"))


def checkpoint_rows(checkpoint: Checkpoint) -> CheckpointRows:
    """Encode everything a checkpoint writes.

    Raises:
        SerializationError: A value cannot be stored.
    """
    job_id = checkpoint.job_id
    plain(job_id, checkpoint.status, checkpoint.updated_at)
    plain(checkpoint.current_routine_id, checkpoint.error)
    _status(checkpoint.status, "the checkpoint's status")
    shared = checkpoint.shared_data
    states = checkpoint.routine_states
    history = [_freeze(list(h), "an emitted event") for h in checkpoint.history]
    errors = [_dumps(e.to_dict(), "an error record") for e in checkpoint.errors]
    log = [_freeze(e, "shared_log") for e in checkpoint.log_entries]
    outputs = [_freeze(e, "output_log") for e in checkpoint.outputs]
    job_logs = [_log_record_text(record) for record in checkpoint.job_logs]
    deferred = checkpoint.deferred_events
    engine = checkpoint.engine_states
    job = (
        checkpoint.status,
        checkpoint.updated_at,
        _iso_micros(checkpoint.updated_at, "The checkpoint's updated_at"),
        checkpoint.current_routine_id,
        checkpoint.error,
        checkpoint.deliveries,
        checkpoint.next_seq,
        None if shared is None else _freeze(shared, "shared_data"),
        None if states is None else _freeze(states, "routine_states"),
        None if deferred is None else _freeze(deferred, "deferred_events"),
        None if engine is None else _dumps(engine, "the job's routine stats and timers"),
        len(history),
        len(errors),
        len(log),
        len(outputs),
        len(job_logs),
        job_id,
        checkpoint.claim,
    )
    return CheckpointRows(
        job=job,
        done=[(job_id, seq) for seq in checkpoint.done],
        # The last of several deliveries with one seq (or letters with one id) wins.
        added=[_pending_row(job_id, d) for d in {d.seq: d for d in checkpoint.added}.values()],
        history=history,
        errors=errors,
        log=log,
        outputs=outputs,
        job_logs=job_logs,
        letters=[
            _letter_row(x) for x in {x.letter_id: x for x in checkpoint.dead_letters}.values()
        ],
        values=[_value_row(job_id, *entry) for entry in checkpoint.job_values],
        items=[_item_row(job_id, *entry) for entry in checkpoint.job_value_items],
    )


def _item_row(
    job_id: str, routine_id: str, key: str, position: int, item: Any
) -> tuple[str, str, str, int, str]:
    plain(routine_id, key)
    where = f"an item of the job value {key!r} of {routine_id!r}"
    return (job_id, routine_id, key, position, _freeze(item, where))


def _letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    plain(letter.letter_id, letter.job_id, letter.flow_id, letter.routine_id, letter.slot)
    plain(letter.replayed_by)
    return (
        letter.letter_id,
        letter.job_id,
        letter.flow_id,
        letter.routine_id,
        letter.slot,
        _freeze(letter.data, "a dead letter's data"),
        letter.attempt,
        _dumps(letter.error.to_dict(), "a dead letter's error"),
        float(letter.created_at),
        letter.replayed_by,
    )


def numbered(job_id: str, end: int, texts: list[str]) -> list[tuple[str, int, str]]:
    """Rows ``(job_id, position, text)`` for ``texts`` appended so the count is now ``end``."""
    start = end - len(texts)
    return [(job_id, start + i, text) for i, text in enumerate(texts)]
