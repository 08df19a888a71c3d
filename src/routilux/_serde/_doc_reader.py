"""Reading a JSON document field by field, with the path of every problem.

Every message starts with ``"Flow document: "`` and names the place, as
``routines['router'].slots[0].handler``, so a user can find it in the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar

from routilux._serde.values import MAX_DEPTH
from routilux.exceptions import SerializationError

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "MAX_STRING_LENGTH",
    "DocObject",
    "check_bounds",
    "fail",
    "index_path",
    "key_path",
    "kind_of",
]

#: Longest string (or object key) a document may hold, in characters.
MAX_STRING_LENGTH = 1_000_000
#: Deepest nesting of a whole document: a value nested :data:`MAX_DEPTH`
#: levels inside a routine's config, plus the levels of the document around it.
MAX_DOCUMENT_DEPTH = MAX_DEPTH + 10

T = TypeVar("T")

_KINDS: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def kind_of(value: object) -> str:
    """How a message names the JSON type of ``value`` (``"a list"``)."""
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def fail(where: str, problem: str) -> SerializationError:
    """The error for ``problem`` at ``where`` (``problem`` is the rest of the sentence)."""
    return SerializationError(f"Flow document: {where or 'the document'} {problem}")


def key_path(where: str, key: str) -> str:
    """The path of field or entry ``key`` of the object at ``where``."""
    return f"{where}.{key}" if where else key


def index_path(where: str, index: int | str) -> str:
    """The path of item ``index`` of the list (or keyed entry of the object) at ``where``."""
    return f"{where}[{_short(index)!r}]"


def _short(key: int | str) -> int | str:
    """``key``, cut to a readable length: ids and keys may be a megabyte long."""
    return key if isinstance(key, int) or len(key) <= 80 else f"{key[:77]}..."


class DocObject:
    """A JSON object of the document, with the fields it must and may have.

    Args:
        value: What the document holds at ``where``.
        where: Its path.
        required: Fields it must have.
        optional: Fields it may have.

    Raises:
        SerializationError: ``value`` is not an object, lacks a required
            field or has a field that is neither required nor optional.
    """

    __slots__ = ("_data", "where")

    def __init__(
        self, value: Any, where: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> None:
        if not isinstance(value, dict):
            raise fail(where, f"must be an object, not {kind_of(value)}.")
        required, optional = tuple(required), tuple(optional)
        missing = [key for key in required if key not in value]
        if missing:
            raise fail(where, f"has no {missing[0]!r} field.")
        unknown = [key for key in value if key not in required and key not in optional]
        if unknown:
            known = ", ".join(repr(k) for k in (*required, *optional))
            field = _short(unknown[0])
            raise fail(where, f"has the unknown field {field!r}; its fields are {known}.")
        self._data: dict[str, Any] = value
        self.where = where

    def at(self, key: str) -> str:
        """The path of field ``key``."""
        return key_path(self.where, key)

    def has(self, key: str) -> bool:
        """Whether the field ``key`` is present."""
        return key in self._data

    def raw(self, key: str, default: Any = None) -> Any:
        """The field ``key`` as the document holds it."""
        return self._data.get(key, default)

    def get(self, key: str, kind: type[T] | tuple[type, ...], *, nullable: bool = False) -> T:
        """The field ``key``, checked to be of ``kind`` (or null, if ``nullable``).

        Raises:
            SerializationError: It is of another type; ``bool`` never counts
                as a number.
        """
        value = self._data.get(key)
        if value is None and nullable:
            return value  # type: ignore[return-value]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
            return value  # type: ignore[return-value]
        # Every int is a number: say "a number", not "an integer or a number".
        named = [k for k in kinds if not (k is int and float in kinds)]
        wanted = " or ".join(_KINDS.get(k, k.__name__) for k in named)
        wanted += " or null" if nullable else ""
        raise fail(self.at(key), f"must be {wanted}, not {kind_of(value)}.")

    def items(self, key: str, limit: int) -> list[Any]:
        """The list field ``key``, at most ``limit`` items long.

        Raises:
            SerializationError: It is not a list, or is too long.
        """
        value: list[Any] = self.get(key, list)
        if len(value) > limit:
            raise fail(self.at(key), f"has {len(value)} items; at most {limit} are allowed.")
        return value

    def entries(self, key: str, limit: int) -> dict[str, Any]:
        """The object field ``key``, with at most ``limit`` entries.

        Raises:
            SerializationError: It is not an object, or has too many entries.
        """
        value: dict[str, Any] = self.get(key, dict)
        if len(value) > limit:
            raise fail(self.at(key), f"has {len(value)} entries; at most {limit} are allowed.")
        return value


#: Fields whose entries are user data (config keys, routine ids), written ``['key']``.
_DATA_FIELDS = frozenset({"routines", "config", "fields", "param_mapping"})


def check_bounds(document: Any) -> None:
    """Check the whole document is JSON data of bounded depth and string length.

    Done first, so that the rest of the reader (and the value codec) only
    ever sees plain JSON values of a reasonable size.

    Raises:
        SerializationError: A value is not JSON (a tuple, a set, an object,
            NaN), a string is longer than :data:`MAX_STRING_LENGTH`, or the
            nesting is deeper than :data:`MAX_DOCUMENT_DEPTH`.
    """
    trail: list[str | int] = []
    problem = _walk(document, trail)
    if problem is not None:
        raise fail(_trail_path(trail), problem)


def _trail_path(trail: list[str | int]) -> str:
    """``routines['r'].config['k']``: fields after a dot, data keys and indexes in brackets."""
    where, in_data, ids_next = "", False, False
    for step in trail:
        if isinstance(step, int) or in_data or ids_next:
            where = index_path(where, step)
            ids_next = False
        else:
            where = key_path(where, str(_short(step)))
            in_data = step in _DATA_FIELDS and step != "routines"
            ids_next = step == "routines"
    return where


def _walk(value: Any, trail: list[str | int]) -> str | None:
    if len(trail) > MAX_DOCUMENT_DEPTH:
        return f"nests deeper than {MAX_DOCUMENT_DEPTH} levels."
    if value is None or type(value) in (bool, int):
        return None
    if type(value) is str:
        return _check_string(value)
    if type(value) is float:
        return None if math.isfinite(value) else f"is {value!r}, which JSON cannot hold."
    if type(value) is list:
        return _walk_items(enumerate(value), trail)
    if type(value) is dict:
        return _check_keys(value) or _walk_items(value.items(), trail)
    return f"holds {kind_of(value)}, which is not a JSON value."


def _check_keys(value: dict[Any, Any]) -> str | None:
    for key in value:
        if type(key) is not str:
            return f"has the key {key!r}; JSON object keys are strings."
        if len(key) > MAX_STRING_LENGTH:
            return f"has a key of {len(key)} characters; at most {MAX_STRING_LENGTH} are allowed."
    return None


def _walk_items(pairs: Iterable[tuple[Any, Any]], trail: list[str | int]) -> str | None:
    for key, item in pairs:
        trail.append(key)
        problem = _walk(item, trail)
        if problem is not None:
            return problem
        trail.pop()
    return None


def _check_string(value: str) -> str | None:
    if len(value) > MAX_STRING_LENGTH:
        return f"is a string of {len(value)} characters; at most {MAX_STRING_LENGTH} are allowed."
    return None
