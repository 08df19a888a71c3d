"""Bringing the tables of an older schema version up to date, for both SQL stores.

Each step runs in the transaction that opens the store (SQLite) or creates
its schema (PostgreSQL), under the lock that keeps two processes from doing
it at once, so a store is either wholly of the old version or wholly of the
new one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from routilux._serde.values import decode_value, encode_value
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux.stores._sql import Cursor

__all__ = ["move_job_values"]


def move_job_values(cur: Cursor, prefix: str, mark: str) -> int:
    """Move each job's job values out of its ``routine_states`` into ``job_values`` rows.

    Version 1 kept a routine's job values inside the ``routine_states``
    JSON of the job's row, written whole at every checkpoint; version 2
    keeps one row per value (and one per appended item), written as they
    change. A mapping the value codec tagged (one with a ``"$t"`` key) is
    decoded first; one with a key that is not a string stays where it was.

    Returns:
        How many jobs had values moved.
    """
    jobs = cur.execute(f"SELECT job_id, routine_states FROM {prefix}jobs").fetchall()
    insert = (
        f"INSERT INTO {prefix}job_values (job_id, routine_id, name, value) VALUES (?, ?, ?, ?)"
    ).replace("?", mark)
    update = f"UPDATE {prefix}jobs SET routine_states = ? WHERE job_id = ?".replace("?", mark)
    moved = 0
    for job_id, text in jobs:
        states = _loads(text)
        if not isinstance(states, dict):
            continue  # A damaged row: reading the job will say so.
        rows = []
        for routine_id, state in states.items():
            values = _values(state.get("values") if isinstance(state, dict) else None)
            if values is None:
                continue
            del state["values"]
            rows += [(job_id, routine_id, key, text) for key, text in values.items()]
        if rows:
            for row in rows:
                cur.execute(insert, row)
            cur.execute(update, (json.dumps(states), job_id))
            moved += 1
    return moved


def _values(encoded: Any) -> dict[str, str] | None:
    """A routine state's encoded values as JSON texts by key, or ``None`` to leave them."""
    if not isinstance(encoded, dict):
        return None
    if "$t" not in encoded:
        return {key: json.dumps(value) for key, value in encoded.items()}
    try:
        decoded = decode_value(encoded, "values")
    except SerializationError:
        return None
    if not isinstance(decoded, dict) or not all(isinstance(key, str) for key in decoded):
        return None
    return {key: json.dumps(encode_value(value, key)) for key, value in decoded.items()}


def _loads(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
