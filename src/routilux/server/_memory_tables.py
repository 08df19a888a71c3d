"""The server's tables of a :class:`~routilux.stores.MemoryStore`: dictionaries in memory."""

from __future__ import annotations

import threading
import time

from routilux.server._tables import KeyRow, Reservation, ServerTables

__all__ = ["MemoryTables"]


class MemoryTables(ServerTables):
    """The server's tables in memory, for a MemoryStore (gone with the process, as its jobs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[KeyRow, str]] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, str | None]] = {}
        self._stopped: dict[str, str] = {}

    def add_key(self, key_id: str, name: str, scope: str, token_hash: str) -> KeyRow:
        row = KeyRow(key_id, name, scope, time.time(), None)
        with self._lock:
            self._keys[key_id] = (row, token_hash)
        return row

    def list_keys(self) -> list[KeyRow]:
        with self._lock:
            return [row for row, _ in self._keys.values()]

    def revoke_key(self, key_id: str) -> bool:
        with self._lock:
            found = self._keys.get(key_id)
            if found is None or found[0].revoked_at is not None:
                return False
            row, token_hash = found
            self._keys[key_id] = (
                KeyRow(row.key_id, row.name, row.scope, row.created_at, time.time()),
                token_hash,
            )
            return True

    def find_key(self, token_hash: str) -> KeyRow | None:
        with self._lock:
            for row, known in self._keys.values():
                if known == token_hash and row.revoked_at is None:
                    return row
        return None

    def reserve(self, flow_id: str, key: str, body_hash: str) -> Reservation:
        with self._lock:
            found = self._idempotency.get((flow_id, key))
            if found is None:
                self._idempotency[(flow_id, key)] = (body_hash, None)
                return Reservation(True, body_hash, None)
            return Reservation(False, found[0], found[1])

    def settle(self, flow_id: str, key: str, job_id: str | None) -> None:
        with self._lock:
            if job_id is None:
                self._idempotency.pop((flow_id, key), None)
            else:
                body_hash = self._idempotency[(flow_id, key)][0]
                self._idempotency[(flow_id, key)] = (body_hash, job_id)

    def note_stopped(self, job_id: str, flow_id: str) -> None:
        with self._lock:
            self._stopped[job_id] = flow_id

    def stopped_jobs(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._stopped.items())

    def forget_stopped(self, job_id: str) -> None:
        with self._lock:
            self._stopped.pop(job_id, None)

    def close(self) -> None:
        pass
