"""The line of every place of a document read from a file, kept in four bytes a place.

A reader records one line per value, in document order (a mapping's value
gets the line of its key, a list item the line it starts on). A place is
found again by walking the document to it and counting the values before
it; that costs a walk of the document, but only when an error is reported,
and a dict of paths would cost far more than the document itself.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["DocPath", "DocumentLines", "LazyLines"]

#: A place in a document: the keys and indexes from the top.
DocPath = tuple[str | int, ...]


class DocumentLines(Mapping[DocPath, int]):
    """The 1-based line of each place of ``document``.

    Args:
        document: The document, as read (it must not be changed since).
        lines: The line of each of its values, in document order (the
            document itself first).
    """

    def __init__(self, document: Any, lines: array[int]) -> None:
        self._document = document
        self._lines = lines

    def __getitem__(self, where: DocPath) -> int:
        index, value = 0, self._document
        for step in where:
            index, value = _child(value, step, index)
        return self._lines[index]

    def __iter__(self) -> Iterator[DocPath]:
        stack: list[tuple[DocPath, Any]] = [((), self._document)]
        while stack:
            where, value = stack.pop()
            yield where
            stack.extend(((*where, key), item) for key, item in reversed(_items(value)))

    def __len__(self) -> int:
        return len(self._lines)


class LazyLines(Mapping[DocPath, int]):
    """Lines found only when first asked for (by ``find``, which may return none)."""

    def __init__(self, find: Callable[[], Mapping[DocPath, int]]) -> None:
        self._find: Callable[[], Mapping[DocPath, int]] | None = find
        self._found: Mapping[DocPath, int] = {}

    def _lines(self) -> Mapping[DocPath, int]:
        if self._find is not None:
            find, self._find = self._find, None
            self._found = find()
        return self._found

    def __getitem__(self, where: DocPath) -> int:
        return self._lines()[where]

    def __iter__(self) -> Iterator[DocPath]:
        return iter(self._lines())

    def __len__(self) -> int:
        return len(self._lines())


def _items(value: Any) -> list[tuple[str | int, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return list(enumerate(value))
    return []


def _child(value: Any, step: str | int, index: int) -> tuple[int, Any]:
    """The index and value of the child ``step`` of ``value``, whose own index is ``index``."""
    if isinstance(value, dict) and isinstance(step, str) and step in value:
        before = []
        for key, item in value.items():
            if key == step:
                break
            before.append(item)
    elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
        before = value[:step]
    else:
        raise KeyError(step)
    return index + 1 + sum(_size(item) for item in before), value[step]


def _size(value: Any) -> int:
    """How many values ``value`` holds, itself included."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count
