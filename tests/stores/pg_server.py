"""A throwaway PostgreSQL server for tests: started in a temporary directory, stopped after.

The server listens only on a Unix socket in its own directory (no TCP), runs
with ``fsync=off`` (a test server need not survive power loss, and it makes
every commit much cheaper), and trusts local connections. Used by the
``postgres_dsn`` fixture in ``tests/stores/conftest.py``; other tests (crash
tests, say) can use it directly::

    with running_server() as server:
        dsn = server.dsn
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PostgresNotAvailable", "PostgresServer", "find_bin_dir", "running_server"]

#: Seconds to wait for the server to start or accept connections.
STARTUP_PATIENCE = 60.0
DATABASE = "routilux_test"
SUPERUSER = "postgres"


class PostgresNotAvailable(RuntimeError):
    """The PostgreSQL server binaries or the driver are missing."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it lives and how to reach it."""

    bin_dir: Path
    base_dir: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's Unix socket."""
        return self.base_dir / "sock"

    def dsn_for(self, dbname: str) -> str:
        """A libpq connection string to ``dbname`` on this server."""
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={dbname}"

    @property
    def dsn(self) -> str:
        """A connection string to the test database."""
        return self.dsn_for(DATABASE)


def find_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's layout.

    Raises:
        PostgresNotAvailable: Neither place has them.
    """
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    raise PostgresNotAvailable(
        "The PostgreSQL server binaries (initdb, pg_ctl) are not on PATH nor in "
        "/usr/lib/postgresql/*/bin. Install them (Debian: apt-get install postgresql; "
        "`make test` does it when run as root), or set ROUTILUX_SKIP_POSTGRES=1 to skip "
        "the PostgreSQL tests."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(server: PostgresServer, *args: str) -> None:
    # initdb refuses to run as root: run the server's tools as the postgres user.
    prefix = ["runuser", "-u", server.run_as, "--"] if server.run_as else []
    result = subprocess.run(
        [*prefix, *args], capture_output=True, text=True, timeout=STARTUP_PATIENCE, check=False
    )
    if result.returncode != 0:
        raise PostgresNotAvailable(
            f"{' '.join(args[:2])} failed with code {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def _prepare(bin_dir: Path) -> PostgresServer:
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            raise PostgresNotAvailable(
                "initdb refuses to run as root, and there is no 'postgres' user to run it as "
                "(Debian's postgresql package creates one)."
            ) from None
    base = Path(tempfile.mkdtemp(prefix="routilux-pg-"))
    server = PostgresServer(bin_dir=bin_dir, base_dir=base, port=_free_port(), run_as=run_as)
    server.socket_dir.mkdir()
    if run_as:
        shutil.chown(base, run_as, run_as)
        shutil.chown(server.socket_dir, run_as, run_as)
    return server


def _start(server: PostgresServer) -> None:
    tool = server.bin_dir
    _run(
        server,
        str(tool / "initdb"),
        "-D",
        str(server.data_dir),
        f"--username={SUPERUSER}",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    )
    options = f"-k {server.socket_dir} -p {server.port} -c listen_addresses='' -c fsync=off"
    _run(
        server,
        str(tool / "pg_ctl"),
        "-D",
        str(server.data_dir),
        "-l",
        str(server.base_dir / "server.log"),
        "-w",
        "-t",
        str(int(STARTUP_PATIENCE)),
        "-o",
        options,
        "start",
    )


def _create_database(server: PostgresServer) -> None:
    import psycopg

    deadline = time.monotonic() + STARTUP_PATIENCE
    while not _accepts_connections(psycopg, server):
        if time.monotonic() > deadline:
            raise PostgresNotAvailable(f"The test server did not accept connections: {server}.")
        time.sleep(0.1)
    with psycopg.connect(server.dsn_for("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")


def _accepts_connections(psycopg: Any, server: PostgresServer) -> bool:
    try:
        psycopg.connect(server.dsn_for("postgres")).close()
    except psycopg.OperationalError:
        return False
    return True


def _stop(server: PostgresServer) -> None:
    if (server.data_dir / "postmaster.pid").exists():
        prefix = ["runuser", "-u", server.run_as, "--"] if server.run_as else []
        pg_ctl = [str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir)]
        subprocess.run(
            [*prefix, *pg_ctl, "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=STARTUP_PATIENCE,
            check=False,
        )
    shutil.rmtree(server.base_dir, ignore_errors=True)


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Start a server with an empty ``routilux_test`` database; stop and delete it after.

    Raises:
        PostgresNotAvailable: The binaries or the ``psycopg`` driver are missing,
            or the server did not start.
    """
    try:
        import psycopg  # noqa: F401 - only checks that the driver is there
    except ImportError:
        raise PostgresNotAvailable(
            'The psycopg driver is not installed: pip install -e ".[postgres]" in the clone '
            "(or set ROUTILUX_SKIP_POSTGRES=1 to skip the PostgreSQL tests)."
        ) from None
    server = _prepare(find_bin_dir())
    try:
        _start(server)
        _create_database(server)
        yield server
    finally:
        _stop(server)
