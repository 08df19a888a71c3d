"""Parsing JSON text that may be hostile: nested too deeply, or with numbers too long to read.

``json.loads`` meets two inputs it reports badly: text nested deeper than
the interpreter's recursion limit raises ``RecursionError``, and an integer
of more digits than Python converts (4,300 by default,
``sys.get_int_max_str_digits``) raises a bare ``ValueError`` that names no
place. :func:`loads` turns both into :class:`JsonTextError`, which says where
the integer is; the documents' readers turn that into their own error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_INT_DIGITS",
    "DuplicateKeyError",
    "JsonTextError",
    "dotted_path",
    "loads",
    "loads_strict",
    "safe_repr",
]

#: Longest integer a document may hold, in digits: Python's default limit for
#: converting text to ``int``, which the JSON and YAML readers apply alike.
MAX_INT_DIGITS = 4300
#: Integers of at least this many bits may have more digits than ``repr`` converts.
_REPR_BITS = 14_000
_DIGITS_PER_BIT = 0.30103  # log10(2)


class JsonTextError(ValueError):
    """JSON text that cannot be read, though it may be well formed.

    Attributes:
        where: The place of the problem, as keys and indexes from the top
            (empty for the whole text).
        problem: What is wrong there, the rest of a sentence
            (``"is an integer of 5000 digits; ..."``).
    """

    def __init__(self, where: tuple[str | int, ...], problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{dotted_path(where) or 'the document'} {problem}")


class _LongInteger:
    """Stands for an integer too long to convert, while its place is looked for."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _checked_int(text: str) -> int | _LongInteger:
    digits = len(text) - (text[0] == "-")
    return _LongInteger(digits) if digits > MAX_INT_DIGITS else int(text)


def loads(
    text: str,
    *,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """``json.loads``, with hostile input reported as :class:`JsonTextError`.

    Args:
        text: The JSON text.
        object_pairs_hook: As for ``json.loads``; its own exceptions pass through.
        parse_constant: As for ``json.loads``; its own exceptions pass through.

    Raises:
        JsonTextError: The text nests too deeply to be parsed, or holds an
            integer of more than :data:`MAX_INT_DIGITS` digits (the error
            names its place).
        json.JSONDecodeError: The text is not JSON.
    """
    hooks: dict[str, Any] = {
        "object_pairs_hook": object_pairs_hook,
        "parse_constant": parse_constant,
    }
    try:
        try:
            return json.loads(text, **hooks)
        except ValueError as exc:
            if type(exc) is not ValueError:  # JSONDecodeError, or a hook's own error.
                raise
            # Likely an integer too long to convert: parse again, without converting
            # it, to find its place (only on this failure path, so reads stay fast).
            found = _long_integer(json.loads(text, parse_int=_checked_int, **hooks))
            if found is None:
                raise
    except RecursionError:
        raise JsonTextError((), "nests deeper than the JSON parser can follow.") from None
    where, digits = found
    raise JsonTextError(
        where, f"is an integer of {digits} digits; at most {MAX_INT_DIGITS} are allowed."
    )


class DuplicateKeyError(ValueError):
    """A key that appears twice in one JSON object; ``str()`` of it is the key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_strict(text: str) -> Any:
    """:func:`loads` for documents written by hand: no key twice in one object, no NaN.

    The one strict JSON reader of the flow files and the files :meth:`Flow.save`
    writes; each reader words its own errors.

    Raises:
        JsonTextError: As for :func:`loads`.
        DuplicateKeyError: A key appears twice in one object.
        json.JSONDecodeError: The text is not JSON.
        ValueError: The text holds ``NaN``, ``Infinity`` or ``-Infinity``.
    """
    return loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _long_integer(document: Any) -> tuple[tuple[str | int, ...], int] | None:
    """The place and length of the first :class:`_LongInteger` in ``document``, if any."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, _LongInteger):
            return where, value.digits
        if isinstance(value, dict):
            items: list[tuple[str | int, Any]] = list(value.items())
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            continue
        # Pushed in reverse, so the first integer in document order is found first.
        stack.extend(((*where, key), item) for key, item in reversed(items))
    return None


def dotted_path(where: tuple[str | int, ...]) -> str:
    """``('routines', 'a', 'config', 0)`` as ``routines['a'].config[0]``-like text."""
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{safe_repr(part)}]"
    return text


def safe_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters, even for an integer too long to convert.

    Messages show document values this way: ``repr`` of a 5,000-digit
    integer raises ``ValueError``, and a long string would flood the message.
    """
    if isinstance(value, int) and value.bit_length() >= _REPR_BITS:
        return f"<an integer of about {int(value.bit_length() * _DIGITS_PER_BIT)} digits>"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # A container holding such an integer, or a cycle.
        return f"<a {type(value).__name__}>"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
