"""SqliteStore beyond the conformance suite: files, versions, options, processes."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import store_worker
from store_helpers import checkpoint, dead_letter, delivery, error_record, new_job

from routilux import DefinitionError, JobState, RoutineStats, StoreError
from routilux.stores import SqliteStore


def test_the_file_and_its_directory_are_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "jobs.db"

    SqliteStore(path).close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_reopened_file_has_everything(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    job = new_job(store, pending=[delivery(0)], owner="h:1")
    letter = dead_letter(job, 0)
    store.checkpoint(checkpoint(job, done=[0], history=[("a", "b", {"x": (1,)}, 1.0)]))
    store.checkpoint(checkpoint(job, dead_letters=[letter], shared_data={"s": {1}}))
    before = store.load_job(job.job_id)
    store.close()

    reopened = SqliteStore(tmp_path / "jobs.db")

    assert reopened.load_job(job.job_id) == before
    assert reopened.list_dead_letters() == [letter]
    assert [s.job_id for s in reopened.list_jobs()] == [job.job_id]
    reopened.close()


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")

    with pytest.raises(StoreError, match="schema version 99; this routilux reads versions 1 to 3"):
        SqliteStore(path)


#: A version 1 job's routine states: what its handler stored ("mine"), and
#: the engine's records: status and counts, named timers, job values (encoded).
V1_STATES = (
    '{"agg": {"mine": 1, "status": "completed", "deliveries": 2, "failures": 0, "skips": 0, '
    '"timers": {"flush": 0}, "values": {"items": [1, {"$t": "tuple", "v": [2, 3]}], "n": 3}}}'
)


def drop_version_3(conn: sqlite3.Connection) -> None:
    """Take out of a file what version 3 added: kept log records, delivery contexts."""
    conn.execute("DROP TABLE job_logs")
    conn.execute("ALTER TABLE jobs DROP COLUMN job_log_count")
    conn.execute("ALTER TABLE pending_deliveries DROP COLUMN context")


def test_a_version_2_file_is_brought_up_to_date_and_keeps_logs_and_contexts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    job = new_job(store, pending=[delivery(0, hops=2)], owner="old-host:1", lease=30)
    store.close()
    with sqlite3.connect(path) as conn:  # What version 2 had: no job_logs, no context.
        drop_version_3(conn)
        conn.execute("UPDATE schema_version SET version = 2")

    with SqliteStore(path) as migrated:
        stored = migrated.load_job(job.job_id)
        logs_before = migrated.read_job_logs(job.job_id)
        traced = delivery(1, context={"traceparent": "00-ab-cd-01"})
        migrated.checkpoint(
            checkpoint(job, done=[0], added=[traced], job_logs=[{"message": "a"}], claim=1)
        )
        after = migrated.load_job(job.job_id)
        logs_after = migrated.read_job_logs(job.job_id)

    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (3,)
    assert [(d.seq, d.hops, d.context) for d in stored.pending] == [(0, 2, None)]
    assert (stored.job_log_count, logs_before) == (0, [])
    assert (stored.owner, stored.claim) == ("old-host:1", 1)
    assert [d.context for d in after.pending] == [{"traceparent": "00-ab-cd-01"}]
    assert after.job_log_count == 1
    assert [(r.position, r.record) for r in logs_after] == [(0, {"message": "a"})]


def test_a_version_1_file_is_brought_up_to_date_and_its_jobs_can_be_claimed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    job = new_job(store, pending=[delivery(0, hops=5)], owner="old-host:1")
    store.close()
    with sqlite3.connect(path) as conn:  # What version 1 had: no claim, no lease,
        conn.execute("ALTER TABLE jobs DROP COLUMN claim")
        conn.execute("ALTER TABLE jobs DROP COLUMN lease_until")
        conn.execute("ALTER TABLE jobs DROP COLUMN output_count")
        conn.execute("ALTER TABLE jobs DROP COLUMN deferred_events")
        conn.execute("ALTER TABLE jobs DROP COLUMN engine_states")  # Counts in routine_states,
        conn.execute("ALTER TABLE pending_deliveries DROP COLUMN hops")  # No outputs,
        conn.execute("DROP TABLE outputs")
        conn.execute("DROP TABLE job_value_items")  # job values in routine_states.
        conn.execute("DROP TABLE job_values")
        drop_version_3(conn)
        conn.execute("UPDATE jobs SET routine_states = ?", (V1_STATES,))
        conn.execute("UPDATE schema_version SET version = 1")

    migrated = SqliteStore(path)
    stored = migrated.load_job(job.job_id)
    claim = migrated.claim_job(job.job_id, owner="new:2", expected_claim=0, lease=30)
    migrated.close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (3,)
        assert conn.execute("SELECT COUNT(*) FROM job_values").fetchone() == (2,)
        assert conn.execute("SELECT engine_states FROM jobs").fetchone() == ("{}",)
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


def test_a_version_1_file_with_values_the_codec_tagged_moves_them_too(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    job = new_job(store)
    store.close()
    tagged = '{"$t": "dict", "v": [["$t", "x"], ["n", {"$t": "tuple", "v": [1, 2]}]]}'
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE jobs DROP COLUMN claim")
        conn.execute("ALTER TABLE jobs DROP COLUMN lease_until")
        conn.execute("ALTER TABLE jobs DROP COLUMN output_count")
        conn.execute("ALTER TABLE jobs DROP COLUMN deferred_events")
        conn.execute("ALTER TABLE jobs DROP COLUMN engine_states")
        conn.execute("ALTER TABLE pending_deliveries DROP COLUMN hops")
        conn.execute("DROP TABLE outputs")
        conn.execute("DROP TABLE job_value_items")
        conn.execute("DROP TABLE job_values")
        drop_version_3(conn)
        conn.execute("UPDATE jobs SET routine_states = ?", (f'{{"agg": {{"values": {tagged}}}}}',))
        conn.execute("UPDATE schema_version SET version = 1")

    with SqliteStore(path) as migrated:
        document = migrated.load_job(job.job_id).document

    migrated_job = JobState.deserialize(document)
    assert migrated_job.job_values("agg") == {"$t": "x", "n": (1, 2)}
    assert migrated_job.routine_states == {}


def test_another_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")

    with pytest.raises(StoreError, match="not a routilux job store"):
        SqliteStore(path)

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("users",)]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages you are looking for" * 100)

    with pytest.raises(StoreError, match=r"notes\.txt failed: file is not a database"):
        SqliteStore(path)


@pytest.mark.parametrize("value", ["OFF", "sometimes", ""])
def test_an_unknown_synchronous_setting_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(DefinitionError, match=r"use 'NORMAL' .* or 'FULL'"):
        SqliteStore(tmp_path / "jobs.db", synchronous=value)


def test_the_synchronous_setting_is_applied(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db", synchronous="full")
    try:
        assert store.synchronous == "FULL"
        assert store._conn is not None
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()


def test_urls_name_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SqliteStore.from_url("sqlite:///rel/jobs.db?synchronous=FULL&timeout=2.5")
    absolute = SqliteStore.from_url(f"sqlite:///{tmp_path}/abs.db", synchronous="NORMAL")
    relative.close()
    absolute.close()

    assert (relative.path, relative.synchronous) == (Path("rel/jobs.db"), "FULL")
    assert (absolute.path, absolute.synchronous) == (tmp_path / "abs.db", "NORMAL")
    assert (tmp_path / "rel" / "jobs.db").exists()


@pytest.mark.parametrize(
    "url", ["postgresql://x/y", "sqlite://host/jobs.db", "sqlite:///jobs.db?mode=ro"]
)
def test_urls_that_are_not_sqlite_store_urls_are_refused(url: str) -> None:
    with pytest.raises(DefinitionError):
        SqliteStore.from_url(url)


@pytest.mark.parametrize("url", ["sqlite:/jobs.db", "sqlite://jobs.db", "SQLITE:/jobs.db"])
def test_urls_with_too_few_slashes_are_refused_alike_and_create_no_file(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DefinitionError) as raised:
        SqliteStore.from_url(url)
    assert str(raised.value) == (
        f"{url!r} is not a SQLite URL; write sqlite:///relative/path.db or "
        "sqlite:////absolute/path.db."
    )
    assert list(tmp_path.iterdir()) == []


def test_a_write_waits_for_another_connections_write_then_gives_up(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db", timeout=0.2)
    job = new_job(store)
    blocker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked"):
            store.checkpoint(checkpoint(job))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.checkpoint(checkpoint(job, deliveries=5))
    assert store.load_job(job.job_id).deliveries == 5
    store.close()


def test_deleting_a_job_deletes_its_rows_in_every_table(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    job = new_job(store, pending=[delivery(0)])
    store.checkpoint(
        checkpoint(
            job,
            history=[("a", "b", {}, 1.0)],
            log_entries=[{"x": 1}],
            outputs=[{"routine_id": "a", "output_type": "t", "data": {}, "timestamp": "now"}],
            errors=[],
            job_logs=[{"message": "hello"}],
        )
    )
    store.delete_job(job.job_id)
    store.close()

    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        tables = ["jobs", "pending_deliveries", "history", "errors", "shared_log", "dead_letters"]
        tables += ["outputs", "job_values", "job_value_items", "job_logs"]
        counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]
    assert counts == [0] * len(tables)


@pytest.mark.slow  # A race between real processes.
def test_two_processes_checkpointing_at_once_lose_nothing(tmp_path: Path) -> None:
    path, rounds = tmp_path / "jobs.db", 150
    store = SqliteStore(path)
    own = [new_job(store, pending=[delivery(0)], next_seq=1) for _ in range(2)]
    shared = new_job(store)
    workers = [
        store_worker.start(f"sqlite:{path}", job.job_id, shared.job_id, rounds) for job in own
    ]
    store_worker.go(workers)
    printed = [store_worker.finish(worker) for worker in workers]

    assert [len(p) for p in printed] == [rounds, rounds]
    for job in own:
        stored = store.load_job(job.job_id)
        assert len(stored.document["execution_history"]) == stored.deliveries == rounds
        assert [d.seq for d in stored.pending] == [rounds]
    events = store.load_job(shared.job_id).document["execution_history"]
    for job in own:
        mine = [e["data"]["n"] for e in events if e["routine_id"] == job.job_id]
        assert mine == list(range(rounds))
    store.close()


OPEN_AND_CREATE = """
import sys
from routilux import JobState
from routilux.stores import SqliteStore
print("ready", flush=True)
sys.stdin.readline()  # Returns when the test says go.
with SqliteStore(sys.argv[1]) as store:
    store.create_job(JobState("f").serialize(), pending=[], next_seq=0)
"""


@pytest.mark.slow  # A race between real processes.
def test_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    command = [sys.executable, "-c", OPEN_AND_CREATE, str(path)]
    workers = [
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for worker in workers:  # All started, all waiting.
        assert worker.stdout is not None
        assert worker.stdout.readline() == "ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    errors = [worker.communicate(timeout=60)[1] for worker in workers]

    assert [w.returncode for w in workers] == [0] * 6, errors
    with SqliteStore(path) as store:
        assert len(store.list_jobs()) == 6


@pytest.mark.slow  # A crash test: a writer killed mid-run.
def test_a_killed_process_leaves_every_committed_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    job = new_job(store, pending=[delivery(0)], next_seq=1)
    worker = store_worker.start(f"sqlite:{path}", job.job_id, "-", 0)
    store_worker.go([worker])
    assert worker.stdout is not None
    committed = -1
    try:
        while committed < 200:
            line = worker.stdout.readline()
            assert line, "The worker died before its 200th checkpoint."
            committed = int(line)
    finally:
        worker.send_signal(signal.SIGKILL)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL, err

    with SqliteStore(path) as reopened:
        stored = reopened.load_job(job.job_id)

    # Each round is one transaction: a killed process leaves whole rounds only.
    assert stored.deliveries > committed
    assert len(stored.document["execution_history"]) == stored.deliveries
    assert [d.seq for d in stored.pending] == [stored.deliveries]
    store.close()


def test_threads_reading_while_others_write_see_whole_checkpoints(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "jobs.db")
    job = new_job(store)
    torn: list[int] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            stored = store.load_job(job.job_id)
            if len(stored.document["execution_history"]) != stored.deliveries:
                torn.append(stored.deliveries)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for i in range(200):
        store.checkpoint(checkpoint(job, deliveries=i + 1, history=[("a", "b", {}, 1.0)]))
    stop.set()
    for reader in readers:
        reader.join(30)

    assert torn == []
    store.close()


def damaged_store(path: Path, update: str) -> tuple[SqliteStore, str]:
    """A store with one job of every kind of row, after ``update`` ran on its file."""
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
        conn.execute(update)
    return SqliteStore(path), job.job_id


JOB_DAMAGE = [
    ("UPDATE jobs SET shared_data = '{oops'", r"jobs\.shared_data is not JSON"),
    ("UPDATE jobs SET shared_data = '[]'", r"jobs\.shared_data must be a JSON object, not list"),
    ("UPDATE jobs SET extra = '[]'", r"jobs\.extra must be a JSON object, not list"),
    ("UPDATE jobs SET routine_states = '{\"r\": 5}'", r"jobs\.routine_states must map 'r'"),
    (
        'UPDATE jobs SET engine_states = \'{"routine_stats": {"r": {"deliveries": "x"}}}\'',
        r"jobs\.engine_states must give routine 'r' an integer 'deliveries', not 'x'",
    ),
    (
        'UPDATE jobs SET engine_states = \'{"routine_stats": {}, "timers": {"r": {"t": "x"}}}\'',
        r"jobs\.engine_states must give routine 'r' an integer 't', not 'x'",
    ),
    ("UPDATE jobs SET engine_states = '[]'", r"jobs\.engine_states must be a JSON object"),
    (
        'UPDATE jobs SET engine_states = \'{"routine_stats": {"r": 1}, "timers": {}}\'',
        r"jobs\.engine_states must give routine 'r' an object of routine_stats",
    ),
    (
        "UPDATE jobs SET status = 'bogus'",
        r"jobs\.status must be one of pending, running, .*'bogus'",
    ),
    ("UPDATE jobs SET created_at = 'yesterday'", r"jobs\.created_at must be an ISO 8601 time"),
    ("UPDATE jobs SET deliveries = 'many'", r"jobs\.deliveries must be an integer, not str"),
    ("UPDATE jobs SET flow_document = '7'", r"jobs\.flow_document must be a JSON object, not int"),
    ("UPDATE pending_deliveries SET data = 'x'", r"pending_deliveries\.data \(seq 0\) is not JSON"),
    ("UPDATE history SET event = '[1, 2]'", r"history\.event \(entry 0\) must be \[routine_id"),
    (
        """UPDATE history SET event = '["a", "b", {}, "noon"]'""",
        r"history\.event \(entry 0\) must end with seconds since the epoch, not str",
    ),
    (
        """UPDATE history SET event = '["a", "b", {}, 1e300]'""",
        r"history\.event \(entry 0\) must end with seconds since the epoch, not 1e\+300",
    ),
    ("UPDATE outputs SET entry = '{'", r"outputs\.entry \(entry 0\) is not JSON"),
    ("UPDATE errors SET record = '[1]'", r"errors\.record \(entry 0\) must be a JSON object"),
    ("UPDATE errors SET record = 'garbage'", r"errors\.record \(entry 0\) is not JSON"),
    ("UPDATE shared_log SET entry = '{'", r"shared_log\.entry \(entry 0\) is not JSON"),
    (
        "UPDATE pending_deliveries SET context = '[1]'",
        r"pending_deliveries\.context \(seq 0\) must be a JSON object, not list",
    ),
    (
        """UPDATE pending_deliveries SET context = '{"k": 1}'""",
        r"pending_deliveries\.context \(seq 0\) must map text to text, not 'k' to int",
    ),
    ("UPDATE pending_deliveries SET context = '{'", r"pending_deliveries\.context \(seq 0\)"),
    ("UPDATE jobs SET job_log_count = 'x'", r"jobs\.job_log_count must be an integer, not str"),
]


@pytest.mark.parametrize(("update", "problem"), JOB_DAMAGE)
def test_a_damaged_job_row_raises_a_store_error_naming_job_table_and_column(
    tmp_path: Path, update: str, problem: str
) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", update)

    with store, pytest.raises(StoreError, match=rf"job '{job_id}' is damaged: column {problem}"):
        store.load_job(job_id)


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ("UPDATE job_logs SET record = '{'", r"job_logs\.record \(position 0\) is not JSON"),
        ("UPDATE job_logs SET record = '[]'", r"job_logs\.record \(position 0\) must be a JSON"),
        ("UPDATE job_logs SET position = 'x'", r"job_logs\.position \(position 'x'\) must be"),
    ],
)
def test_a_damaged_log_record_row_raises_a_store_error_naming_job_table_and_column(
    tmp_path: Path, update: str, problem: str
) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", update)

    with store, pytest.raises(StoreError, match=rf"job '{job_id}' is damaged: column {problem}"):
        store.read_job_logs(job_id)


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ("UPDATE jobs SET status = 'bogus'", r"jobs\.status must be one of .* not 'bogus'"),
        ("UPDATE jobs SET updated_at = 'now'", r"jobs\.updated_at must be an ISO 8601 time"),
        ("UPDATE jobs SET flow_id = X'6162'", r"jobs\.flow_id must be text, not bytes"),
    ],
)
def test_a_damaged_job_row_is_not_listed_silently(
    tmp_path: Path, update: str, problem: str
) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", update)

    with store, pytest.raises(StoreError, match=rf"job '{job_id}' is damaged: column {problem}"):
        store.list_jobs()


LETTER_DAMAGE = [
    ("UPDATE dead_letters SET data = 'oops'", r"dead_letters\.data is not JSON"),
    ("UPDATE dead_letters SET error = '5'", r"dead_letters\.error must be a JSON object, not int"),
    (
        'UPDATE dead_letters SET error = \'{"message": "m"}\'',
        r"dead_letters\.error must be an error record with the fields error_type, message",
    ),
    (
        "UPDATE dead_letters SET error = json_set(error, '$.attempt', 'two')",
        r"dead_letters\.error must have an integer as 'attempt', not 'two'",
    ),
    ("UPDATE dead_letters SET attempt = 'x'", r"dead_letters\.attempt must be an integer"),
    ("UPDATE dead_letters SET created_at = 'then'", r"dead_letters\.created_at must be a number"),
]


@pytest.mark.parametrize(("update", "problem"), LETTER_DAMAGE)
def test_a_damaged_dead_letter_row_raises_a_store_error_naming_it(
    tmp_path: Path, update: str, problem: str
) -> None:
    store, job_id = damaged_store(tmp_path / "jobs.db", update)
    damaged = rf"dead letter '{job_id}:0' is damaged: column {problem}"

    with store:
        with pytest.raises(StoreError, match=damaged):
            store.list_dead_letters()
        with pytest.raises(StoreError, match=damaged):
            store.get_dead_letter(f"{job_id}:0")


@pytest.mark.parametrize("timeout", ["x", None, True, -1, float("nan")])
def test_a_timeout_that_is_not_seconds_is_refused(tmp_path: Path, timeout: object) -> None:
    with pytest.raises(DefinitionError, match=r"timeout must be a number of seconds >= 0"):
        SqliteStore(tmp_path / "jobs.db", timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [None, 5, ""])
def test_a_path_that_is_not_a_path_is_refused(path: object) -> None:
    with pytest.raises(DefinitionError, match=r"path must be the path of the SQLite file"):
        SqliteStore(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("under", ["notes.txt", "notes.txt/deeper"])
def test_a_path_through_a_regular_file_is_refused(tmp_path: Path, under: str) -> None:
    (tmp_path / "notes.txt").write_text("not a directory")

    with pytest.raises(StoreError, match=r"notes\.txt is a file, not a directory"):
        SqliteStore(tmp_path / under / "jobs.db")
