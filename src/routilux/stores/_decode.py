"""Reading rows back: the job stores' rows, decoded and checked column by column.

A row read from a store may have been damaged since it was written (a disk
fault, a hand edit, another program). Every column is checked as it is
decoded, so a damaged row raises :class:`~routilux.StoreError` naming the job
(or dead letter), the table, the column and what was expected, rather than
whatever exception the decoding happened to meet first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn

from routilux._model.durable import (
    DeadLetter,
    JobSummary,
    StoredDelivery,
    StoredJob,
    StoredLogRecord,
)
from routilux._model.ownership import describe_lease
from routilux._model.records import ErrorRecord
from routilux._model.status import JobStatus
from routilux._serde.job_routines_doc import COUNTS
from routilux._serde.json_text import JsonTextError, dotted_path, loads
from routilux._serde.values import decode_value, encode_value
from routilux.exceptions import (
    DeadLetterReplayedError,
    JobOwnedError,
    OwnershipLostError,
    SerializationError,
    StoreError,
)

__all__ = [
    "ClaimRow",
    "claim_row",
    "dead_letter",
    "job_log_records",
    "replayed",
    "stored_job",
    "summary",
]

_STATUSES = tuple(status.value for status in JobStatus)
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
            parsed = loads(self.text(column, value))
        except JsonTextError as exc:  # Nested too deeply, or an integer too long to read.
            place = dotted_path(exc.where) if exc.where else "it"
            self.fail(column, f"holds JSON that cannot be read: {place} {exc.problem[:-1]}")
        except ValueError as exc:  # JSONDecodeError.
            self.fail(column, f"is not JSON ({exc})")
        if kind is not None and not isinstance(parsed, kind):
            self.fail(column, f"must be {_JSON_KINDS[kind]}, not {_kind(parsed)}")
        return parsed

    def decoded(self, column: str, value: Any) -> Any:
        """The column's JSON text, parsed and decoded by routilux's value codec."""
        return self.decoded_json(column, self.json(column, value))

    def decoded_json(self, column: str, parsed: Any) -> Any:
        """JSON already parsed from the column, decoded by routilux's value codec."""
        try:
            return decode_value(parsed, column)
        except SerializationError as exc:
            self.fail(column, f"holds a value that cannot be decoded ({exc})")

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
    return states


def _engine_states(row: _Row, text: Any) -> dict[str, Any]:
    """The ``engine_states`` column: the document's ``routine_stats`` and ``timers`` fields.

    Empty in the row of a job that a store of version 1 wrote: its
    document then has neither field, and the job keeps them in its
    routine states (see ``routilux._serde.job_routines_doc``).
    """
    engine: dict[str, Any] = row.json("engine_states", text, dict)
    if not engine:
        return {}
    fields = {"routine_stats": engine.get("routine_stats"), "timers": engine.get("timers")}
    for field, by_routine in fields.items():
        if not isinstance(by_routine, dict):
            row.fail("engine_states", f"must have an object as {field!r}, not {_kind(by_routine)}")
        for routine_id, entry in by_routine.items():
            if not isinstance(entry, dict):
                row.fail("engine_states", f"must give routine {routine_id!r} an object of {field}")
            names = COUNTS if field == "routine_stats" else entry
            for name in names:
                count = entry.get(name, 0)
                if not isinstance(count, int) or isinstance(count, bool):
                    row.fail(
                        "engine_states",
                        f"must give routine {routine_id!r} an integer {name!r}, not {count!r}",
                    )
    return fields


def _job_values(
    owner: str, values: Iterable[Sequence[Any]], items: Iterable[Sequence[Any]]
) -> dict[str, Any]:
    """The document's ``job_values`` field, from the job values and appended items rows.

    Each routine's values are decoded, gathered and encoded again as one
    mapping, so that a key the value codec tags (``"$t"``) stays a key.
    """
    gathered: dict[str, dict[str, Any]] = {}
    for routine_id, name, value in values:
        where = _Row(owner, "job_values", f" ({routine_id!r}, {name!r})")
        kept = gathered.setdefault(where.text("routine_id", routine_id), {})
        kept[where.text("name", name)] = where.decoded("value", value)
    for routine_id, name, position, item in items:
        where = _Row(owner, "job_value_items", f" ({routine_id!r}, {name!r}, {position!r})")
        kept = gathered.setdefault(where.text("routine_id", routine_id), {})
        listed = kept.setdefault(where.text("name", name), [])
        if not isinstance(listed, list):
            where.fail("item", f"belongs to the job value {name!r}, which is not a list")
        where.integer("position", position)
        listed.append(where.decoded("item", item))
    return {
        routine_id: encode_value(kept, f"job_values[{routine_id!r}]")
        for routine_id, kept in gathered.items()
    }


def _history_entry(row: _Row, text: Any) -> dict[str, Any]:
    event = row.json("event", text, list)
    if len(event) != 4:
        row.fail("event", "must be [routine_id, event_name, data, timestamp]")
    routine_id, event_name, data, timestamp = event
    return {
        "routine_id": routine_id,
        "event_name": event_name,
        "data": data,
        "timestamp": _iso_time(row, timestamp),
    }


def _iso_time(row: _Row, timestamp: Any) -> str:
    """A history row's time (seconds since the epoch) as a job document has it: ISO 8601 UTC."""
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        row.fail("event", f"must end with seconds since the epoch, not {_kind(timestamp)}")
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        row.fail("event", f"must end with seconds since the epoch, not {timestamp!r}")


def _pending(job: str, row: Sequence[Any]) -> StoredDelivery:
    seq, routine_id, slot, data, attempt, not_before, hops, context = row
    where = _Row(job, "pending_deliveries", f" (seq {seq!r})")
    return StoredDelivery(
        where.integer("seq", seq),
        where.text("routine_id", routine_id),
        where.text("slot", slot),
        where.value("data", data),
        where.integer("attempt", attempt),
        where.number("not_before", not_before),
        where.integer("hops", hops),
        None if context is None else _context(where, context),
    )


def _context(row: _Row, text: Any) -> dict[str, str]:
    """A delivery's ``context`` column: a JSON object of text to text."""
    context: dict[str, str] = row.json("context", text, dict)
    for key, value in context.items():
        if not isinstance(value, str):
            row.fail("context", f"must map text to text, not {key!r} to {_kind(value)}")
    return context


def job_log_records(job_id: str, rows: Iterable[Sequence[Any]]) -> list[StoredLogRecord]:
    """A job's kept log records from rows ``(position, record)`` of ``job_logs``.

    Raises:
        StoreError: A row is damaged.
    """
    records = []
    for position, record in rows:
        where = _Row(f"job {job_id!r}", "job_logs", f" (position {position!r})")
        records.append(
            StoredLogRecord(where.integer("position", position), where.json("record", record, dict))
        )
    return records


def _children(owner: str, table: str, rows: Iterable[Sequence[Any]]) -> list[tuple[_Row, Any]]:
    """Each row of an append-only table (one column), in order, with its reader."""
    return [(_Row(owner, table, f" (entry {i})"), row[0]) for i, row in enumerate(rows)]


def stored_job(
    job: Sequence[Any],
    pending: Iterable[Sequence[Any]],
    history: Iterable[Sequence[Any]],
    errors: Iterable[Sequence[Any]],
    log: Iterable[Sequence[Any]],
    values: Iterable[Sequence[Any]] = (),
    items: Iterable[Sequence[Any]] = (),
    outputs: Iterable[Sequence[Any]] = (),
) -> StoredJob:
    """Rebuild a job from its row (``select_job``'s columns) and its child rows.

    The row is ``JOB_COLUMNS``, the count of kept log records, the claim,
    the lease and the store's time.

    ``values`` are rows ``(routine_id, name, value)`` of ``job_values`` and
    ``items`` rows ``(routine_id, name, position, item)`` of
    ``job_value_items``: they become the document's ``job_values``.
    ``outputs`` are rows ``(entry,)`` of ``outputs``, the job's ``output_log``.

    Raises:
        StoreError: A row is damaged: a column is not of its type, or not JSON
            of the expected shape.
    """
    (job_id, flow_id, status, created_at, updated_at, current_routine_id, error) = job[:7]
    deliveries, next_seq, owner, flow_document, shared_data, routine_states, extra = job[7:14]
    deferred_events, engine_states, log_count = job[14:17]
    owner_name = f"job {job_id!r}"
    row = _Row(owner_name, "jobs")
    lease = _lease(row, *job[17:])
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
        job_values=_job_values(owner_name, values, items),
        **_engine_states(row, engine_states),
        shared_data=row.json("shared_data", shared_data, dict),
        execution_history=[
            _history_entry(r, text) for r, text in _children(owner_name, "history", history)
        ],
        shared_log=[r.json("entry", text) for r, text in _children(owner_name, "shared_log", log)],
        output_log=[r.json("entry", text) for r, text in _children(owner_name, "outputs", outputs)],
        deferred_events=row.json("deferred_events", deferred_events, list),
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
        claim=lease.claim,
        lease_expires_at=lease.lease_until,
        lease_remaining=lease.remaining,
        job_log_count=row.integer("job_log_count", log_count),
    )


@dataclass(frozen=True, slots=True)
class ClaimRow:
    """A job's ownership columns, read with the store's time.

    Attributes:
        job_id: The job.
        owner: Its owner (``host:pid``), if recorded.
        claim: Its claim (fencing token).
        lease_until: When the owner's lease expires (store time), if it has one.
        remaining: Seconds the lease had left when read (negative once expired).
    """

    job_id: str
    owner: str | None
    claim: int
    lease_until: float | None
    remaining: float | None

    def lost(self, claim: int | None) -> StoreError:
        """The error of a write carrying ``claim`` that the store refused."""
        return OwnershipLostError(
            f"Job {self.job_id} is no longer owned here: its store refused a write of claim "
            f"{claim}, because {self.owner or 'another process'} has claimed the job since "
            f"(claim {self.claim}); this run writes nothing more and runs no further handler.",
            job_id=self.job_id,
            claim=-1 if claim is None else claim,
            owner=self.owner,
        )

    def taken(self) -> JobOwnedError:
        """The error of a claim that another one came before."""
        return JobOwnedError(
            f"Job {self.job_id} was claimed by {self.owner or 'another process'} at the same "
            f"time (claim {self.claim}); {describe_lease(self.remaining, self.lease_until)}.",
            job_id=self.job_id,
            owner=self.owner,
            lease_expires_at=self.lease_until,
        )


def replayed(letter: DeadLetter, expected: str | None) -> DeadLetterReplayedError:
    """The error of a replay claim that found the letter replayed by another job."""
    was = "not replayed" if expected is None else f"replayed by job {expected}"
    return DeadLetterReplayedError(
        f"Dead letter {letter.letter_id} was replayed by job {letter.replayed_by}, not "
        f"{was} as expected; replay_dead_letter(..., again=True) (or 'routilux dead-letters "
        "replay --again') delivers it once more.",
        letter_id=letter.letter_id,
        replayed_by=letter.replayed_by,
    )


def claim_row(job_id: str, line: Sequence[Any]) -> ClaimRow:
    """The ownership of ``job_id`` from ``select_claim``'s columns.

    Raises:
        StoreError: The row is damaged.
    """
    owner, claim, lease_until, now = line
    row = _Row(f"job {job_id!r}", "jobs")
    lease = _lease(row, claim, lease_until, now)
    return ClaimRow(
        job_id, row.optional_text("owner", owner), lease.claim, lease.lease_until, lease.remaining
    )


@dataclass(frozen=True, slots=True)
class _Lease:
    claim: int
    lease_until: float | None
    remaining: float | None


def _lease(row: _Row, claim: Any = 0, lease_until: Any = None, now: Any = None) -> _Lease:
    """The claim and lease columns, and the lease's remaining time as of ``now``."""
    until = None if lease_until is None else row.number("lease_until", lease_until)
    remaining = None if until is None or now is None else until - float(now)
    return _Lease(row.integer("claim", claim), until, remaining)


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
