"""PostgresStore: jobs in PostgreSQL, through psycopg 3 (the ``postgres`` extra).

Installed from a clone of routilux: ``pip install -e "/path/to/routilux[postgres]"``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import ModuleType
from typing import TYPE_CHECKING, Any

from routilux._install import install_command
from routilux._model.durable import Checkpoint
from routilux.exceptions import DefinitionError, StoreError
from routilux.stores._migrate import move_job_values
from routilux.stores._pg_checkpoint import CheckpointStatements
from routilux.stores._pg_queue import QueueMethods
from routilux.stores._sql import Cursor, SqlJobStore

if TYPE_CHECKING:
    import psycopg

__all__ = ["SCHEMA_VERSION", "PostgresStore"]

#: The version of the tables this module writes. A schema of an older version is
#: brought up to it on first use (see ``_MIGRATIONS``); a newer one is refused.
SCHEMA_VERSION = 3
_STORE = "routilux"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# JSON columns are ``json``, not ``jsonb``: json keeps the text as written, so
# a float like 1e20 stays a float and strings may hold "\u0000"; jsonb would
# turn the first into an integer and refuse the second. Ids and times use the
# "C" collation so that listings sort as Python sorts strings.
# The tables new in version 2: job values (one row per value, one per appended
# item), and the job's outputs (its output_log).
_VALUE_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.job_values (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    routine_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value JSON NOT NULL,
    PRIMARY KEY (job_id, routine_id, name)
);
CREATE TABLE IF NOT EXISTS {s}.job_value_items (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    routine_id TEXT NOT NULL,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    item JSON NOT NULL,
    PRIMARY KEY (job_id, routine_id, name, position)
);
CREATE TABLE IF NOT EXISTS {s}.outputs (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    entry JSON NOT NULL,
    PRIMARY KEY (job_id, position)
);
"""

# The table new in version 3: the log records kept with each job (``Flow(keep_logs=...)``).
_LOG_TABLE = """
CREATE TABLE IF NOT EXISTS {s}.job_logs (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    record JSON NOT NULL,
    PRIMARY KEY (job_id, position)
);
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS {s}.schema_version (
    store TEXT PRIMARY KEY, version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.jobs (
    job_id TEXT COLLATE "C" PRIMARY KEY,
    flow_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT NOT NULL,
    updated_us BIGINT NOT NULL,
    error TEXT,
    current_routine_id TEXT,
    deliveries BIGINT NOT NULL,
    next_seq BIGINT NOT NULL,
    owner TEXT,
    flow_document JSON,
    shared_data JSON NOT NULL,
    routine_states JSON NOT NULL,
    extra JSON NOT NULL,
    deferred_events JSON NOT NULL DEFAULT '[]',
    engine_states JSON NOT NULL DEFAULT '{{}}',
    history_count BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    log_count BIGINT NOT NULL,
    output_count BIGINT NOT NULL DEFAULT 0,
    claim BIGINT NOT NULL DEFAULT 0,
    lease_until DOUBLE PRECISION,
    job_log_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON {s}.jobs (created_at, job_id);
CREATE INDEX IF NOT EXISTS jobs_by_flow ON {s}.jobs (flow_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_status ON {s}.jobs (status, updated_us);
CREATE TABLE IF NOT EXISTS {s}.pending_deliveries (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    routine_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    data JSON NOT NULL,
    attempt INTEGER NOT NULL,
    not_before DOUBLE PRECISION NOT NULL,
    hops BIGINT NOT NULL DEFAULT 0,
    context JSON,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS {s}.history (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    event JSON NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE IF NOT EXISTS {s}.errors (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    record JSON NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE IF NOT EXISTS {s}.shared_log (
    job_id TEXT COLLATE "C" NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    entry JSON NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    letter_id TEXT COLLATE "C" PRIMARY KEY,
    job_id TEXT COLLATE "C" NOT NULL,
    flow_id TEXT NOT NULL,
    routine_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    data JSON NOT NULL,
    attempt INTEGER NOT NULL,
    error JSON NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    replayed_by TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_by_job ON {s}.dead_letters (job_id);
CREATE INDEX IF NOT EXISTS dead_letters_by_created ON {s}.dead_letters (created_at, letter_id);
"""
    + _VALUE_TABLES
    + _LOG_TABLE
)


def _to_version_2(cur: Any, schema: str) -> None:
    """Claims and leases, job values and outputs in rows of their own, deferred events, hops.

    A delivery pending in version 1 gets hop 0: the count starts again there.
    A job of version 1 keeps its routines' counts and timers in its
    ``routine_states``, its ``engine_states`` left empty: reading the job
    takes them out.
    """
    cur.execute(f"ALTER TABLE {schema}.jobs ADD COLUMN claim BIGINT NOT NULL DEFAULT 0")
    cur.execute(f"ALTER TABLE {schema}.jobs ADD COLUMN lease_until DOUBLE PRECISION")
    cur.execute(f"ALTER TABLE {schema}.jobs ADD COLUMN output_count BIGINT NOT NULL DEFAULT 0")
    cur.execute(f"ALTER TABLE {schema}.jobs ADD COLUMN deferred_events JSON NOT NULL DEFAULT '[]'")
    cur.execute(f"ALTER TABLE {schema}.jobs ADD COLUMN engine_states JSON NOT NULL DEFAULT '{{}}'")
    cur.execute(
        f"ALTER TABLE {schema}.pending_deliveries ADD COLUMN hops BIGINT NOT NULL DEFAULT 0"
    )
    cur.execute(_VALUE_TABLES.format(s=schema))
    move_job_values(cur, f"{schema}.", "%s")


def _to_version_3(cur: Any, schema: str) -> None:
    """Kept log records in a table of their own, and a context for each pending delivery.

    A job of version 2 has no kept records (its count is 0); a delivery
    pending in version 2 has no context (``NULL``).
    """
    cur.execute(f"ALTER TABLE {schema}.jobs ADD COLUMN job_log_count BIGINT NOT NULL DEFAULT 0")
    cur.execute(f"ALTER TABLE {schema}.pending_deliveries ADD COLUMN context JSON")
    cur.execute(_LOG_TABLE.format(s=schema))


#: What brings a schema (its quoted name given) from version ``n`` to ``n + 1``, by ``n``.
_MIGRATIONS: dict[int, Callable[[Any, str], None]] = {1: _to_version_2, 2: _to_version_3}

#: The server's time, in seconds since the epoch: leases are on the database's
#: clock, which every process using it shares.
_NOW = "EXTRACT(EPOCH FROM clock_timestamp())::float8"


def _import_psycopg() -> ModuleType:
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(
            f"PostgresStore needs the psycopg driver: {install_command('postgres')}."
        ) from exc
    return psycopg


class PostgresStore(QueueMethods, SqlJobStore):
    """A :class:`~routilux.stores.JobStore` in PostgreSQL.

    The tables live in their own schema, created with them on first use.
    One store object holds one connection, opened on first use, reopened
    if it breaks, and shared by its threads under a lock; each method runs
    in one transaction, so several processes (each with its own store) may
    use the same database at once.

    Args:
        dsn: A libpq connection string or URL
            (``"postgresql://user@host/db"``, ``"host=/run/postgresql dbname=app"``).
        schema: The schema that holds the tables.

    Raises:
        ImportError: psycopg is not installed.
        DefinitionError: ``dsn`` is not a string, or ``schema`` is not a plain
            SQL identifier.

    Example::

        store = PostgresStore("postgresql://app@localhost/app")
    """

    def __init__(self, dsn: str, *, schema: str = "routilux") -> None:
        if not isinstance(dsn, str):
            raise DefinitionError(
                f"dsn must be a libpq connection string or URL (a str), not {dsn!r}."
            )
        if not isinstance(schema, str) or not _IDENTIFIER.fullmatch(schema):
            raise DefinitionError(
                f"schema={schema!r} is not a plain SQL identifier (letters, digits and "
                "underscores, not starting with a digit, at most 63 characters)."
            )
        self._psycopg = _import_psycopg()
        super().__init__(prefix=f'"{schema}".', mark="%s", now=_NOW)
        self._checkpoints = CheckpointStatements(f'"{schema}"')
        self.schema = schema
        self._dsn = dsn
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._closed = False
        self._queue_ready = False

    @property
    def dsn(self) -> str:
        """The connection string or URL the store connects with (tools open their own)."""
        return self._dsn

    # -- connection -------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreError(f"The PostgresStore (schema {self.schema}) is closed.")
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            conn = self._psycopg.connect(self._dsn, autocommit=True)
            try:
                # Read JSON columns as text: the stores decode them themselves.
                conn.adapters.register_loader("json", self._psycopg.types.string.TextLoader)
                self._create_schema(conn)
            except (self._psycopg.Error, StoreError):
                conn.close()
                raise
            self._conn = conn
        return conn

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            # Two processes creating the tables at once would collide.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"routilux:{self.schema}",))
            version = _schema_version(cur, self.schema)
            quoted = f'"{self.schema}"'
            if version is None:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
                cur.execute(_SCHEMA.format(s=quoted))
                cur.execute(
                    f"INSERT INTO {quoted}.schema_version VALUES (%s, %s)",
                    (_STORE, SCHEMA_VERSION),
                )
            while version is not None and version < SCHEMA_VERSION:
                _MIGRATIONS[version](cur, quoted)
                version += 1
                cur.execute(
                    f"UPDATE {quoted}.schema_version SET version = %s WHERE store = %s",
                    (version, _STORE),
                )

    @contextmanager
    def _transaction(self, *, read_only: bool, block: bool = True) -> Iterator[Cursor]:
        """A transaction block, or (``block=False``) autocommit for a single statement."""
        with self._lock:
            try:
                conn = self._connection()
                with conn.transaction() if block else nullcontext(), conn.cursor() as cur:
                    if read_only:
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield cur
            except self._psycopg.Error as exc:
                raise StoreError(f"The PostgresStore (schema {self.schema}) failed: {exc}") from exc

    def _write(self) -> AbstractContextManager[Cursor]:
        return self._transaction(read_only=False)

    def checkpoint(self, checkpoint: Checkpoint) -> None:
        """Apply one delivery's changes in one statement; see :meth:`JobStore.checkpoint`.

        Raises:
            JobNotFound: The job is not in the store.
            SerializationError: A value cannot be stored; nothing is written.
        """
        if checkpoint.job_values or checkpoint.job_value_items:
            # Values set and items appended to the same key must be written in
            # order, which the parts of one statement are not: a transaction.
            super().checkpoint(checkpoint)
            return
        statement, params = self._checkpoints.statement(checkpoint)
        with self._transaction(read_only=False, block=False) as cur:
            found = cur.execute(statement, params).fetchone()[0]
            if not found:
                raise self._refusal(cur, checkpoint.job_id, checkpoint.claim)

    def _read(self) -> AbstractContextManager[Cursor]:
        # Repeatable read: a job and its rows are read as of one moment.
        return self._transaction(read_only=True)

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __repr__(self) -> str:
        return f"<PostgresStore schema={self.schema!r}>"


def _schema_version(cur: Any, schema: str) -> int | None:
    """The schema's store version, or ``None`` if it has no tables yet.

    Raises:
        StoreError: The schema holds other tables, or a store of another version.
    """
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    )
    tables = sorted(row[0] for row in cur.fetchall())
    if not tables:
        return None
    row = None
    if "schema_version" in tables:
        cur.execute(f'SELECT version FROM "{schema}".schema_version WHERE store = %s', (_STORE,))
        row = cur.fetchone()
    if row is None:
        raise StoreError(
            f"The PostgreSQL schema {schema!r} is not a routilux job store (it has the tables "
            f"{', '.join(tables[:5])}); give PostgresStore another schema."
        )
    if not isinstance(row[0], int) or not 1 <= row[0] <= SCHEMA_VERSION:
        raise StoreError(
            f"The PostgreSQL schema {schema!r} holds a routilux job store of schema version "
            f"{row[0]}; this routilux reads versions 1 to {SCHEMA_VERSION} (older ones are "
            "brought up to date on first use)."
        )
    return int(row[0])
