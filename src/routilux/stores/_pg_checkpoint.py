"""PostgresStore's checkpoint: everything one delivery changed, in one SQL statement.

One statement is one round trip, and atomic without a transaction block
(which costs two more). It is a chain of data-modifying ``WITH`` parts, each
joined to the updated job row, so nothing is written when the job does not
exist. Only the parts a checkpoint needs are included: a typical one (a
delivery done, one added, one event emitted) sends eight arrays, not twenty.
The parts of one statement see one snapshot, so pending rows that ``added``
replaces are left out of the delete rather than deleted and inserted again.
"""

from __future__ import annotations

from typing import Any

from routilux._model.durable import Checkpoint
from routilux.stores import _rows

__all__ = ["CheckpointStatements"]

_JOB = """job AS (
    UPDATE {s}.jobs SET status = %(status)s, updated_at = %(updated_at)s,
        updated_us = %(updated_us)s, current_routine_id = %(current_routine_id)s,
        error = %(error)s, deliveries = %(deliveries)s, next_seq = %(next_seq)s,
        shared_data = COALESCE(%(shared_data)s::json, shared_data),
        routine_states = COALESCE(%(routine_states)s::json, routine_states),
        deferred_events = COALESCE(%(deferred_events)s::json, deferred_events),
        engine_states = COALESCE(%(engine_states)s::json, engine_states),
        history_count = history_count + %(history_n)s,
        error_count = error_count + %(errors_n)s, log_count = log_count + %(log_n)s,
        output_count = output_count + %(outputs_n)s,
        job_log_count = job_log_count + %(job_logs_n)s
    WHERE job_id = %(job_id)s AND claim = COALESCE(%(claim)s::bigint, claim)
    RETURNING job_id, history_count, error_count, log_count, output_count, job_log_count
)"""

_DONE = """done AS (
    DELETE FROM {s}.pending_deliveries AS p USING job
    WHERE p.job_id = job.job_id AND (%(drop)s OR p.seq = ANY(%(done)s::bigint[]))
        AND NOT p.seq = ANY(%(a_seq)s::bigint[])
)"""

_ADDED = """added AS (
    INSERT INTO {s}.pending_deliveries
    SELECT job.job_id, a.seq, a.routine_id, a.slot, a.data::json, a.attempt, a.not_before,
        a.hops, a.context::json
    FROM job, unnest(%(a_seq)s::bigint[], %(a_routine)s::text[], %(a_slot)s::text[],
        %(a_data)s::text[], %(a_attempt)s::int[], %(a_not_before)s::float8[],
        %(a_hops)s::bigint[], %(a_context)s::text[])
        AS a(seq, routine_id, slot, data, attempt, not_before, hops, context)
    ON CONFLICT (job_id, seq) DO UPDATE SET routine_id = excluded.routine_id,
        slot = excluded.slot, data = excluded.data, attempt = excluded.attempt,
        not_before = excluded.not_before, hops = excluded.hops, context = excluded.context
)"""

_APPENDED = """{table} AS (
    INSERT INTO {s}.{table}
    SELECT job.job_id, job.{count} - %({name}_n)s + t.n - 1, t.text::json
    FROM job, unnest(%({name})s::text[]) WITH ORDINALITY AS t(text, n)
)"""

_LETTERS = """letters AS (
    INSERT INTO {s}.dead_letters
    SELECT d.letter_id, d.job_id, d.flow_id, d.routine_id, d.slot, d.data::json, d.attempt,
        d.error::json, d.created_at, d.replayed_by
    FROM job, unnest(%(d_id)s::text[], %(d_job)s::text[], %(d_flow)s::text[],
        %(d_routine)s::text[], %(d_slot)s::text[], %(d_data)s::text[], %(d_attempt)s::int[],
        %(d_error)s::text[], %(d_created)s::float8[], %(d_replayed)s::text[])
        AS d(letter_id, job_id, flow_id, routine_id, slot, data, attempt, error, created_at,
            replayed_by)
    ON CONFLICT (letter_id) DO UPDATE SET job_id = excluded.job_id,
        flow_id = excluded.flow_id, routine_id = excluded.routine_id, slot = excluded.slot,
        data = excluded.data, attempt = excluded.attempt, error = excluded.error,
        created_at = excluded.created_at, replayed_by = excluded.replayed_by
)"""

_JOB_PARAMS = (
    "status",
    "updated_at",
    "updated_us",
    "current_routine_id",
    "error",
    "deliveries",
    "next_seq",
    "shared_data",
    "routine_states",
    "deferred_events",
    "engine_states",
    "history_n",
    "errors_n",
    "log_n",
    "outputs_n",
    "job_logs_n",
    "job_id",
    "claim",
)
_ADDED_PARAMS = (
    *("a_seq", "a_routine", "a_slot", "a_data", "a_attempt", "a_not_before", "a_hops"),
    "a_context",
)
_LETTER_PARAMS = (
    "d_id",
    "d_job",
    "d_flow",
    "d_routine",
    "d_slot",
    "d_data",
    "d_attempt",
    "d_error",
    "d_created",
    "d_replayed",
)


class CheckpointStatements:
    """Builds, and remembers by shape, the checkpoint statements of one schema.

    Args:
        schema: The quoted schema name.
    """

    def __init__(self, schema: str) -> None:
        self._schema = schema
        self._statements: dict[tuple[bool, ...], str] = {}

    def statement(self, checkpoint: Checkpoint) -> tuple[str, dict[str, Any]]:
        """The statement for ``checkpoint`` and its parameters; it returns one row, ``(found,)``.

        Raises:
            SerializationError: A value cannot be stored.
        """
        rows = _rows.checkpoint_rows(checkpoint)
        removes = checkpoint.drop_pending or bool(rows.done)
        shape = (removes, *map(bool, (rows.added, rows.history, rows.errors, rows.log)))
        shape += (bool(rows.outputs), bool(rows.job_logs), bool(rows.letters))
        text = self._statements.get(shape)
        if text is None:
            text = self._statements[shape] = self._build(shape)
        params: dict[str, Any] = dict(zip(_JOB_PARAMS, rows.job, strict=True))
        if removes:
            params.update(drop=checkpoint.drop_pending, done=[seq for _, seq in rows.done])
        params.update(_columns(_ADDED_PARAMS, [row[1:] for row in rows.added]))
        params.update(history=rows.history, errors=rows.errors, log=rows.log)
        params.update(outputs=rows.outputs, job_logs=rows.job_logs)
        if rows.letters:
            params.update(_columns(_LETTER_PARAMS, rows.letters))
        return text, params

    def _build(self, shape: tuple[bool, ...]) -> str:
        removes, added, history, errors, log, outputs, job_logs, letters = shape
        parts = [_JOB]
        if removes:
            parts.append(_DONE)
        if added:
            parts.append(_ADDED)
        for wanted, table, count, name in (
            (history, "history", "history_count", "history"),
            (errors, "errors", "error_count", "errors"),
            (log, "shared_log", "log_count", "log"),
            (outputs, "outputs", "output_count", "outputs"),
            (job_logs, "job_logs", "job_log_count", "job_logs"),
        ):
            if wanted:
                parts.append(_APPENDED.format(table=table, count=count, name=name, s="{s}"))
        if letters:
            parts.append(_LETTERS)
        text = "WITH " + ",\n".join(parts) + "\nSELECT count(*) FROM job"
        return text.format(s=self._schema)


def _columns(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    if not rows:
        return {name: [] for name in names}
    columns = zip(*rows, strict=True)
    return {name: list(column) for name, column in zip(names, columns, strict=True)}
