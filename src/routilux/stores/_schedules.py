"""The schedules of a PostgreSQL store: their table, and the ticks fired, never deleted.

Like the job queue's, these tables are created on first use (adding a
schedule, or a worker's start), idempotently: a store that never has
schedules never has them. A tick is claimed by inserting its
``(schedule_id, tick)`` row, in the transaction that records its job and
enqueues it: of several schedulers firing one tick, exactly one inserts
the row, and the others write nothing.
"""

from __future__ import annotations

import json
from typing import Any

from routilux._model.schedules import Schedule

__all__ = ["SCHEDULE_TABLES", "claim_tick", "schedule_from_row", "schedule_row"]

SCHEDULE_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.schedules (
    schedule_id TEXT COLLATE "C" PRIMARY KEY,
    flow_id TEXT NOT NULL,
    cron TEXT NOT NULL,
    entry TEXT,
    params JSON NOT NULL,
    queue TEXT NOT NULL,
    missed TEXT NOT NULL,
    last_tick DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.schedule_ticks (
    schedule_id TEXT COLLATE "C" NOT NULL,
    tick DOUBLE PRECISION NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (schedule_id, tick)
);
"""

#: The columns of a schedule row, in the order of :func:`schedule_row`.
COLUMNS = "schedule_id, flow_id, cron, entry, params, queue, missed, last_tick"


def schedule_row(schedule: Schedule) -> tuple[Any, ...]:
    """The row of ``schedule``."""
    return (
        schedule.schedule_id,
        schedule.flow_id,
        schedule.cron,
        schedule.entry,
        json.dumps(schedule.params, allow_nan=False),
        schedule.queue,
        schedule.missed,
        float(schedule.last_tick),
    )


def schedule_from_row(row: tuple[Any, ...]) -> Schedule:
    """The schedule of a row read back."""
    sid, flow_id, cron, entry, params, queue, missed, last_tick = row
    loaded = json.loads(params) if isinstance(params, str) else params
    return Schedule(sid, flow_id, cron, entry, loaded, queue, missed, float(last_tick))


def claim_tick(cur: Any, schema: str, schedule_id: str, tick: float, job_id: str) -> bool:
    """Insert the tick's row and move the schedule's last tick.

    Returns ``False`` (writing nothing) if the tick was fired already.
    """
    cur.execute(
        f'INSERT INTO "{schema}".schedule_ticks (schedule_id, tick, job_id) VALUES (%s, %s, %s) '
        "ON CONFLICT DO NOTHING RETURNING tick",
        (schedule_id, tick, job_id),
    )
    if cur.fetchone() is None:
        return False
    cur.execute(
        f'UPDATE "{schema}".schedules SET last_tick = %s WHERE schedule_id = %s AND last_tick < %s',
        (tick, schedule_id, tick),
    )
    return True
