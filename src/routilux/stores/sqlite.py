"""SqliteStore: jobs in one SQLite file, the embedded default.

Durability, with the file in WAL mode (see ``docs/stores.md``):

* ``synchronous="NORMAL"`` (the default): a committed checkpoint survives the
  process being killed (``kill -9``), since it is in the WAL file, in the
  operating system's page cache. The last checkpoints before a power loss or
  an operating system crash may be lost; the file stays consistent.
* ``synchronous="FULL"``: every commit waits for ``fsync`` of the WAL, so a
  committed checkpoint also survives a power loss; each commit costs a disk
  flush.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from routilux.exceptions import DefinitionError, StoreError
from routilux.stores._migrate import move_job_values
from routilux.stores._sql import Cursor, SqlJobStore

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

#: The version of the tables this module writes. A file of an older version is
#: brought up to it when opened (see ``_MIGRATIONS``); a newer one is refused.
SCHEMA_VERSION = 3
_STORE = "routilux"
_SYNCHRONOUS = ("NORMAL", "FULL")

# The tables new in version 2: job values (one row per value, one per appended
# item), and the job's outputs (its output_log).
_VALUE_TABLES = """
CREATE TABLE job_values (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    routine_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (job_id, routine_id, name)
);
CREATE TABLE job_value_items (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    routine_id TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (job_id, routine_id, name, position)
);
CREATE TABLE outputs (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
"""

# The table new in version 3: the log records kept with each job (``Flow(keep_logs=...)``).
_LOG_TABLE = """
CREATE TABLE job_logs (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
)
"""

_SCHEMA = (
    """
CREATE TABLE schema_version (store TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    flow_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    error TEXT,
    current_routine_id TEXT,
    deliveries INTEGER NOT NULL,
    next_seq INTEGER NOT NULL,
    owner TEXT,
    flow_document TEXT,
    shared_data TEXT NOT NULL,
    routine_states TEXT NOT NULL,
    extra TEXT NOT NULL,
    deferred_events TEXT NOT NULL DEFAULT '[]',
    engine_states TEXT NOT NULL DEFAULT '{}',
    history_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    log_count INTEGER NOT NULL,
    output_count INTEGER NOT NULL DEFAULT 0,
    claim INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    job_log_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_created ON jobs (created_at, job_id);
CREATE INDEX jobs_by_flow ON jobs (flow_id, created_at);
CREATE INDEX jobs_by_status ON jobs (status, updated_us);
CREATE TABLE pending_deliveries (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    routine_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    data TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    not_before REAL NOT NULL,
    hops INTEGER NOT NULL DEFAULT 0,
    context TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE history (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE errors (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE shared_log (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (job_id, position)
);
CREATE TABLE dead_letters (
    letter_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    routine_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    data TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    error TEXT NOT NULL,
    created_at REAL NOT NULL,
    replayed_by TEXT
);
CREATE INDEX dead_letters_by_job ON dead_letters (job_id);
CREATE INDEX dead_letters_by_created ON dead_letters (created_at, letter_id);
"""
    + _VALUE_TABLES
    + _LOG_TABLE
)


def _to_version_2(conn: sqlite3.Connection) -> None:
    """Claims and leases, job values and outputs in rows of their own, deferred events, hops.

    A delivery pending in version 1 gets hop 0: the count starts again there.
    A job of version 1 keeps its routines' counts and timers in its
    ``routine_states``, its ``engine_states`` left empty: reading the job
    takes them out.
    """
    conn.execute("ALTER TABLE jobs ADD COLUMN claim INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE jobs ADD COLUMN lease_until REAL")
    conn.execute("ALTER TABLE jobs ADD COLUMN output_count INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE jobs ADD COLUMN deferred_events TEXT NOT NULL DEFAULT '[]'")
    conn.execute("ALTER TABLE jobs ADD COLUMN engine_states TEXT NOT NULL DEFAULT '{}'")
    conn.execute("ALTER TABLE pending_deliveries ADD COLUMN hops INTEGER NOT NULL DEFAULT 0")
    for statement in _VALUE_TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)
    move_job_values(conn.cursor(), "", "?")


def _to_version_3(conn: sqlite3.Connection) -> None:
    """Kept log records in a table of their own, and a context for each pending delivery.

    A job of version 2 has no kept records (its count is 0); a delivery
    pending in version 2 has no context (``NULL``).
    """
    conn.execute("ALTER TABLE jobs ADD COLUMN job_log_count INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE pending_deliveries ADD COLUMN context TEXT")
    conn.execute(_LOG_TABLE)


#: What brings a file from version ``n`` to ``n + 1``, by ``n``.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _to_version_2,
    2: _to_version_3,
}

#: The database's time, in seconds since the epoch (to the millisecond).
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"


class SqliteStore(SqlJobStore):
    """A :class:`~routilux.stores.JobStore` in one SQLite file.

    The file (and its directory) is created if missing and put in WAL mode.
    One store object holds one connection, shared by its threads under a
    lock; several processes may open the same file, their writes taking turns
    (each write is a ``BEGIN IMMEDIATE`` transaction that waits up to
    ``timeout`` seconds for another process's to end).

    Args:
        path: The database file.
        synchronous: ``"NORMAL"`` (survives the process being killed) or
            ``"FULL"`` (also survives power loss, at one ``fsync`` per commit).
        timeout: Seconds a write waits for another connection's write to end
            before failing with :class:`~routilux.StoreError`.

    Raises:
        DefinitionError: ``path``, ``synchronous`` or ``timeout`` is not valid.
        StoreError: The file is not a routilux store, is a store of another
            schema version, or cannot be created or opened.

    Example::

        store = SqliteStore("jobs.db")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        timeout: float = 30.0,
    ) -> None:
        super().__init__(prefix="", mark="?", now=_NOW)
        self.path = _check_path(path)
        self.synchronous = _check_synchronous(synchronous)
        self._timeout = _check_timeout(timeout)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = self._open()

    @classmethod
    def from_url(
        cls, url: str, *, synchronous: str | None = None, timeout: float | None = None
    ) -> SqliteStore:
        """Open the store a URL names, SQLAlchemy-style.

        ``sqlite:///jobs.db`` is relative to the working directory,
        ``sqlite:////var/lib/app/jobs.db`` is absolute. The query parameters
        ``synchronous`` and ``timeout`` set those options (``?synchronous=FULL``);
        keyword arguments override them.

        Raises:
            DefinitionError: The URL is not a ``sqlite:///`` URL (``sqlite:/jobs.db``
                and ``sqlite://jobs.db`` are not), or has other query parameters.
        """
        parts = urlsplit(url)
        # urlsplit reads sqlite:/jobs.db as sqlite:///jobs.db: check the slashes as written.
        if parts.scheme != "sqlite" or not url.partition(":")[2].startswith("///"):
            raise DefinitionError(
                f"{url!r} is not a SQLite URL; write sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db."
            )
        query = dict(parse_qsl(parts.query))
        unknown = sorted(set(query) - {"synchronous", "timeout"})
        if unknown:
            raise DefinitionError(
                f"The SQLite URL {url!r} has unknown parameters {unknown}; "
                "known ones are synchronous and timeout."
            )
        if synchronous is None:
            synchronous = query.get("synchronous", "NORMAL")
        if timeout is None:
            timeout = _seconds(query.get("timeout", "30"))
        return cls(unquote(parts.path[1:]), synchronous=synchronous, timeout=timeout)

    # -- connection -------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        self._make_directory()
        with self._translated():
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        try:
            with self._translated():
                self._prepare(conn)
        except StoreError:
            conn.close()
            raise
        return conn

    def _make_directory(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            files = [p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()]
            blocker = files[-1] if files else directory
            raise StoreError(
                f"Cannot create the SQLite store {self.path}: {blocker} is a file, "
                "not a directory; give a path under a directory."
            ) from None
        except OSError as exc:
            raise StoreError(
                f"Cannot create the directory {directory} of the SQLite store {self.path}: "
                f"{exc.strerror or exc}."
            ) from exc

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Look before changing anything: a foreign file must be left as it was.
        _schema_version(conn, self.path)
        self._use_wal(conn)
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Again, now that no other process can be creating the tables.
            version = _schema_version(conn, self.path)
            if version is None:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (_STORE, SCHEMA_VERSION))
            while version is not None and version < SCHEMA_VERSION:
                _MIGRATIONS[version](conn)
                version += 1
                conn.execute(
                    "UPDATE schema_version SET version = ? WHERE store = ?", (version, _STORE)
                )
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL fails at once, without waiting, while another process
        # opens the new file: retry until ``timeout``, as a write would wait.
        deadline = time.monotonic() + self._timeout
        mode = _journal_mode(conn)
        while mode is None and time.monotonic() < deadline:
            time.sleep(0.005)
            mode = _journal_mode(conn)
        if mode != "wal":
            raise StoreError(
                f"The SQLite file {self.path} cannot be put in WAL mode "
                f"({'it is locked' if mode is None else f'it stays in {mode} mode'})."
            )

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            hint = ""
            if "locked" in str(exc):
                hint = f" (another connection held the write lock for over {self._timeout:g} s)"
            raise StoreError(f"The SQLite store {self.path} failed: {exc}{hint}.") from exc

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[Cursor]:
        with self._lock, self._translated():
            conn = self._conn
            if conn is None:
                raise StoreError(f"The SqliteStore {self.path} is closed.")
            conn.execute(begin)
            try:
                yield conn.cursor()
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

    def _write(self) -> AbstractContextManager[Cursor]:
        # IMMEDIATE takes the write lock at once: a deferred transaction that
        # read first could not upgrade when another process wrote in between.
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[Cursor]:
        return self._transaction("BEGIN")

    def close(self) -> None:
        """Close the connection; the store is unusable afterwards."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __repr__(self) -> str:
        return f"<SqliteStore {str(self.path)!r} synchronous={self.synchronous}>"


def _check_path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise DefinitionError(
            f"path must be the path of the SQLite file (a str or os.PathLike), not {path!r}."
        )
    return Path(path)


def _check_timeout(timeout: object) -> float:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout >= 0:
        raise DefinitionError(f"timeout must be a number of seconds >= 0, not {timeout!r}.")
    return float(timeout)


def _check_synchronous(value: str) -> str:
    chosen = value.upper() if isinstance(value, str) else value
    if chosen not in _SYNCHRONOUS:
        raise DefinitionError(
            f"synchronous={value!r} is not supported; use 'NORMAL' (survives the process "
            "being killed) or 'FULL' (also survives power loss)."
        )
    return chosen


def _journal_mode(conn: sqlite3.Connection) -> str | None:
    """Put the file in WAL mode; return its mode, or ``None`` if it is locked."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return "wal"
    try:
        return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            return None
        raise


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DefinitionError(f"timeout={text!r} is not a number of seconds.") from None


def _schema_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The file's schema version, or ``None`` for an empty file.

    Raises:
        StoreError: The file is some other database, or a store of another version.
    """
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    row = None
    if "schema_version" in tables:
        query = "SELECT version FROM schema_version WHERE store = ?"
        row = conn.execute(query, (_STORE,)).fetchone()
    if row is None:
        names = ", ".join(sorted(tables)[:5])
        raise StoreError(
            f"The SQLite file {path} is not a routilux job store (it has the tables {names}); "
            "give SqliteStore a new file or one it created."
        )
    if not isinstance(row[0], int) or not 1 <= row[0] <= SCHEMA_VERSION:
        raise StoreError(
            f"The SQLite file {path} is a routilux job store of schema version {row[0]}; "
            f"this routilux reads versions 1 to {SCHEMA_VERSION} (older ones are brought "
            "up to date when opened)."
        )
    return int(row[0])
