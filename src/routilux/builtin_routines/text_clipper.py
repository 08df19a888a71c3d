"""TextClipper: shorten text to a length, keeping whole lines and whole tracebacks."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from routilux import DefinitionError, Routine
from routilux.builtin_routines._text_units import Piece, Unit, Units, shorten_traceback

__all__ = ["TextClipper"]

KEEP_MODES = ("head", "tail", "head_tail")
MESSAGE_FIELDS = ("remaining", "removed", "total", "kept")
DEFAULT_MESSAGE = "… [truncated: {removed} of {total} characters]"
DEFAULT_MAX_LENGTH = 1000


class TextClipper(Routine):
    """Clip text to ``max_length`` characters, keeping whole lines and tracebacks.

    Slot ``input`` receives ``text``; without it, the message's data as the
    published routines take it (:meth:`Routine._extract_input_data`). A
    ``str`` is clipped as it is; a dict gives its first ``str`` under
    ``text``, ``content``, ``message`` or ``data``, else its first ``str``
    value, else ``str(dict)``; anything else gives ``str(value)``. A
    ``max_length`` in the message (a positive int) overrides the config for
    that message. Event ``output`` carries ``clipped_text``,
    ``was_clipped`` (whether anything was removed) and ``original_length``
    (the length of the text received).

    A text of at most ``max_length`` characters passes unchanged. A longer
    one is cut at line boundaries: whole lines are kept from the start
    (``head``), the end (``tail``) or both (``head_tail``), and a
    truncation message, on a line of its own, marks where text was removed.
    The output, message included, is never longer than ``max_length``.
    A line that could never fit whole is cut at a word boundary to fill the
    space left. With ``preserve_tracebacks``, a Python traceback
    (``Traceback (most recent call last):`` to its exception line) is kept
    or dropped as a unit; one that could never fit whole is shortened to
    its header, its first and last frames and its exception line.
    ``docs/builtins/text-clipper.md`` has the exact rules.

    Config keys:
        max_length: The longest output, in characters (int >= 1; 1000).
        preserve_tracebacks: Keep tracebacks as units (default ``True``);
            with ``False`` their lines are plain lines.
        truncation_message: The marker put where text was removed; it may
            use the fields ``{remaining}`` (lines of the original not kept
            whole), ``{removed}``, ``{total}`` and ``{kept}`` (character
            counts) and nothing else. ``""`` adds no marker.
        keep: ``"head"`` (default), ``"tail"`` or ``"head_tail"``.

    Raises:
        DefinitionError: From ``set_config``, for a bad key value.
        TypeError: A message's ``max_length`` is not a positive int.
    """

    config_keys = ("max_length", "preserve_tracebacks", "truncation_message", "keep")

    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.clip)
        self.define_event("output", ["clipped_text", "was_clipped", "original_length"])
        self.set_config(
            max_length=DEFAULT_MAX_LENGTH,
            preserve_tracebacks=True,
            truncation_message=DEFAULT_MESSAGE,
            keep="head",
        )

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check the keys; see the class docstring."""
        max_length = config.get("max_length")
        if not _is_length(max_length):
            raise DefinitionError(
                f"TextClipper max_length must be a positive integer, not {max_length!r}."
            )
        if not isinstance(config.get("preserve_tracebacks"), bool):
            raise DefinitionError(
                f"TextClipper preserve_tracebacks must be True or False, "
                f"not {config.get('preserve_tracebacks')!r}."
            )
        keep = config.get("keep")
        if keep not in KEEP_MODES:
            raise DefinitionError(
                f"TextClipper keep must be 'head', 'tail' or 'head_tail', not {keep!r}."
            )
        _check_message(config.get("truncation_message"))

    def clip(self, text: Any = None, max_length: Any = None, **kwargs: Any) -> None:
        """Clip the text of a message and emit ``output``."""
        value = text if text is not None else self._extract_input_data(**kwargs)
        content = _text_of(value)
        limit: int = self.get_config("max_length")
        if max_length:
            if not _is_length(max_length):
                raise TypeError(
                    f"TextClipper expects a message's max_length to be a positive int, "
                    f"not {max_length!r}."
                )
            limit = max_length
        if len(content) <= limit:
            self.emit(
                "output", clipped_text=content, was_clipped=False, original_length=len(content)
            )
            return
        clipped = _clip_text(
            content,
            limit,
            keep=self.get_config("keep"),
            message=self.get_config("truncation_message"),
            tracebacks=self.get_config("preserve_tracebacks"),
        )
        self.emit("output", clipped_text=clipped, was_clipped=True, original_length=len(content))


def _is_length(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@dataclass(frozen=True)
class _Counts:
    """The numbers a truncation message may show."""

    removed: int
    total: int
    kept: int
    remaining: int


def _clip_text(text: str, max_length: int, *, keep: str, message: str, tracebacks: bool) -> str:
    """Clip ``text``, longer than ``max_length``, as the class docstring describes."""
    separators = 2 if keep == "head_tail" else 1
    units = Units(text, tracebacks=tracebacks)
    size = len(text)
    worst = len(_render(message, _Counts(size, size, size, len(units.lines)))) if message else 0
    budget = max_length - worst - separators if message else max_length
    if budget < 0:
        # Very large counts made the message too long: drop it, keep text.
        message, budget = "", max_length
    head, tail = _select(units, budget, keep)
    if not message:
        return head.text + tail.text
    kept = head.kept + tail.kept
    remaining = len(units.lines) - head.lines - tail.lines
    marker = _render(message, _Counts(size - kept, size, kept, remaining))
    parts = [head.text]
    if head.text and not head.text.endswith(("\n", "\r")):
        parts.append("\n")
    parts.append(marker)
    if tail.text:
        parts.append("\n" + tail.text)
    return "".join(parts)


@dataclass
class _Side:
    """The text kept at one end of the input."""

    from_end: bool
    active: bool
    parts: list[str] = field(default_factory=list)
    used: int = 0
    kept: int = 0
    lines: int = 0

    def add(self, piece: Piece) -> None:
        self.parts.append(piece.text)
        self.used += len(piece.text)
        self.kept += piece.kept
        self.lines += piece.lines

    def piece(self) -> Piece:
        text = "".join(self.parts[::-1] if self.from_end else self.parts)
        return Piece(text, self.kept, self.lines)


def _select(units: Units, budget: int, keep: str) -> tuple[Piece, Piece]:
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
        side.add(Piece(text, len(text), last - first + 1))
        space -= len(text)
        low, high = (low, first - 1) if side.from_end else (last + 1, high)
    if low <= high:
        _shorten_blocked(units, (low, high), (head, tail), space, budget)
    return head.piece(), tail.piece()


def _shorten_blocked(
    units: Units, window: tuple[int, int], sides: tuple[_Side, _Side], space: int, budget: int
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
        head.add(Piece(start, len(start)))
        tail.add(Piece(end, len(end)))
        return
    if first is not None:
        piece = _shorten(first, space if last is None else (space + 1) // 2, False, alone)
        head.add(piece)
        space -= len(piece.text)
        alone = alone and not piece.kept
    if last is not None:
        tail.add(_shorten(last, space, True, alone))


def _shorten(unit: Unit, space: int, from_end: bool, alone: bool) -> Piece:
    if unit.traceback:
        piece = shorten_traceback(unit.lines, space)
        if piece is not None:
            return piece
        if not alone:
            return Piece("", 0)
    text = _keep_end(unit.text, space) if from_end else _keep_start(unit.text, space)
    return Piece(text, len(text))


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
                f"TextClipper truncation_message may only use the fields {{remaining}}, "
                f"{{removed}}, {{total}} and {{kept}}, with no conversion or format spec; "
                f"{message!r} uses {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}}."
            )


def _render(message: str, counts: _Counts) -> str:
    # The template was checked by _check_message: only these four plain fields.
    return message.format_map(
        {
            "remaining": counts.remaining,
            "removed": counts.removed,
            "total": counts.total,
            "kept": counts.kept,
        }
    )


#: The keys of a dict whose str value is the text, in order of preference.
TEXT_KEYS = ("text", "content", "message", "data")


def _text_of(value: Any) -> str:
    """The text to clip, taken as the published clipper takes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in TEXT_KEYS:
            if isinstance(value.get(key), str):
                return str(value[key])
        found = next((v for v in value.values() if isinstance(v, str)), None)
        return found if found is not None else str(value)
    return str(value)
