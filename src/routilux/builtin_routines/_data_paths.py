"""Dotted paths into messages (``"order.items.0.sku"``), shared by Mapper and DataTransformer.

A path is a string of segments joined by ``.``. Reading walks dicts by key
and lists (or tuples) by a decimal index; writing builds dicts and copies
every container it changes, so the message a routine received is never
modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_PATH_LENGTH", "MISSING", "PathError", "get_path", "parse_path", "set_path"]

#: Longest path accepted, in characters.
MAX_PATH_LENGTH = 1000
#: What :func:`get_path` returns when a path leads nowhere.
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


class PathError(ValueError):
    """A path is malformed, or cannot be written into a value."""


def parse_path(path: object) -> tuple[str, ...]:
    """Split a dotted path into its segments.

    Raises:
        PathError: ``path`` is not a non-empty string of non-empty segments,
            is too long, or has a segment starting with an underscore.
    """
    if not isinstance(path, str):
        raise PathError(f"a path must be a string, not {type(path).__name__}")
    if not path:
        raise PathError("a path must not be empty")
    if len(path) > MAX_PATH_LENGTH:
        raise PathError(f"the path {path[:40]!r}... is longer than {MAX_PATH_LENGTH} characters")
    segments = tuple(path.split("."))
    for segment in segments:
        if not segment:
            raise PathError(f"the path {path!r} has an empty segment")
        if segment.startswith("_"):
            raise PathError(
                f"the path {path!r} has the segment {segment!r}; segments must not start "
                "with an underscore"
            )
    return segments


def _index(segment: str, size: int) -> int | None:
    if not segment.isdecimal() or not segment.isascii():
        return None
    index = int(segment)
    return index if index < size else None


def get_path(value: Any, segments: Sequence[str]) -> Any:
    """The value at ``segments`` inside ``value``, or :data:`MISSING`."""
    for segment in segments:
        if isinstance(value, Mapping):
            value = value.get(segment, MISSING)
        elif isinstance(value, (list, tuple)):
            index = _index(segment, len(value))
            value = MISSING if index is None else value[index]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def set_path(root: dict[str, Any], segments: Sequence[str], value: Any, owned: set[int]) -> None:
    """Write ``value`` at ``segments`` inside ``root``, copying what it changes.

    ``owned`` holds the ids of the containers this write may change in place
    (``root`` and those an earlier write created or copied); any other dict
    or list on the way is copied first, and the copy is added to ``owned``.
    Missing segments are created as dicts.

    Raises:
        PathError: The path meets a value that is not a dict or a list, or
            a list index that does not exist.
    """
    node: Any = root
    for depth, segment in enumerate(segments[:-1]):
        child = get_path(node, (segment,))
        if child is MISSING:
            child = {}
        elif isinstance(child, (Mapping, list)):
            if id(child) in owned:
                node = child
                continue
            child = dict(child) if isinstance(child, Mapping) else list(child)
        else:
            where = ".".join(segments[: depth + 1])
            raise PathError(
                f"{where!r} holds a value of type {type(child).__name__}, not a dict or a list"
            )
        owned.add(id(child))
        _put(node, segment, child, segments[: depth + 1])
        node = child
    _put(node, segments[-1], value, segments)


def _put(node: Any, segment: str, value: Any, where: Sequence[str]) -> None:
    if isinstance(node, dict):
        node[segment] = value
        return
    index = _index(segment, len(node))
    if index is None:
        raise PathError(
            f"{'.'.join(where)!r} is not an index of the list of {len(node)} items it meets"
        )
    node[index] = value
