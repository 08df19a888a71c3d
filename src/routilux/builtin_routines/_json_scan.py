"""A bounded scanner for JSON values in text, and a JSON parser that can repair.

Used by :class:`~routilux.builtin_routines.ResultExtractor`. Nothing here
evaluates text: values are parsed by :func:`json.loads` only.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_NESTING", "bracket_spans", "parse_json"]

#: Deeper nesting is not scanned or parsed (``json`` would recurse that deep).
MAX_NESTING = 256

_STRUCTURE = re.compile(r'[\[\]{}"]')
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_NESTING_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_TRAILING_COMMA = re.compile(r'"(?:[^"\\]|\\.)*"|,(\s*[}\]])')


def bracket_spans(text: str) -> list[tuple[int, int]]:
    """Balanced ``{...}`` and ``[...]`` spans, skipping JSON strings inside them.

    One pass: a mismatched closer, a string left open at the end of its
    line, or nesting deeper than ``MAX_NESTING`` abandons the open brackets.
    """
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    position = 0
    while (match := _STRUCTURE.search(text, position)) is not None:
        char, index = match.group(), match.start()
        position = index + 1
        if char == '"':
            if stack:
                string = _JSON_STRING.match(text, index)
                if string is None:
                    stack.clear()
                else:
                    position = string.end()
        elif char in "{[":
            if len(stack) >= MAX_NESTING:
                stack.clear()
            stack.append((char, index))
        elif stack and stack[-1][0] == ("{" if char == "}" else "["):
            spans.append((stack.pop()[1], index + 1))
        else:
            stack.clear()
    return spans


def parse_json(text: str, *, repair: bool) -> tuple[Any, bool] | None:
    """The JSON value of ``text`` and whether it needed repair, or ``None``."""
    if _nesting(text) > MAX_NESTING:
        return None  # Deeper than the scanner allows; json would also recurse that deep.
    for attempt, repaired in ((text, False), (_drop_trailing_commas(text), True)):
        if repaired and (not repair or attempt == text):
            return None
        try:
            return json.loads(attempt, parse_constant=_refuse_constant), repaired
        except ValueError:
            continue
    return None


def _nesting(text: str) -> int:
    """How deep brackets nest in ``text``, outside strings."""
    depth = deepest = 0
    for token in _NESTING_TOKEN.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _drop_trailing_commas(text: str) -> str:
    return _TRAILING_COMMA.sub(lambda m: m.group(1) or m.group(0), text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
