"""The units TextClipper keeps or drops: lines, and tracebacks as a whole.

A traceback is kept or dropped as one unit; one that cannot fit whole is
shortened to its header, some of its frames and its exception line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["TRACEBACK_HEADER", "Piece", "Unit", "Units", "shorten_traceback"]

TRACEBACK_HEADER = "Traceback (most recent call last):"


@dataclass(frozen=True)
class Unit:
    """A line, or the lines of a traceback, kept or dropped together."""

    lines: tuple[str, ...]
    traceback: bool

    @property
    def text(self) -> str:
        """The unit's lines, joined."""
        return "".join(self.lines)


@dataclass(frozen=True)
class Piece:
    """Output text and how many characters of the original it holds."""

    text: str
    kept: int
    lines: int = 0  # Lines of the original it holds whole.


def shorten_traceback(lines: tuple[str, ...], space: int) -> Piece | None:
    """Keep the header, the last frames, the first frames and the exception line.

    The frames nearest the error come first: as many as fit in two thirds
    of the room (at least the last one, if it fits at all); then as many
    first frames as fit in what is left; then more last frames. One marker
    line stands for the frames left out.
    """
    header, last = lines[0], lines[-1]
    frames = _frames(lines[1:-1])
    indent = header[: len(header) - len(header.lstrip(" \t"))]
    room = space - len(header) - len(last) - len(_omitted_marker(indent, len(lines)))
    if room < 0:
        return None
    end = _fit(frames[::-1], room * 2 // 3) or (1 if frames and len(frames[-1]) <= room else 0)
    room -= sum(len(f) for f in frames[len(frames) - end :])
    start = _fit(frames[: len(frames) - end], room)
    room -= sum(len(f) for f in frames[:start])
    end += _fit(frames[start : len(frames) - end][::-1], room)
    kept_frames = frames[:start] + frames[len(frames) - end :]
    omitted = frames[start : len(frames) - end]
    marker = _omitted_marker(indent, sum(f.count("\n") for f in omitted))
    text = header + "".join(frames[:start]) + marker + "".join(frames[len(frames) - end :]) + last
    whole = 2 + sum(f.count("\n") for f in kept_frames)
    return Piece(text, len(header) + sum(len(f) for f in kept_frames) + len(last), whole)


def _frames(lines: Sequence[str]) -> list[str]:
    """Group traceback lines into frames: each starts at a ``File "...`` line."""
    frames: list[str] = []
    for line in lines:
        if frames and not line.lstrip().startswith("File "):
            frames[-1] += line
        else:
            frames.append(line)
    return frames


def _fit(frames: Sequence[str], room: int) -> int:
    count = used = 0
    for frame in frames:
        if used + len(frame) > room:
            break
        used += len(frame)
        count += 1
    return count


def _omitted_marker(indent: str, count: int) -> str:
    return f"{indent}  … [{count} traceback lines omitted]\n"


class Units:
    """The lines of a text, a traceback's lines counting as one unit.

    With ``tracebacks=False`` every line is a unit of its own. Units are
    built only for the lines looked at, so clipping a huge text
    costs little more than splitting it into lines.
    """

    def __init__(self, text: str, *, tracebacks: bool = True) -> None:
        self.lines = text.splitlines(keepends=True)
        self.last_of: dict[int, int] = {}  # A traceback's first line -> its last line.
        self.first_of: dict[int, int] = {}  # And back.
        after = 0
        headers = (
            [i for i, line in enumerate(self.lines) if TRACEBACK_HEADER in line]
            if tracebacks
            else []
        )
        for index in headers:
            end = _traceback_end(self.lines, index) if index >= after else index
            if end > index + 1:
                self.last_of[index], self.first_of[end - 1] = end - 1, index
                after = end

    def bounds(self, index: int, *, from_end: bool) -> tuple[int, int]:
        """The first and last line of the unit that starts (or ends) at line ``index``."""
        if from_end:
            return self.first_of.get(index, index), index
        return index, self.last_of.get(index, index)

    def unit(self, first: int, last: int) -> Unit:
        """The unit made of lines ``first`` to ``last``."""
        return Unit(tuple(self.lines[first : last + 1]), traceback=last > first)


def _traceback_end(lines: Sequence[str], start: int) -> int:
    """The index after the traceback starting at ``start`` (``start + 1`` if none).

    A traceback is its header line, the lines indented deeper than the
    header, and the first line after them at the header's indentation (the
    exception line).
    """
    line = lines[start]
    if not line.lstrip(" \t").startswith(TRACEBACK_HEADER):
        return start + 1
    indent = _indent_of(line)
    end = start + 1
    while end < len(lines) and _indent_of(lines[end]) > indent:
        end += 1
    if end < len(lines) and _indent_of(lines[end]) == indent:
        end += 1
    return end


def _indent_of(line: str) -> int:
    """Leading spaces and tabs of a line; -1 for a blank line."""
    stripped = line.lstrip(" \t")
    return len(line) - len(stripped) if stripped.strip() else -1
