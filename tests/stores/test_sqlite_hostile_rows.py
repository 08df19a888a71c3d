"""Rows damaged into hostile JSON, in a real SQLite file: nested 100,000 deep, or holding an
integer too long to read. Reading them raises the documented "row ... is damaged" StoreError
naming the job (or dead letter), table and column, never a RecursionError or ValueError."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_helpers import checkpoint, dead_letter, delivery, error_record, new_job

from routilux import StoreError
from routilux.stores import SqliteStore

DEEP = "[" * 100_000 + "]" * 100_000
LONG_INTEGER = '{"n": [1, ' + "9" * 5000 + "]}"


def damaged_store(path: Path, update: str, value: str) -> tuple[SqliteStore, str]:
    """A store with one job of every kind of row, after ``update`` set a column to ``value``."""
    with SqliteStore(path) as store:
        job = new_job(store, pending=[delivery(0, context={"k": "v"})], next_seq=1)
        store.checkpoint(
            checkpoint(
                job,
                history=[("a", "b", {"x": 1}, 1.0)],
                errors=[error_record()],
                log_entries=[{"note": 1}],
                outputs=[{"routine_id": "a", "output_type": "t", "data": {}, "timestamp": "-"}],
                job_logs=[{"message": "hi"}],
                dead_letters=[dead_letter(job, 0)],
            )
        )
    with sqlite3.connect(path) as conn:
        conn.execute(update, (value,))
    return SqliteStore(path), job.job_id


JOB_COLUMNS = [
    ("UPDATE jobs SET shared_data = ?", r"jobs\.shared_data"),
    ("UPDATE jobs SET flow_document = ?", r"jobs\.flow_document"),
    ("UPDATE jobs SET routine_states = ?", r"jobs\.routine_states"),
    ("UPDATE jobs SET extra = ?", r"jobs\.extra"),
    ("UPDATE jobs SET deferred_events = ?", r"jobs\.deferred_events"),
    ("UPDATE jobs SET engine_states = ?", r"jobs\.engine_states"),
    ("UPDATE pending_deliveries SET data = ?", r"pending_deliveries\.data \(seq 0\)"),
    ("UPDATE history SET event = ?", r"history\.event \(entry 0\)"),
    ("UPDATE errors SET record = ?", r"errors\.record \(entry 0\)"),
    ("UPDATE shared_log SET entry = ?", r"shared_log\.entry \(entry 0\)"),
    ("UPDATE outputs SET entry = ?", r"outputs\.entry \(entry 0\)"),
    ("UPDATE pending_deliveries SET context = ?", r"pending_deliveries\.context \(seq 0\)"),
]


@pytest.mark.parametrize(("update", "column"), JOB_COLUMNS)
def test_json_nested_too_deeply_in_a_job_row_is_a_damaged_row(
    tmp_path: Path, update: str, column: str
) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", update, DEEP)

    with store, pytest.raises(StoreError) as caught:
        store.load_job(job_id)

    assert str(caught.value) == (
        f"The store's row of job {job_id!r} is damaged: column "
        f"{column.replace(chr(92), '')} holds JSON that cannot be read: it nests deeper than "
        "the JSON parser can follow; repair or delete the row."
    )


@pytest.mark.parametrize(("update", "column"), JOB_COLUMNS[:1] + JOB_COLUMNS[4:5])
def test_an_integer_too_long_in_a_job_row_is_a_damaged_row_naming_its_place(
    tmp_path: Path, update: str, column: str
) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", update, LONG_INTEGER)

    with store, pytest.raises(StoreError) as caught:
        store.load_job(job_id)

    assert str(caught.value).startswith(f"The store's row of job {job_id!r} is damaged: column ")
    assert str(caught.value).endswith(
        "holds JSON that cannot be read: n[1] is an integer of 5000 digits; at most 4300 are "
        "allowed; repair or delete the row."
    )
    assert column.replace("\\", "") in str(caught.value)


@pytest.mark.parametrize("column", ["data", "error"])
def test_json_nested_too_deeply_in_a_dead_letter_row_is_a_damaged_row(
    tmp_path: Path, column: str
) -> None:
    store, job_id = damaged_store(
        tmp_path / "jobs.db", f"UPDATE dead_letters SET {column} = ?", DEEP
    )
    damaged = (
        rf"dead letter '{job_id}:0' is damaged: column dead_letters\.{column} holds JSON that "
        "cannot be read: it nests deeper"
    )

    with store:
        with pytest.raises(StoreError, match=damaged):
            store.list_dead_letters()
        with pytest.raises(StoreError, match=damaged):
            store.get_dead_letter(f"{job_id}:0")


def test_json_nested_too_deeply_in_a_log_record_row_is_a_damaged_row(tmp_path: Path) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", "UPDATE job_logs SET record = ?", DEEP)

    with store, pytest.raises(StoreError) as caught:
        store.read_job_logs(job_id)

    assert str(caught.value) == (
        f"The store's row of job {job_id!r} is damaged: column job_logs.record (position 0) "
        "holds JSON that cannot be read: it nests deeper than the JSON parser can follow; "
        "repair or delete the row."
    )
