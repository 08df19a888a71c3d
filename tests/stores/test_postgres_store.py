"""PostgresStore beyond the conformance suite: schemas, versions, processes, the driver."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import store_worker
from store_helpers import checkpoint, delivery, new_job

from routilux import DefinitionError, JobState, RoutineStats, StoreError
from routilux.stores import PostgresStore

PgSchema = tuple[str, str]


def connect(dsn: str) -> Any:
    """An autocommit connection.

    psycopg is imported here, not by the module: without it, the server
    fixture fails with a message that says what to install (or skips).
    """
    import psycopg

    return psycopg.connect(dsn, autocommit=True)


def tables_of(dsn: str, schema: str) -> list[str]:
    with connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name",
            (schema,),
        ).fetchall()
    return [row[0] for row in rows]


def test_the_tables_are_created_in_their_schema_on_first_use(pg_schema: PgSchema) -> None:
    dsn, schema = pg_schema
    store = PostgresStore(dsn, schema=schema)
    created_before_use = tables_of(dsn, schema)

    store.list_jobs()
    store.close()

    assert created_before_use == []
    assert tables_of(dsn, schema) == [
        "dead_letters",
        "errors",
        "history",
        "job_logs",
        "job_value_items",
        "job_values",
        "jobs",
        "outputs",
        "pending_deliveries",
        "schema_version",
        "shared_log",
    ]


def test_stores_of_several_connections_create_the_schema_once(pg_schema: PgSchema) -> None:
    dsn, schema = pg_schema
    stores = [PostgresStore(dsn, schema=schema) for _ in range(6)]
    start = threading.Barrier(len(stores))
    failures: list[Exception] = []

    def first_use(store: PostgresStore) -> None:
        start.wait()
        try:
            store.list_jobs()
        except Exception as exc:  # A failure must reach the test, not die with the thread.
            failures.append(exc)

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in stores:
        store.close()

    assert failures == []


def test_a_schema_of_another_version_is_refused(pg_schema: PgSchema) -> None:
    dsn, schema = pg_schema
    with PostgresStore(dsn, schema=schema) as store:
        store.list_jobs()
    with connect(dsn) as conn:
        conn.execute(f'UPDATE "{schema}".schema_version SET version = 7')

    with pytest.raises(StoreError, match="schema version 7; this routilux reads versions 1 to 3"):
        PostgresStore(dsn, schema=schema).list_jobs()


def drop_version_3(conn: Any, schema: str) -> None:
    """Take out of a schema what version 3 added: kept log records, delivery contexts."""
    conn.execute(f'DROP TABLE "{schema}".job_logs')
    conn.execute(f'ALTER TABLE "{schema}".jobs DROP COLUMN job_log_count')
    conn.execute(f'ALTER TABLE "{schema}".pending_deliveries DROP COLUMN context')


def test_a_version_2_schema_is_brought_up_to_date_and_keeps_logs_and_contexts(
    pg_schema: PgSchema,
) -> None:
    dsn, schema = pg_schema
    with PostgresStore(dsn, schema=schema) as store:
        job = new_job(store, pending=[delivery(0, hops=2)], owner="old-host:1", lease=30)
    with connect(dsn) as conn:  # What version 2 had: no job_logs, no context.
        drop_version_3(conn, schema)
        conn.execute(f'UPDATE "{schema}".schema_version SET version = 2')

    with PostgresStore(dsn, schema=schema) as migrated:
        stored = migrated.load_job(job.job_id)
        logs_before = migrated.read_job_logs(job.job_id)
        traced = delivery(1, context={"traceparent": "00-ab-cd-01"})
        migrated.checkpoint(
            checkpoint(job, done=[0], added=[traced], job_logs=[{"message": "a"}], claim=1)
        )
        after = migrated.load_job(job.job_id)
        logs_after = migrated.read_job_logs(job.job_id)

    with connect(dsn) as conn:
        version = conn.execute(f'SELECT version FROM "{schema}".schema_version').fetchone()
    assert version == (3,)
    assert [(d.seq, d.hops, d.context) for d in stored.pending] == [(0, 2, None)]
    assert (stored.job_log_count, logs_before) == (0, [])
    assert (stored.owner, stored.claim) == ("old-host:1", 1)
    assert [d.context for d in after.pending] == [{"traceparent": "00-ab-cd-01"}]
    assert after.job_log_count == 1
    assert [(r.position, r.record) for r in logs_after] == [(0, {"message": "a"})]


#: A version 1 job's routine states: what its handler stored ("mine"), and
#: the engine's records: status and counts, named timers, job values (encoded).
V1_STATES = (
    '{"agg": {"mine": 1, "status": "completed", "deliveries": 2, "failures": 0, "skips": 0, '
    '"timers": {"flush": 0}, "values": {"items": [1, {"$t": "tuple", "v": [2, 3]}], "n": 3}}}'
)


def test_a_version_1_schema_is_brought_up_to_date_and_its_jobs_can_be_claimed(
    pg_schema: PgSchema,
) -> None:
    dsn, schema = pg_schema
    with PostgresStore(dsn, schema=schema) as store:
        job = new_job(store, pending=[delivery(0, hops=5)], owner="old-host:1")
    with connect(dsn) as conn:  # What version 1 had: no claim, no lease,
        conn.execute(
            f'ALTER TABLE "{schema}".jobs DROP COLUMN claim, DROP COLUMN lease_until, '
            "DROP COLUMN output_count, DROP COLUMN deferred_events, DROP COLUMN engine_states"
        )
        conn.execute(f'ALTER TABLE "{schema}".pending_deliveries DROP COLUMN hops')
        conn.execute(
            f'DROP TABLE "{schema}".job_value_items, "{schema}".job_values, "{schema}".outputs'
        )
        drop_version_3(conn, schema)
        conn.execute(f'UPDATE "{schema}".jobs SET routine_states = %s', (V1_STATES,))
        conn.execute(f'UPDATE "{schema}".schema_version SET version = 1')

    with PostgresStore(dsn, schema=schema) as migrated:
        stored = migrated.load_job(job.job_id)
        claim = migrated.claim_job(job.job_id, owner="new:2", expected_claim=0, lease=30)

    with connect(dsn) as conn:
        version = conn.execute(f'SELECT version FROM "{schema}".schema_version').fetchone()
        values = conn.execute(f'SELECT COUNT(*) FROM "{schema}".job_values').fetchone()
    assert (version, values) == ((3,), (2,))
    loaded = JobState.deserialize(stored.document)
    assert loaded.routine_states == {"agg": {"mine": 1}}
    assert loaded.all_routine_stats() == {"agg": RoutineStats(deliveries=2)}
    assert loaded.job_values("agg") == {"items": [1, (2, 3)], "n": 3}
    assert loaded.routine_timers("agg") == {"flush": f"{job.job_id}:0"}
    assert (stored.owner, stored.claim, stored.lease_expires_at) == ("old-host:1", 0, None)
    # Version 1 kept no hop counts: its pending deliveries start again at 0.
    assert [(d.seq, d.hops) for d in stored.pending] == [(0, 0)]
    assert stored.document["deferred_events"] == []  # Version 1 had none.
    assert claim == 1


def test_a_schema_with_other_tables_is_refused(pg_schema: PgSchema) -> None:
    dsn, schema = pg_schema
    with connect(dsn) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".users (name TEXT)')

    with pytest.raises(StoreError, match="not a routilux job store"):
        PostgresStore(dsn, schema=schema).list_jobs()


@pytest.mark.parametrize("schema", ["", "1st", 'a"b', "a.b", "x" * 64])
def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(schema: str) -> None:
    with pytest.raises(DefinitionError, match="plain SQL identifier"):
        PostgresStore("dbname=unused", schema=schema)


@pytest.mark.parametrize(
    ("dsn", "schema", "message"),
    [
        (None, "routilux", r"dsn must be a libpq connection string or URL \(a str\), not None"),
        (b"dbname=x", "routilux", r"dsn must be a libpq connection string"),
        ("dbname=unused", 5, r"schema=5 is not a plain SQL identifier"),
    ],
)
def test_a_dsn_or_schema_that_is_not_text_is_refused(dsn: Any, schema: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        PostgresStore(dsn, schema=schema)


def test_a_damaged_row_raises_a_store_error_naming_job_table_and_column(
    pg_schema: PgSchema,
) -> None:
    dsn, schema = pg_schema
    with PostgresStore(dsn, schema=schema) as store:
        job = new_job(store)
    with connect(dsn) as conn:
        conn.execute(f"UPDATE \"{schema}\".jobs SET extra = '[]', status = 'bogus'")

    with PostgresStore(dsn, schema=schema) as store:
        with pytest.raises(StoreError, match=rf"job '{job.job_id}' is damaged: column jobs\.extra"):
            store.load_job(job.job_id)
        with pytest.raises(StoreError, match=r"column jobs\.status must be one of .*'bogus'"):
            store.list_jobs()


def test_a_damaged_context_or_log_record_raises_a_store_error_naming_job_table_and_column(
    pg_schema: PgSchema,
) -> None:
    dsn, schema = pg_schema
    with PostgresStore(dsn, schema=schema) as store:
        job = new_job(store, pending=[delivery(0, context={"k": "v"})], next_seq=1)
        store.checkpoint(checkpoint(job, job_logs=[{"message": "hi"}]))
    with connect(dsn) as conn:
        conn.execute(f"""UPDATE "{schema}".pending_deliveries SET context = '{{"k": 1}}'""")
        conn.execute(f"""UPDATE "{schema}".job_logs SET record = '"text"'""")

    damaged = rf"job '{job.job_id}' is damaged: column"
    with PostgresStore(dsn, schema=schema) as store:
        with pytest.raises(StoreError, match=rf"{damaged} pending_deliveries\.context \(seq 0\)"):
            store.load_job(job.job_id)
        with pytest.raises(StoreError, match=rf"{damaged} job_logs\.record \(position 0\)"):
            store.read_job_logs(job.job_id)


def test_a_server_that_cannot_be_reached_raises_store_error(tmp_path: Path) -> None:
    store = PostgresStore(f"host={tmp_path} port=1 dbname=none connect_timeout=2")

    with pytest.raises(StoreError, match="PostgresStore"):
        store.list_jobs()


def test_a_broken_connection_is_replaced_on_the_next_call(pg_schema: PgSchema) -> None:
    dsn, schema = pg_schema
    store = PostgresStore(dsn, schema=schema)
    job = new_job(store)
    assert store._conn is not None
    backend = store._conn.info.backend_pid
    with connect(dsn) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    with pytest.raises(StoreError):
        store.load_job(job.job_id)
    assert store.load_job(job.job_id).document["job_id"] == job.job_id
    store.close()


def test_two_processes_checkpointing_at_once_lose_nothing(pg_schema: PgSchema) -> None:
    dsn, schema = pg_schema
    rounds = 100
    store = PostgresStore(dsn, schema=schema)
    own = [new_job(store, pending=[delivery(0)], next_seq=1) for _ in range(2)]
    shared = new_job(store)
    spec = f"postgres:{schema}:{dsn}"
    workers = [store_worker.start(spec, job.job_id, shared.job_id, rounds) for job in own]
    store_worker.go(workers)
    printed = [store_worker.finish(worker) for worker in workers]

    assert [len(p) for p in printed] == [rounds, rounds]
    for job in own:
        stored = store.load_job(job.job_id)
        assert len(stored.document["execution_history"]) == stored.deliveries == rounds
        assert [d.seq for d in stored.pending] == [rounds]
    events = store.load_job(shared.job_id).document["execution_history"]
    for job in own:
        assert [e["data"]["n"] for e in events if e["routine_id"] == job.job_id] == list(
            range(rounds)
        )
    store.close()


def test_without_psycopg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)

    with pytest.raises(ImportError, match=r'psycopg driver: pip install -e "\S+\[postgres\]"'):
        PostgresStore("dbname=x")
