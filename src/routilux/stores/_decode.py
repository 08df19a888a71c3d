"""Reading rows back: the job stores' rows, decoded and checked column by column.

A row read from a store may have been damaged since it was written (a disk
fault, a hand edit, another program). Every column is checked as it is
decoded, so a damaged row raises :class:`~routilux.StoreError` naming the job
(or dead letter), the table, the column and what was expected, rather than
whatever exception the decoding happened to meet first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from routilux._model.durable import DeadLetter, JobSummary, StoredDelivery, StoredJob
from routilux._model.records import ErrorRecord
from routilux._model.status import JobStatus
from routilux._serde.values import decode_value
from routilux.exceptions import SerializationError, StoreError

__all__ = ["dead_letter", "stored_job", "summary"]

_STATUSES = tuple(status.value for status in JobStatus)
#: The counters of a routine's state, which the engine and the reports read as integers.
_COUNTERS = ("deliveries", "failures", "skips")
_JSON_KINDS: dict[type, str] = {dict: "a JSON object", list: "a JSON array"}
#: An error record's fields: their types, and whether they may be null (or missing).
_RECORD_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "routine_id": ((str,), True),
    "slot": ((str,), True),
    "error_type": ((str,), False),
    "message": ((str,), False),
    "traceback": ((str,), False),
    "attempt": ((int,), False),
    "action": ((str,), False),
    "timestamp": ((int, float), False),
    "delivery_id": ((str,), True),
}


@dataclass(frozen=True, slots=True)
class _Row:
    """One stored row being decoded; each method checks one column of it.

    Attributes:
        owner: What the row belongs to, as the message names it (``job 'x'``).
        table: The row's table.
        key: Which row of the owner's in that table (`` (seq 3)``), if several.
    """

    owner: str
    table: str
    key: str = ""

    def fail(self, column: str, problem: str) -> NoReturn:
        raise StoreError(
            f"The store's row of {self.owner} is damaged: column {self.table}.{column}"
            f"{self.key} {problem}; repair or delete the row."
        )

    def text(self, column: str, value: Any) -> str:
        if not isinstance(value, str):
            self.fail(column, f"must be text, not {_kind(value)}")
        return value

    def optional_text(self, column: str, value: Any) -> str | None:
        return None if value is None else self.text(column, value)

    def integer(self, column: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(column, f"must be an integer, not {_kind(value)}")
        return value

    def number(self, column: str, value: Any) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.fail(column, f"must be a number, not {_kind(value)}")
        return float(value)

    def status(self, column: str, value: Any) -> str:
        if self.text(column, value) not in _STATUSES:
            self.fail(column, f"must be one of {', '.join(_STATUSES)}, not {value!r}")
        return str(value)

    def time(self, column: str, value: Any) -> str:
        try:
            datetime.fromisoformat(self.text(column, value))
        except ValueError:
            self.fail(column, f"must be an ISO 8601 time, not {value!r}")
        return str(value)

    def json(self, column: str, value: Any, kind: type | None = None) -> Any:
        """The column's JSON text, parsed; of type ``kind`` if one is given."""
        try:
            parsed = json.loads(self.text(column, value))
        except ValueError as exc:  # JSONDecodeError, and numbers too big to parse.
            self.fail(column, f"is not JSON ({exc})")
        if kind is not None and not isinstance(parsed, kind):
            self.fail(column, f"must be {_JSON_KINDS[kind]}, not {_kind(parsed)}")
        return parsed

    def value(self, column: str, value: Any) -> dict[str, Any]:
        """A message column: a JSON object in routilux's value codec, decoded."""
        encoded = self.json(column, value, dict)
        try:
            decoded: dict[str, Any] = decode_value(encoded, column)
        except SerializationError as exc:
            self.fail(column, f"holds a value that cannot be decoded ({exc})")
        return decoded

    def error_record(self, column: str, value: Any) -> dict[str, Any]:
        """A column holding an :class:`ErrorRecord` as a JSON object; checked, not converted."""
        record: dict[str, Any] = self.json(column, value, dict)
        required = [name for name, (_, optional) in _RECORD_FIELDS.items() if not optional]
        if not set(required) <= record.keys() <= _RECORD_FIELDS.keys():
            self.fail(
                column,
                f"must be an error record with the fields {', '.join(required)} "
                f"(and optionally delivery_id), not the fields {', '.join(record) or 'none'}",
            )
        for name, (kinds, optional) in _RECORD_FIELDS.items():
            field = record.get(name)
            if not (isinstance(field, kinds) and not isinstance(field, bool)) and not (
                optional and field is None
            ):
                self.fail(column, f"must have {_names(kinds)} as {name!r}, not {field!r}")
        return record


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _names(kinds: tuple[type, ...]) -> str:
    if float in kinds:
        return "a number"
    return "an integer" if int in kinds else "text"


def _routine_states(row: _Row, text: Any) -> dict[str, Any]:
    states: dict[str, Any] = row.json("routine_states", text, dict)
    for routine_id, state in states.items():
        if not isinstance(state, dict):
            row.fail("routine_states", f"must map {routine_id!r} to a JSON object")
        for counter in _COUNTERS:
            count = state.get(counter, 0)
            if not isinstance(count, int) or isinstance(count, bool):
                row.fail(
                    "routine_states",
                    f"must give routine {routine_id!r} an integer {counter!r}, not {count!r}",
                )
    return states


def _history_entry(row: _Row, text: Any) -> dict[str, Any]:
    event = row.json("event", text, list)
    if len(event) != 4:
        row.fail("event", "must be [routine_id, event_name, data, timestamp]")
    routine_id, event_name, data, timestamp = event
    return {
        "routine_id": routine_id,
        "event_name": event_name,
        "data": data,
        "timestamp": timestamp,
    }


def _pending(job: str, row: Sequence[Any]) -> StoredDelivery:
    seq, routine_id, slot, data, attempt, not_before = row
    where = _Row(job, "pending_deliveries", f" (seq {seq!r})")
    return StoredDelivery(
        where.integer("seq", seq),
        where.text("routine_id", routine_id),
        where.text("slot", slot),
        where.value("data", data),
        where.integer("attempt", attempt),
        where.number("not_before", not_before),
    )


def _children(owner: str, table: str, rows: Iterable[Sequence[Any]]) -> list[tuple[_Row, Any]]:
    """Each row of an append-only table (one column), in order, with its reader."""
    return [(_Row(owner, table, f" (entry {i})"), row[0]) for i, row in enumerate(rows)]


def stored_job(
    job: Sequence[Any],
    pending: Iterable[Sequence[Any]],
    history: Iterable[Sequence[Any]],
    errors: Iterable[Sequence[Any]],
    log: Iterable[Sequence[Any]],
) -> StoredJob:
    """Rebuild a job from its row (``select_job``'s columns) and its child rows.

    Raises:
        StoreError: A row is damaged: a column is not of its type, or not JSON
            of the expected shape.
    """
    (job_id, flow_id, status, created_at, updated_at, current_routine_id, error) = job[:7]
    deliveries, next_seq, owner, flow_document, shared_data, routine_states, extra = job[7:]
    owner_name = f"job {job_id!r}"
    row = _Row(owner_name, "jobs")
    document: dict[str, Any] = row.json("extra", extra, dict)
    document.update(
        job_id=row.text("job_id", job_id),
        flow_id=row.text("flow_id", flow_id),
        status=row.status("status", status),
        created_at=row.time("created_at", created_at),
        updated_at=row.time("updated_at", updated_at),
        current_routine_id=row.optional_text("current_routine_id", current_routine_id),
        error=row.optional_text("error", error),
        routine_states=_routine_states(row, routine_states),
        shared_data=row.json("shared_data", shared_data, dict),
        execution_history=[
            _history_entry(r, text) for r, text in _children(owner_name, "history", history)
        ],
        shared_log=[r.json("entry", text) for r, text in _children(owner_name, "shared_log", log)],
        errors=[
            r.error_record("record", text) for r, text in _children(owner_name, "errors", errors)
        ],
    )
    return StoredJob(
        document=document,
        pending=[_pending(owner_name, p) for p in pending],
        deliveries=row.integer("deliveries", deliveries),
        next_seq=row.integer("next_seq", next_seq),
        flow_document=(
            None if flow_document is None else row.json("flow_document", flow_document, dict)
        ),
        owner=row.optional_text("owner", owner),
    )


def summary(line: Sequence[Any]) -> JobSummary:
    """A job listing line from ``list_jobs``'s columns.

    Raises:
        StoreError: The job's row is damaged.
    """
    job_id, flow_id, status, created_at, updated_at, error, pending, letters = line
    row = _Row(f"job {job_id!r}", "jobs")
    return JobSummary(
        row.text("job_id", job_id),
        row.text("flow_id", flow_id),
        row.status("status", status),
        row.time("created_at", created_at),
        row.time("updated_at", updated_at),
        row.optional_text("error", error),
        pending,
        letters,
    )


def dead_letter(line: Sequence[Any]) -> DeadLetter:
    """A dead letter from its row, in ``LETTER_COLUMNS`` order.

    Raises:
        StoreError: The row is damaged.
    """
    letter_id, job_id, flow_id, routine_id, slot, data, attempt, error, created_at, replayed = line
    row = _Row(f"dead letter {letter_id!r}", "dead_letters")
    return DeadLetter(
        letter_id=row.text("letter_id", letter_id),
        job_id=row.text("job_id", job_id),
        flow_id=row.text("flow_id", flow_id),
        routine_id=row.text("routine_id", routine_id),
        slot=row.text("slot", slot),
        data=row.value("data", data),
        attempt=row.integer("attempt", attempt),
        error=_error_record(row, error),
        created_at=row.number("created_at", created_at),
        replayed_by=row.optional_text("replayed_by", replayed),
    )


def _error_record(row: _Row, text: Any) -> ErrorRecord:
    return ErrorRecord(**row.error_record("error", text))
