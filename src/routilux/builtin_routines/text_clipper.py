"""TextClipper: shorten text to a length, keeping whole lines and whole tracebacks."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from routilux import DefinitionError, HandlerArgumentsError, Routine

__all__ = ["TextClipper"]

KEEP_MODES = ("head", "tail", "head_tail")
MESSAGE_FIELDS = ("removed", "total", "kept")
DEFAULT_MESSAGE = "… [truncated: {removed} of {total} characters]"
DEFAULT_MAX_LENGTH = 4000
TRACEBACK_HEADER = "Traceback (most recent call last):"


class TextClipper(Routine):
    """Clip text to ``max_length`` characters, keeping whole lines and tracebacks.

    Slot ``input`` receives ``text`` (or, without a ``text`` key, ``data``),
    which must be a ``str``. Event ``output`` carries ``text`` (the clipped
    text), ``clipped`` (whether anything was removed) and
    ``original_length`` (the length of the text received).

    A text of at most ``max_length`` characters passes unchanged. A longer
    one is cut at line boundaries: whole lines are kept from the start
    (``head``), the end (``tail``) or both (``head_tail``), and a
    truncation message, on a line of its own, marks where text was removed.
    The output, message included, is never longer than ``max_length``.
    A line that could never fit whole is cut at a word boundary to fill the
    space left. A Python traceback (``Traceback (most recent call last):``
    to its exception line) is kept or dropped as a unit; one that could
    never fit whole is shortened to its header, its first and last frames
    and its exception line. ``docs/builtins/text-clipper.md`` has the
    exact rules.

    Config keys:
        max_length: The longest output, in characters (int >= 1; 4000).
        keep: ``"head"`` (default), ``"tail"`` or ``"head_tail"``.
        truncation_message: The marker put where text was removed; it may
            use the fields ``{removed}``, ``{total}`` and ``{kept}``
            (character counts) and nothing else. ``""`` adds no marker.

    Raises:
        DefinitionError: From ``set_config``, for a bad key value or a
            message that leaves no room for text.
        HandlerArgumentsError: A message has neither ``text`` nor ``data``.
        TypeError: The text is not a ``str``.
    """

    config_keys = ("max_length", "keep", "truncation_message")

    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.clip)
        self.define_event("output", ["text", "clipped", "original_length"])
        self.set_config(
            max_length=DEFAULT_MAX_LENGTH, keep="head", truncation_message=DEFAULT_MESSAGE
        )

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check ``max_length``, ``keep`` and ``truncation_message``."""
        max_length = config.get("max_length")
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise DefinitionError(
                f"TextClipper max_length must be a positive integer, not {max_length!r}."
            )
        keep = config.get("keep")
        if keep not in KEEP_MODES:
            raise DefinitionError(
                f"TextClipper keep must be 'head', 'tail' or 'head_tail', not {keep!r}."
            )
        message = config.get("truncation_message")
        _check_message(message)
        shortest = len(_render(message, 0, 0, 0)) if message else 0
        if shortest >= max_length:
            raise DefinitionError(
                f"TextClipper truncation_message is {shortest} characters long, which leaves "
                f"no room for text within max_length {max_length}; set a shorter message "
                "(or truncation_message='') in the same set_config call."
            )

    def clip(self, **message: Any) -> None:
        """Clip the ``text`` (or ``data``) of a message and emit ``output``."""
        text = _text_of(message)
        max_length: int = self.get_config("max_length")
        if len(text) <= max_length:
            self.emit("output", text=text, clipped=False, original_length=len(text))
            return
        clipped = _clip_text(
            text,
            max_length,
            keep=self.get_config("keep"),
            message=self.get_config("truncation_message"),
        )
        self.emit("output", text=clipped, clipped=True, original_length=len(text))


def _clip_text(text: str, max_length: int, *, keep: str, message: str) -> str:
    """Clip ``text``, longer than ``max_length``, as the class docstring describes."""
    separators = 2 if keep == "head_tail" else 1
    worst = len(_render(message, len(text), len(text), len(text))) if message else 0
    budget = max_length - worst - separators if message else max_length
    if budget < 0:
        # Very large counts made the message too long: drop it, keep text.
        message, budget = "", max_length
    head, tail = _select(_Units(text), budget, keep)
    if not message:
        return head.text + tail.text
    kept = head.kept + tail.kept
    marker = _render(message, len(text) - kept, len(text), kept)
    parts = [head.text]
    if head.text and not head.text.endswith(("\n", "\r")):
        parts.append("\n")
    parts.append(marker)
    if tail.text:
        parts.append("\n" + tail.text)
    return "".join(parts)


@dataclass(frozen=True)
class _Unit:
    """A line, or the lines of a traceback, kept or dropped together."""

    lines: tuple[str, ...]
    traceback: bool

    @property
    def text(self) -> str:
        return "".join(self.lines)


@dataclass(frozen=True)
class _Piece:
    """Output text and how many characters of the original it holds."""

    text: str
    kept: int


@dataclass
class _Side:
    """The text kept at one end of the input."""

    from_end: bool
    active: bool
    parts: list[str] = field(default_factory=list)
    used: int = 0
    kept: int = 0

    def add(self, piece: _Piece) -> None:
        self.parts.append(piece.text)
        self.used += len(piece.text)
        self.kept += piece.kept

    def piece(self) -> _Piece:
        return _Piece("".join(self.parts[::-1] if self.from_end else self.parts), self.kept)


def _select(units: _Units, budget: int, keep: str) -> tuple[_Piece, _Piece]:
    """Take whole units from the kept end(s), the end with less text first.

    When no further unit fits, a unit longer than its end's share of the
    budget (the whole budget, or half of it for ``head_tail``) is shortened
    into the space left; any other unit that does not fit is dropped.
    """
    head = _Side(from_end=False, active=keep != "tail")
    tail = _Side(from_end=True, active=keep != "head")
    low, high, space = 0, len(units.lines) - 1, budget
    blocked: set[bool] = set()
    while low <= high:
        open_sides = [s for s in (head, tail) if s.active and s.from_end not in blocked]
        if not open_sides:
            break
        side = min(open_sides, key=lambda s: s.used)
        first, last = units.bounds(high if side.from_end else low, from_end=side.from_end)
        text = units.unit(first, last).text
        if len(text) > space:
            blocked.add(side.from_end)
            continue
        side.add(_Piece(text, len(text)))
        space -= len(text)
        low, high = (low, first - 1) if side.from_end else (last + 1, high)
    if low <= high:
        _shorten_blocked(units, (low, high), (head, tail), space, budget)
    return head.piece(), tail.piece()


def _shorten_blocked(
    units: _Units, window: tuple[int, int], sides: tuple[_Side, _Side], space: int, budget: int
) -> None:
    head, tail = sides
    share = budget // 2 if head.active and tail.active else budget
    head_bounds = units.bounds(window[0], from_end=False)
    tail_bounds = units.bounds(window[1], from_end=True)
    shared = head.active and tail.active and head_bounds == tail_bounds
    first = units.unit(*head_bounds) if head.active else None
    last = units.unit(*tail_bounds) if tail.active and not shared else None
    first = first if first is not None and len(first.text) > share else None
    last = last if last is not None and len(last.text) > share else None
    alone = not head.parts and not tail.parts
    if first is not None and shared and not first.traceback:
        # One plain line holds the cut: keep its start and its end.
        start = _keep_start(first.text, (space + 1) // 2)
        end = _keep_end(first.text[len(start) :], space - len(start))
        head.add(_Piece(start, len(start)))
        tail.add(_Piece(end, len(end)))
        return
    if first is not None:
        piece = _shorten(first, space if last is None else (space + 1) // 2, False, alone)
        head.add(piece)
        space -= len(piece.text)
        alone = alone and not piece.kept
    if last is not None:
        tail.add(_shorten(last, space, True, alone))


def _shorten(unit: _Unit, space: int, from_end: bool, alone: bool) -> _Piece:
    if unit.traceback:
        piece = _shorten_traceback(unit.lines, space)
        if piece is not None:
            return piece
        if not alone:
            return _Piece("", 0)
    text = _keep_end(unit.text, space) if from_end else _keep_start(unit.text, space)
    return _Piece(text, len(text))


def _keep_start(line: str, space: int) -> str:
    if space <= 0:
        return ""
    window = line[:space]
    if len(window) == len(line) or line[space].isspace():
        return window
    boundary = next((i for i in range(space - 1, space // 2 - 1, -1) if window[i].isspace()), -1)
    return window[:boundary] if boundary > 0 else window


def _keep_end(line: str, space: int) -> str:
    if space <= 0:
        return ""
    window = line[-space:]
    if len(window) == len(line) or line[-space - 1].isspace():
        return window
    boundary = next((i for i in range(min(space, (space + 1) // 2)) if window[i].isspace()), -1)
    return window[boundary + 1 :] if boundary >= 0 else window


def _shorten_traceback(lines: tuple[str, ...], space: int) -> _Piece | None:
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
    return _Piece(text, len(header) + sum(len(f) for f in kept_frames) + len(last))


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


class _Units:
    """The lines of a text, a traceback's lines counting as one unit.

    Units are built only for the lines looked at, so clipping a huge text
    costs little more than splitting it into lines.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines(keepends=True)
        self.last_of: dict[int, int] = {}  # A traceback's first line -> its last line.
        self.first_of: dict[int, int] = {}  # And back.
        after = 0
        headers = [i for i, line in enumerate(self.lines) if TRACEBACK_HEADER in line]
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

    def unit(self, first: int, last: int) -> _Unit:
        return _Unit(tuple(self.lines[first : last + 1]), traceback=last > first)


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


def _check_message(message: Any) -> None:
    if not isinstance(message, str):
        raise DefinitionError(
            f"TextClipper truncation_message must be a str, not {type(message).__name__}."
        )
    try:
        fields = list(string.Formatter().parse(message))
    except ValueError as exc:
        raise DefinitionError(
            f"TextClipper truncation_message {message!r} is not a valid template: {exc}. "
            "Write a literal brace as '{{' or '}}'."
        ) from exc
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in MESSAGE_FIELDS or spec or conversion:
            raise DefinitionError(
                f"TextClipper truncation_message may only use the fields {{removed}}, "
                f"{{total}} and {{kept}}, with no conversion or format spec; "
                f"{message!r} uses {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}."
            )


def _render(message: str, removed: int, total: int, kept: int) -> str:
    # The template was checked by _check_message: only these three plain fields.
    return message.format_map({"removed": removed, "total": total, "kept": kept})


def _text_of(message: Mapping[str, Any]) -> str:
    key = "text" if "text" in message else "data"
    if key not in message:
        present = ", ".join(repr(k) for k in message) or "none"
        raise HandlerArgumentsError(
            f"TextClipper needs a 'text' (or 'data') key; the message has keys: {present}."
        )
    text = message[key]
    if not isinstance(text, str):
        raise TypeError(f"TextClipper expects {key!r} to be a str, not {type(text).__name__}.")
    return text
