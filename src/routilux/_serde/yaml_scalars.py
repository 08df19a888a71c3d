"""The value of a YAML scalar in a flow file: a string, a decimal number, a boolean or null.

PyYAML reads YAML 1.1, whose integers may be written in other bases and
forms (``0x10``, ``0o17``, ``017``, ``0b101``, ``1_000``, ``1:30``). A flow
file holds what JSON holds, so it takes numbers in decimal only, as JSON
writes them, and refuses the other forms with the decimal value to write
instead: a file then means the same to every reader, and ``validate`` and
``run`` read it alike. Booleans and null are PyYAML's (``true``, ``yes``,
``on``, ``null``, ``~``, an empty value).
"""

from __future__ import annotations

import math
import re
from typing import Any

from routilux._serde.json_text import MAX_INT_DIGITS

__all__ = ["SCALAR_TAGS", "TAG_PREFIX", "ScalarRefused", "scalar_value"]

TAG_PREFIX = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (
    f"{TAG_PREFIX}{name}" for name in ("str", "int", "float", "bool", "null")
)
#: The tags of the scalars a flow file may hold.
SCALAR_TAGS = frozenset((_STR, _INT, _FLOAT, _BOOL, _NULL))
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_DECIMAL_FLOAT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
#: Longest text of a number shown in a message.
_SHOWN = 40


class ScalarRefused(Exception):
    """A scalar a flow file cannot hold; the message is a whole sentence."""


def scalar_value(tag: str, text: str) -> Any:
    """The JSON value of the scalar ``text`` of the (resolved) tag ``tag``.

    Args:
        tag: One of :data:`SCALAR_TAGS`.
        text: The scalar as written (without quotes).

    Raises:
        ScalarRefused: A number not in decimal, an integer of more than
            ``MAX_INT_DIGITS`` digits, NaN or infinity, or a ``!!bool`` that
            is not a boolean.
    """
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        value = _BOOLS.get(text.lower())
        if value is None:
            raise ScalarRefused(f"{_shown(text)} is not a YAML boolean (true or false).")
        return value
    if tag == _INT:
        return _integer(text)
    return _float(text)


def _integer(text: str) -> int:
    if _DECIMAL_INT.fullmatch(text) is None:
        meaning = _yaml11_meaning(text)
        read_as = "" if meaning is None else f" (YAML 1.1 reads it as {meaning})"
        advice = "write it in decimal" if meaning is None else f"write {meaning}"
        raise ScalarRefused(
            f"{_shown(text)} is not a decimal integer{read_as}; flow files take numbers in "
            f"decimal only, as JSON does: {advice}, or quote it to make it a string."
        )
    digits = len(text) - (text[0] in "+-")
    if digits > MAX_INT_DIGITS:
        raise ScalarRefused(
            f"the integer {_shown(text)} has {digits} digits; at most {MAX_INT_DIGITS} are allowed."
        )
    return int(text)


def _float(text: str) -> float:
    if _NOT_FINITE.fullmatch(text):
        raise ScalarRefused(f"{_shown(text)} is not a JSON number (no NaN or infinity).")
    if _DECIMAL_FLOAT.fullmatch(text) is None:
        raise ScalarRefused(
            f"{_shown(text)} is not a decimal number; flow files take numbers in decimal "
            "only, as JSON does: write it without '_' or ':', or quote it to make it a string."
        )
    value = float(text)
    if not math.isfinite(value):
        raise ScalarRefused(f"{_shown(text)} is not a JSON number: it is too large.")
    return value


def _yaml11_meaning(text: str) -> int | None:
    """What YAML 1.1 reads ``text`` as (16 for ``0x10``), when it is short and plain to find."""
    plain = text.replace("_", "")
    negative = plain.startswith("-")
    body = plain[1:] if plain[:1] in ("-", "+") else plain
    if ":" in body or len(body) > _SHOWN:
        return None
    try:
        # YAML 1.1 reads a leading 0 as octal; Python's base 0 refuses it.
        octal = len(body) > 1 and body[0] == "0" and body[1].isdigit()
        number = int(body, 8) if octal else int(body, 0)
    except ValueError:
        return None
    return -number if negative else number


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}...")
