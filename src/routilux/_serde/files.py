"""Reading and writing JSON documents on disk, atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from os import PathLike
from pathlib import Path
from typing import Any

from routilux._serde.json_text import JsonTextError, loads
from routilux.exceptions import SerializationError

__all__ = ["read_json", "write_json_atomic"]


def write_json_atomic(path: str | PathLike[str], document: Any) -> None:
    """Write ``document`` as JSON so that ``path`` holds the old or the new file, never half.

    The data goes to a temporary file in the same directory, is flushed to
    disk with ``fsync``, then renamed over ``path``; the directory is synced
    so the rename itself survives a crash.

    Raises:
        SerializationError: ``document`` is not JSON-compatible.
        OSError: The file cannot be written.
    """
    target = Path(path)
    try:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"Cannot write {target}: {exc}.") from exc
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    renamed = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
        renamed = True
    finally:
        if not renamed:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    _sync_directory(target.parent)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Some platforms cannot open directories; the rename is done.
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: str | PathLike[str]) -> Any:
    """Read a JSON document.

    Raises:
        SerializationError: The file is not valid UTF-8 JSON, nests too
            deeply, or holds an integer of more than 4,300 digits (the message
            names its place).
        OSError: The file cannot be read.
    """
    target = Path(path)
    raw = target.read_bytes()
    try:
        return loads(raw.decode("utf-8"))
    except JsonTextError as exc:  # Too deep, or an integer too long: name its place.
        raise SerializationError(f"{target} is not a valid JSON document: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(f"{target} is not a valid JSON document: {exc}.") from None
