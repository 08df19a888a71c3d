"""Results found in free text: JSON in prose, fenced code, key-value and list lines.

The finders of ResultExtractor's own kinds, run after the published
extractors. Nothing here evaluates text: JSON is read by :func:`json.loads`
(through :mod:`._json_scan`), everything else by regular expressions.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from routilux.builtin_routines._json_scan import bracket_spans, parse_json

__all__ = ["KINDS", "Finding", "find"]

#: Our kinds, in their default order of preference.
KINDS = ("json", "code", "key_value", "list")
JSON_LANGUAGES = ("json", "jsonc", "json5")
MAX_CANDIDATES = 20
REPAIR_PENALTY = 0.15
UNCLOSED_PENALTY = 0.2

_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_KEY_VALUE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?P<key>[^\W\d_][\w .'/()-]{0,39}?)\s*:\s+(?P<value>(?!//)\S.*?)\s*$"
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,9}[.)])\s+(?P<item>\S.*?)\s*$")


def find(text: str, kind: str, *, strict: bool) -> list[Finding]:
    """Every finding of ``kind`` in ``text``, best first.

    Findings are ranked by confidence, then by size (the larger first),
    then by position (the earlier first).

    Args:
        text: The text to search.
        kind: ``"json"`` (a JSON value in a fence with no language or a
            ``json`` fence, or an object or array embedded in prose),
            ``"code"`` (a fenced block, as ``{"language", "code"}``),
            ``"key_value"`` (runs of ``key: value`` lines) or ``"list"``
            (runs of bulleted or numbered lines).
        strict: Accept only what needs no guessing: closed fences, JSON
            parsed without repair and only as a whole text or fence, runs
            of lines that make up the whole text outside fences.
    """
    fences = list(_fences(text, 0, depth=0))
    if strict:
        fences = [fence for fence in fences if fence.closed]
    finders: dict[str, Callable[[], list[Finding]]] = {
        "json": lambda: _json_findings(text, fences, strict),
        "code": lambda: _code_findings(fences),
        "key_value": lambda: _line_findings(text, fences, "key_value", strict),
        "list": lambda: _line_findings(text, fences, "list", strict),
    }
    return sorted(finders[kind](), key=lambda f: (-f.confidence, -f.size, f.start))


@dataclass(frozen=True)
class Finding:
    """One result found in the text, its confidence (0 to 1) and where."""

    kind: str
    result: Any
    confidence: float
    start: int
    size: int


@dataclass(frozen=True)
class _Fence:
    language: str | None
    body: str
    body_start: int
    start: int
    end: int
    closed: bool


def _lines(text: str, offset: int) -> Iterator[tuple[int, str]]:
    """Each line (without its line break) and its offset."""
    position = 0
    for line in text.splitlines(keepends=True):
        yield offset + position, line.rstrip("\r\n")
        position += len(line)


def _fences(text: str, offset: int, *, depth: int) -> Iterator[_Fence]:
    """Fenced blocks, and the fenced blocks inside Markdown blocks (to three levels)."""
    lines = list(_lines(text, offset))
    index = 0
    while index < len(lines):
        start, line = lines[index]
        opening = _FENCE_OPEN.match(line)
        if opening is None:
            index += 1
            continue
        marker = opening.group("fence")
        info = opening.group("info").split()
        closing = re.compile(rf"^[ \t]*{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        end = next((i for i in range(index + 1, len(lines)) if closing.match(lines[i][1])), None)
        body_lines = lines[index + 1 : end if end is not None else len(lines)]
        body_start = body_lines[0][0] if body_lines else start + len(line) + 1
        body = "\n".join(part for _, part in body_lines)
        after = offset + len(text) if end is None else lines[end][0] + len(lines[end][1])
        fence = _Fence(info[0] if info else None, body, body_start, start, after, end is not None)
        yield fence
        if (fence.language or "").lower() in ("markdown", "md") and depth < 3:
            yield from _fences(body, body_start, depth=depth + 1)
        index = len(lines) if end is None else end + 1


def _code_findings(fences: Sequence[_Fence]) -> list[Finding]:
    findings = []
    for fence in fences:
        confidence = (1.0 if fence.language else 0.9) - (0 if fence.closed else UNCLOSED_PENALTY)
        result = {"language": fence.language, "code": fence.body}
        findings.append(Finding("code", result, round(confidence, 2), fence.start, len(fence.body)))
    return findings


# -- JSON -------------------------------------------------------------------------


def _json_findings(text: str, fences: Sequence[_Fence], strict: bool) -> list[Finding]:
    findings: list[Finding] = []
    masked = list(text)
    for fence in fences:
        language = (fence.language or "").lower()
        found = None
        if language in JSON_LANGUAGES or not language:
            found = parse_json(fence.body, repair=not strict)
        if found is not None and (language or isinstance(found[0], (dict, list))):
            value, repaired = found
            confidence = (1.0 if language else 0.9) - (REPAIR_PENALTY if repaired else 0)
            confidence -= 0 if fence.closed else UNCLOSED_PENALTY
            findings.append(
                Finding("json", value, round(confidence, 2), fence.start, len(fence.body))
            )
        if found is not None or language not in JSON_LANGUAGES:
            # Found, or code in another language: not to be scanned as prose.
            masked[fence.start : fence.end] = " " * (fence.end - fence.start)
    findings.extend(_embedded_json("".join(masked), text.strip(), strict))
    return findings


def _embedded_json(text: str, whole: str, strict: bool) -> list[Finding]:
    """The largest objects and arrays that parse, scanning the brackets of ``text``."""
    spans = sorted(bracket_spans(text), key=lambda s: (s[0] - s[1], s[0]))
    budget = 4 * len(text) + 10_000
    accepted: list[Finding] = []
    for start, end in spans:
        if budget <= 0 or len(accepted) >= MAX_CANDIDATES:
            break
        if any(f.start <= start and end <= f.start + f.size for f in accepted):
            continue  # Inside a value already found.
        is_whole = text[start:end] == whole
        if strict and not is_whole:
            continue
        budget -= end - start
        found = parse_json(text[start:end], repair=not strict)
        if found is None:
            continue
        value, repaired = found
        base = 0.95 if is_whole else (0.7 if isinstance(value, dict) else 0.6)
        confidence = round(base - (REPAIR_PENALTY if repaired else 0), 2)
        accepted.append(Finding("json", value, confidence, start, end - start))
    return accepted


# -- key-value and list lines ------------------------------------------------------


def _line_findings(text: str, fences: Sequence[_Fence], kind: str, strict: bool) -> list[Finding]:
    pattern = _KEY_VALUE if kind == "key_value" else _LIST_ITEM
    fenced = _merged_spans([(fence.start, fence.end) for fence in fences])
    prose = [(start, line) for start, line in _lines(text, 0) if not _inside(start, fenced)]
    counted = sum(1 for _, line in prose if line.strip()) or 1
    findings = []
    for group in _groups(prose, pattern, continuation=kind == "list"):
        coverage = group.covered / counted
        if strict and coverage < 1:
            continue
        result: Any = (
            {m.group("key").strip(): m.group("value") for m in group.matches}
            if kind == "key_value"
            else [m.group("item") for m in group.matches]
        )
        confidence = round(0.5 + 0.4 * coverage, 2)
        findings.append(Finding(kind, result, confidence, group.start, group.end - group.start))
    return findings


@dataclass
class _Group:
    """A run of key-value or list lines."""

    start: int
    end: int = 0
    covered: int = 0
    matches: list[re.Match[str]] = field(default_factory=list)


def _groups(
    lines: Sequence[tuple[int, str]], pattern: re.Pattern[str], *, continuation: bool
) -> list[_Group]:
    """Runs of matching lines; blank lines (and, for lists, indented lines) do not end a run."""
    groups: list[_Group] = []
    current: _Group | None = None
    for start, line in lines:
        match = pattern.match(line.replace("**", ""))
        extends = continuation and current is not None and line[:1].isspace()
        if match is None and line.strip() and not extends:
            current = None
            continue
        if match is None and (current is None or not line.strip()):
            continue  # A blank line: it neither starts nor ends a run.
        if current is None:
            current = _Group(start)
            groups.append(current)
        if match is not None:
            current.matches.append(match)
        current.covered += 1
        current.end = start + len(line)
    return groups


def _merged_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    index = bisect.bisect_right(spans, (position, sys.maxsize)) - 1
    return index >= 0 and position < spans[index][1]
