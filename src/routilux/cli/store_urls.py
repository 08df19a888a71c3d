"""Job store URLs: which store a command uses.

=============================  ===========================================
``sqlite:///relative/path.db``  :class:`~routilux.stores.SqliteStore`, relative to the
                                working directory
``sqlite:////abs/path.db``      the same, absolute (``?synchronous=FULL&timeout=10``
                                set its options)
``postgresql://user@host/db``   :class:`~routilux.stores.PostgresStore` (also
                                ``postgres://``; needs the ``postgres`` extra)
``memory:``                     :class:`~routilux.stores.MemoryStore` (gone when the
                                command ends)
=============================  ===========================================

The default is ``$ROUTILUX_STORE`` if set, else :data:`DEFAULT_STORE_URL`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from routilux.exceptions import DefinitionError, StoreError
from routilux.stores import JobStore, MemoryStore, PostgresStore, SqliteStore

__all__ = ["DEFAULT_STORE_URL", "STORE_ENV", "StoreUrlError", "open_store", "opened_store"]

#: The store used when neither ``--store`` nor ``$ROUTILUX_STORE`` says otherwise.
DEFAULT_STORE_URL = "sqlite:///routilux-jobs.db"
#: The environment variable that names the default store.
STORE_ENV = "ROUTILUX_STORE"


class StoreUrlError(ValueError):
    """A store URL that names no store this command can open (a usage error)."""


def open_store(url: str, *, create: bool = True) -> JobStore:
    """Open the job store ``url`` names.

    Args:
        url: A store URL (see the module's docstring).
        create: Whether a missing SQLite file may be created; commands that
            only read a store pass ``False``, so that a mistyped path is an
            error rather than a new, empty store.

    Raises:
        StoreUrlError: The URL is malformed or of an unknown kind, or the
            PostgreSQL driver is missing.
        StoreError: The store cannot be opened (not a routilux store, no
            such SQLite file when ``create`` is false, ...).
    """
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        return _sqlite(url, create)
    if scheme in ("postgresql", "postgres"):
        return _postgres(url)
    if url == "memory:":
        return MemoryStore()
    raise StoreUrlError(
        f"Unknown store URL {url!r}; use sqlite:///relative.db, sqlite:////absolute.db, "
        "postgresql://user@host/db or memory:."
    )


@contextmanager
def opened_store(url: str, *, create: bool = True) -> Iterator[JobStore]:
    """:func:`open_store`, closed when the block ends."""
    store = open_store(url, create=create)
    try:
        yield store
    finally:
        store.close()


def _sqlite(url: str, create: bool) -> JobStore:
    if not create:
        path = Path(unquote(urlsplit(url).path[1:]))
        if url.startswith("sqlite:///") and not path.exists():
            raise StoreError(
                f"There is no job store at {path} ({url}); pass --store URL or set "
                f"${STORE_ENV} to the store your jobs ran on."
            )
    try:
        return SqliteStore.from_url(url)
    except DefinitionError as exc:
        raise StoreUrlError(str(exc)) from None


def _postgres(url: str) -> JobStore:
    try:
        return PostgresStore(url)
    except ImportError as exc:
        raise StoreUrlError(str(exc)) from None
