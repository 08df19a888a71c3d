"""API keys of the HTTP service: create, list, revoke and check them.

A key is ``rlx_`` followed by 43 characters of a 32-byte random token
(:func:`secrets.token_urlsafe`). The store's database keeps only its SHA-256
(with an id, a name and a scope), in a table of the server's own: a key is
shown once, when it is created, and cannot be read back. A fast hash is
enough here, where a password would need a slow one: the token is random
and 256 bits long, so it cannot be guessed from its hash however fast the
hash; and a fast hash lets every request find its key with one indexed
lookup.

Scopes, each including the one before: ``read`` (every ``GET``), ``run``
(also start jobs, pause, resume, cancel them and replay dead letters),
``admin`` (everything).

This module needs no optional extra: ``routilux keys`` uses it without the
web server's libraries.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import Enum

from routilux.exceptions import DefinitionError
from routilux.server._tables import KeyRow, ServerTables, open_tables
from routilux.stores import JobStore

__all__ = [
    "KEY_PREFIX",
    "KeyRow",
    "Scope",
    "check_key",
    "create_key",
    "hash_token",
    "list_keys",
    "revoke_key",
]

#: The start of every key, so a leaked one is easy to recognize (and to scan for).
KEY_PREFIX = "rlx_"


class Scope(str, Enum):
    """What a key may do; each scope includes the ones before it."""

    READ = "read"
    RUN = "run"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        """Whether a key of this scope may do what needs ``needed``."""
        order = list(Scope)
        return order.index(self) >= order.index(needed)

    @classmethod
    def parse(cls, value: str) -> Scope:
        """The scope named ``value``.

        Raises:
            DefinitionError: No scope has that name.
        """
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise DefinitionError(f"Unknown scope {value!r}; use one of {names}.") from None


def hash_token(token: str) -> str:
    """The SHA-256 of a key, as kept in the store (hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _tables(store: JobStore | ServerTables) -> tuple[ServerTables, bool]:
    if isinstance(store, ServerTables):
        return store, False
    return open_tables(store), True


def create_key(
    store: JobStore | ServerTables, scope: Scope | str, *, name: str = ""
) -> tuple[KeyRow, str]:
    """Create a key of ``scope``; return its row and the key itself (shown only now).

    Raises:
        DefinitionError: ``scope`` is not a scope.
        StoreError: The store's database cannot keep keys.
    """
    scope = Scope.parse(scope.value if isinstance(scope, Scope) else scope)
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    tables, opened = _tables(store)
    try:
        row = tables.add_key(secrets.token_hex(6), name, scope.value, hash_token(token))
    finally:
        if opened:
            tables.close()
    return row, token


def list_keys(store: JobStore | ServerTables) -> list[KeyRow]:
    """Every key of the store, oldest first (revoked ones too), without secrets."""
    tables, opened = _tables(store)
    try:
        return tables.list_keys()
    finally:
        if opened:
            tables.close()


def revoke_key(store: JobStore | ServerTables, key_id: str) -> bool:
    """Revoke the key ``key_id``; return whether there was such a key not yet revoked."""
    tables, opened = _tables(store)
    try:
        return tables.revoke_key(key_id)
    finally:
        if opened:
            tables.close()


def check_key(tables: ServerTables, token: str) -> KeyRow | None:
    """The live key ``token`` is, if any (``None`` for an unknown or revoked key)."""
    if not token.startswith(KEY_PREFIX):
        return None
    # Looked up by hash: timing tells nothing about the secret of a key.
    return tables.find_key(hash_token(token))
