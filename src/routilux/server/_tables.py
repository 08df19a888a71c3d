"""The server's own tables in the job store's database: API keys and idempotency keys.

The tables are the server's, not the store's: the store never reads them,
and they have their own version (``server_meta``), migrated when a server
or ``routilux keys`` opens them. Each kind of store has a class: the SQL of
SQLite and PostgreSQL differs only in a few words (:class:`_Dialect`), and a
:class:`~routilux.stores.MemoryStore` gets tables in memory (gone with the
process, as its jobs are).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from routilux.exceptions import StoreError
from routilux.stores import JobStore, MemoryStore, PostgresStore, SqliteStore

__all__ = ["KeyRow", "Reservation", "ServerTables", "open_tables"]

#: The version of the server's tables this code writes.
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One API key, without its secret (only the secret's SHA-256 is kept)."""

    key_id: str
    name: str
    scope: str
    created_at: float
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an idempotency key was: new (reserved now), or the job it started before.

    Attributes:
        new: The key was not known: it is now reserved for the caller.
        body_hash: The hash of the request that reserved it first.
        job_id: The job that request started (``None`` while it is starting).
    """

    new: bool
    body_hash: str
    job_id: str | None


class ServerTables(ABC):
    """The server's tables: API keys by the hash of their secret, and idempotency keys."""

    @abstractmethod
    def add_key(self, key_id: str, name: str, scope: str, token_hash: str) -> KeyRow:
        """Keep a new key."""

    @abstractmethod
    def list_keys(self) -> list[KeyRow]:
        """Every key, oldest first, revoked ones too."""

    @abstractmethod
    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; return whether it existed and was not revoked already."""

    @abstractmethod
    def find_key(self, token_hash: str) -> KeyRow | None:
        """The key whose secret has this hash, if it exists and is not revoked."""

    @abstractmethod
    def reserve(self, flow_id: str, key: str, body_hash: str) -> Reservation:
        """Reserve an idempotency key of a flow for a request, unless it is known."""

    @abstractmethod
    def settle(self, flow_id: str, key: str, job_id: str | None) -> None:
        """Record the job a reserved key started, or (``None``) release the key."""

    @abstractmethod
    def note_stopped(self, job_id: str, flow_id: str) -> None:
        """Remember a job this server paused as it stopped."""

    @abstractmethod
    def stopped_jobs(self) -> list[tuple[str, str]]:
        """The (job_id, flow_id) of the jobs servers paused as they stopped."""

    @abstractmethod
    def forget_stopped(self, job_id: str) -> None:
        """Forget a job paused as a server stopped (it was resumed)."""

    @abstractmethod
    def close(self) -> None:
        """Close the tables' connection."""


@dataclass(frozen=True, slots=True)
class _Dialect:
    prefix: str  # Before each table name: a schema, or nothing.
    mark: str  # The parameter placeholder.
    real: str  # The type of a number of seconds.


class _SqlTables(ServerTables):
    """The tables over one DB-API connection, guarded by a lock."""

    def __init__(self, dialect: _Dialect) -> None:
        self._d = dialect
        self._lock = threading.Lock()

    @abstractmethod
    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Run statements in one transaction; return the last one's rows (or rowcount)."""

    def _sql(self, text: str) -> str:
        return text.replace("{p}", self._d.prefix).replace("?", self._d.mark)

    def _migrations(self) -> list[str]:
        real = self._d.real
        return [
            "CREATE TABLE IF NOT EXISTS {p}server_keys (key_id TEXT PRIMARY KEY, "
            "name TEXT NOT NULL, scope TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, "
            f"created_at {real} NOT NULL, revoked_at {real})",
            "CREATE TABLE IF NOT EXISTS {p}server_idempotency (flow_id TEXT NOT NULL, "
            "idem_key TEXT NOT NULL, body_hash TEXT NOT NULL, job_id TEXT, "
            f"created_at {real} NOT NULL, PRIMARY KEY (flow_id, idem_key))",
            "CREATE TABLE IF NOT EXISTS {p}server_stopped_jobs (job_id TEXT PRIMARY KEY, "
            f"flow_id TEXT NOT NULL, paused_at {real} NOT NULL)",
        ]

    def _migrate(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The server tables of this store are of version {version}, newer than this "
                f"routilux knows ({SCHEMA_VERSION}); upgrade routilux."
            )
        if version == SCHEMA_VERSION:
            return
        steps: list[tuple[str, Sequence[Any]]] = [
            (self._sql(s), ()) for s in self._migrations()[version:]
        ]
        steps.append(
            (
                self._sql("UPDATE {p}server_meta SET value = ? WHERE name = 'version'"),
                (str(SCHEMA_VERSION),),
            )
        )
        self._run(steps)

    def add_key(self, key_id: str, name: str, scope: str, token_hash: str) -> KeyRow:
        row = KeyRow(key_id, name, scope, time.time(), None)
        self._run(
            [
                (
                    self._sql("INSERT INTO {p}server_keys VALUES (?, ?, ?, ?, ?, NULL)"),
                    (key_id, name, scope, token_hash, row.created_at),
                )
            ]
        )
        return row

    def list_keys(self) -> list[KeyRow]:
        rows = self._run(
            [
                (
                    self._sql(
                        "SELECT key_id, name, scope, created_at, revoked_at FROM {p}server_keys "
                        "ORDER BY created_at, key_id"
                    ),
                    (),
                )
            ]
        )
        return [KeyRow(*row) for row in rows]

    def revoke_key(self, key_id: str) -> bool:
        count = self._run(
            [
                (
                    self._sql(
                        "UPDATE {p}server_keys SET revoked_at = ? "
                        "WHERE key_id = ? AND revoked_at IS NULL"
                    ),
                    (time.time(), key_id),
                )
            ]
        )
        return bool(count)

    def find_key(self, token_hash: str) -> KeyRow | None:
        rows = self._run(
            [
                (
                    self._sql(
                        "SELECT key_id, name, scope, created_at, revoked_at FROM {p}server_keys "
                        "WHERE token_hash = ? AND revoked_at IS NULL"
                    ),
                    (token_hash,),
                )
            ]
        )
        return KeyRow(*rows[0]) if rows else None

    def reserve(self, flow_id: str, key: str, body_hash: str) -> Reservation:
        inserted = self._run(
            [
                (
                    self._sql(
                        "INSERT INTO {p}server_idempotency VALUES (?, ?, ?, NULL, ?) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    (flow_id, key, body_hash, time.time()),
                )
            ]
        )
        if inserted:
            return Reservation(True, body_hash, None)
        rows = self._run(
            [
                (
                    self._sql(
                        "SELECT body_hash, job_id FROM {p}server_idempotency WHERE flow_id = ? AND "
                        "idem_key = ?"
                    ),
                    (flow_id, key),
                )
            ]
        )
        if not rows:  # Released between the two statements: try again.
            return self.reserve(flow_id, key, body_hash)
        return Reservation(False, rows[0][0], rows[0][1])

    def note_stopped(self, job_id: str, flow_id: str) -> None:
        sql = "INSERT INTO {p}server_stopped_jobs VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        self._run([(self._sql(sql), (job_id, flow_id, time.time()))])

    def stopped_jobs(self) -> list[tuple[str, str]]:
        sql = "SELECT job_id, flow_id FROM {p}server_stopped_jobs ORDER BY paused_at, job_id"
        return [(row[0], row[1]) for row in self._run([(self._sql(sql), ())])]

    def forget_stopped(self, job_id: str) -> None:
        sql = "DELETE FROM {p}server_stopped_jobs WHERE job_id = ?"
        self._run([(self._sql(sql), (job_id,))])

    def settle(self, flow_id: str, key: str, job_id: str | None) -> None:
        if job_id is None:
            sql = "DELETE FROM {p}server_idempotency WHERE flow_id = ? AND idem_key = ?"
            self._run([(self._sql(sql), (flow_id, key))])
        else:
            sql = "UPDATE {p}server_idempotency SET job_id = ? WHERE flow_id = ? AND idem_key = ?"
            self._run([(self._sql(sql), (job_id, flow_id, key))])


class _SqliteTables(_SqlTables):
    def __init__(self, store: SqliteStore) -> None:
        super().__init__(_Dialect(prefix="", mark="?", real="REAL"))
        try:
            self._conn = sqlite3.connect(
                store.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._run(
                [
                    (
                        "CREATE TABLE IF NOT EXISTS server_meta (name TEXT PRIMARY KEY, "
                        "value TEXT NOT NULL)",
                        (),
                    ),
                    ("INSERT OR IGNORE INTO server_meta VALUES ('version', '0')", ()),
                ]
            )
            version = self._run([("SELECT value FROM server_meta WHERE name = 'version'", ())])
            self._migrate(int(version[0][0]))
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the server tables of {store.path}: {exc}") from exc

    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        with self._lock:
            cur = self._conn.cursor()
            if len(statements) == 1 and statements[0][0].lstrip().startswith("SELECT"):
                # One read (a key checked on every request): no write lock.
                cur.execute(*statements[0])
                return cur.fetchall()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    cur.execute(sql, params)
                result: Any = cur.fetchall() if cur.description else cur.rowcount
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            return result  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _PostgresTables(_SqlTables):
    def __init__(self, store: PostgresStore) -> None:
        import psycopg

        super().__init__(_Dialect(prefix=f'"{store.schema}".', mark="%s", real="DOUBLE PRECISION"))
        store.list_jobs(limit=1)  # The store creates its schema on first use.
        self._conn = psycopg.connect(store.dsn, autocommit=True)
        meta = f'"{store.schema}".server_meta'
        with self._conn.transaction():
            # One migration at a time, whoever opens the tables.
            self._conn.execute("SELECT pg_advisory_xact_lock(2030405)")
            self._conn.execute(
                f"CREATE TABLE IF NOT EXISTS {meta} (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._conn.execute(f"INSERT INTO {meta} VALUES ('version', '0') ON CONFLICT DO NOTHING")
            row = self._conn.execute(f"SELECT value FROM {meta} WHERE name = 'version'")
            found = row.fetchone()
            assert found is not None
            self._migrate(int(found[0]))  # Nested: a savepoint of this transaction.

    def _run(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
            result: Any = cur.fetchall() if cur.description else cur.rowcount
            return result  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_tables(store: JobStore) -> ServerTables:
    """The server's tables in ``store``'s database, created or migrated if needed.

    Raises:
        StoreError: The store is of a kind that has no database the server
            can use, or its tables are of a newer version.
    """
    if isinstance(store, SqliteStore):
        return _SqliteTables(store)
    if isinstance(store, PostgresStore):
        return _PostgresTables(store)
    if isinstance(store, MemoryStore):
        from routilux.server._memory_tables import MemoryTables

        return MemoryTables()
    raise StoreError(
        f"The server keeps its API keys in the store's database; a {type(store).__name__} "
        "has none it knows. Use a SqliteStore, a PostgresStore or a MemoryStore."
    )
