"""Regular expressions from flow documents, bounded so that none can hang a worker.

Python's ``re`` backtracks: a pattern such as ``(a+)+$`` takes time
exponential in the length of a string it fails on ("a" * 40 + "!" takes
hours). A pattern written in a flow document is user input, so two guards
apply:

* Always (standard library only): a static check refuses a repetition of a
  group that itself repeats something (``(a+)+``, ``(\\w+\\s?)*``), the shape
  of catastrophic backtracking, unless each repetition is delimited: the
  group starts or ends with a character that no repeated part inside it can
  match (``(\\.\\w+)*`` is accepted). Possessive quantifiers and atomic
  groups (``\\w++``, ``(?>...)``, Python 3.11+) never backtrack and pass.
* With the ``regex`` package installed (the ``regex`` extra), every match
  runs with a time limit of :data:`MATCH_TIMEOUT` seconds, which also bounds
  the slow patterns no static check recognises (``(a|aa)*c``, ``\\d*\\d*\\d*x``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MATCH_TIMEOUT", "BoundedPattern", "PatternTimeout", "compile_bounded", "regex_module"]

#: Seconds one match may take when the ``regex`` package is installed.
MATCH_TIMEOUT = 0.25
_QUANTIFIER = re.compile(r"[*+?]|\{(\d*)(,?)(\d*)\}")
_UNBOUNDED = 1 << 30


class PatternTimeout(Exception):
    """A match took longer than :data:`MATCH_TIMEOUT` (only with the ``regex`` package)."""


def regex_module() -> Any:
    """The ``regex`` package, or ``None`` when it is not installed."""
    try:
        # regex ships no type hints; it may not be installed at all.
        import regex  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    return regex


@dataclass(frozen=True)
class BoundedPattern:
    """A checked pattern, matched with a time limit when the ``regex`` package is there.

    Attributes:
        pattern: The pattern as written.
    """

    pattern: str
    _compiled: Any = field(repr=False, compare=False)
    _timed: bool = field(repr=False, compare=False)

    def search(self, text: str) -> bool:
        """Whether the pattern is found in ``text``.

        Raises:
            PatternTimeout: The search took longer than :data:`MATCH_TIMEOUT`.
        """
        if not self._timed:
            return self._compiled.search(text) is not None
        try:
            return self._compiled.search(text, timeout=MATCH_TIMEOUT) is not None
        except TimeoutError:
            raise PatternTimeout(self.pattern) from None


def compile_bounded(pattern: str) -> BoundedPattern:
    """Check and compile ``pattern`` (a ``re`` pattern).

    Raises:
        re.error: The pattern is not a valid regular expression.
        ValueError: It repeats a repetition (see the module docstring); the
            message says which part and how to write it.
    """
    compiled = re.compile(pattern)
    nested = _nested_repetition(pattern)
    if nested is not None:
        raise ValueError(
            f"it repeats {nested!r}, which repeats something itself: such a pattern can take "
            "hours to fail on a long string (catastrophic backtracking). Repeat the inner part "
            "only, delimit each repetition with a character the inner part cannot match (as "
            r"in (\.\w+)*), or make the inner repetition possessive (\w++) or atomic "
            "((?>...)), which never backtracks"
        )
    regex = regex_module()
    if regex is not None:
        try:
            return BoundedPattern(pattern, regex.compile(pattern, regex.VERSION0), True)
        except regex.error:  # A pattern only re reads: it passed the static check.
            pass
    return BoundedPattern(pattern, compiled, False)


# -- the static check ------------------------------------------------------------


@dataclass
class _Group:
    """A group being scanned: its items, and the repeated parts inside it."""

    start: int
    atomic: bool = False
    alternation: bool = False
    items: list[_Item] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)  # The source of each repeated part.


@dataclass
class _Item:
    """An atom or a closed group: its source, and (for a group) what repeats inside it."""

    source: str
    inner: list[str]
    literal: bool
    group: _Group | None = None


def _nested_repetition(pattern: str) -> str | None:
    """The first repeated group that repeats something undelimited, as written, or None."""
    stack = [_Group(0)]
    i, last = 0, None
    while i < len(pattern):
        quantifier = _QUANTIFIER.match(pattern, i)
        if quantifier is not None and quantifier.group(0) != "{}" and last is not None:
            i, nested = _quantified(pattern, quantifier, last, stack[-1])
            if nested is not None:
                return nested
            last = None
            continue
        last = None
        if pattern[i] == "(":
            i = _open_group(pattern, i, stack)
        elif pattern[i] == ")" and len(stack) > 1:
            group = stack.pop()
            inner = [] if group.atomic else group.repeated
            last = _Item(pattern[group.start : i + 1], inner, literal=False, group=group)
            i += 1
        elif pattern[i] == "|":
            stack[-1].alternation = True
            i += 1
        else:
            end = _atom_end(pattern, i)
            source = pattern[i:end]
            literal = (len(source) == 1 and source not in ".^$") or _escaped_literal(source)
            last = _Item(source, [], literal)
            i = end
        if last is not None:
            stack[-1].items.append(last)
            stack[-1].repeated.extend(last.inner)
    return None


def _quantified(
    pattern: str, match: re.Match[str], item: _Item, group: _Group
) -> tuple[int, str | None]:
    """Apply a quantifier to ``item``; return where the scan goes on, and a nested repetition."""
    end = match.end()
    possessive = pattern.startswith("+", end)
    if end < len(pattern) and pattern[end] in "?+":
        end += 1
    low, high = _bounds(match)
    if high <= 1 or low == high or possessive:
        return end, None
    if item.inner and not _delimited(item.group, item.inner):
        return end, item.source
    item.literal = False  # A repeated character delimits nothing.
    group.repeated.append(item.source)
    return end, None


def _bounds(match: re.Match[str]) -> tuple[int, int]:
    text = match.group(0)
    if text in ("*", "+", "?"):
        return {"*": (0, _UNBOUNDED), "+": (1, _UNBOUNDED), "?": (0, 1)}[text]
    low_text, comma, high_text = match.groups()
    low = int(low_text or 0)
    if not comma:
        return low, low
    return low, int(high_text) if high_text else _UNBOUNDED


def _delimited(group: _Group | None, inner: list[str]) -> bool:
    """Whether each repetition of ``group`` starts or ends with a character ``inner`` lacks."""
    if group is None or group.alternation or not group.items:
        return False
    ends = [item.source[-1] for item in (group.items[0], group.items[-1]) if item.literal]
    return any(all(_never_matches(part, char) for part in inner) for char in ends)


def _never_matches(part: str, char: str) -> bool:
    try:
        return re.search(part, char, re.IGNORECASE) is None
    except re.error:  # A part that does not stand alone (a backreference): assume it may.
        return False


def _open_group(pattern: str, i: int, stack: list[_Group]) -> int:
    """Push the group that starts at ``i``; skip comments, flags and backreferences."""
    whole = re.compile(r"\(\?#[^)]*\)|\(\?[aiLmsux-]+\)|\(\?P=\w+\)").match(pattern, i)
    if whole is not None:
        return whole.end()
    group = _Group(i, atomic=pattern.startswith("(?>", i))
    stack.append(group)
    prefix = re.compile(r"\(\?(?:P<\w+>|[:=!>]|<[=!]|[aiLmsux-]+:|\(\w+\))?").match(pattern, i)
    return prefix.end() if prefix is not None else i + 1


def _atom_end(pattern: str, i: int) -> int:
    if pattern[i] == "\\":
        return min(i + 2, len(pattern))
    if pattern[i] != "[":
        return i + 1
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


def _escaped_literal(source: str) -> bool:
    """``\\.`` and the like: an escaped character that stands for itself."""
    return len(source) == 2 and source[0] == "\\" and not source[1].isalnum()
