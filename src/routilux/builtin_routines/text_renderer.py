"""TextRenderer: render nested data as XML-like tags or as Markdown."""

from __future__ import annotations

import datetime
import html
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from routilux import DefinitionError, Routine
from routilux.builtin_routines._aliases import rename_aliases

__all__ = ["TextRenderer", "tag_name"]

FORMATS = ("xml", "markdown")
MAX_INDENT = 16
MAX_DEPTH_LIMIT = 100
MAX_HEADING = 6
Path = tuple[Any, ...]


class TextRenderer(Routine):
    """Render a dict or list, however nested, as XML-like tags or Markdown.

    Slot ``input`` takes the message's data as the published routines do
    (:meth:`Routine._extract_input_data`: ``data``, else the only value,
    else the whole message). Event ``output`` carries ``rendered_text`` and
    ``original_type`` (the data's type name, such as ``"dict"``). Dicts are
    rendered in their own key order, so the same data always gives the
    same text.

    Values may be dicts (any mapping), lists, tuples, ``str``, ``int``,
    ``float``, ``bool``, ``None``, dates and times (ISO format),
    ``Decimal`` and ``UUID``; anything else, sets included (they have no
    order), fails the delivery with a ``TypeError`` naming where it is.

    * ``"xml"``: ``<key>value</key>``, nested dicts as nested tags, each
      list item as an ``<item>`` tag; ``&``, ``<`` and ``>`` in values are
      escaped. Keys become tag names by :func:`tag_name`; when that changes
      a key, the tag carries the original as ``key="..."``.
    * ``"markdown"``: scalar entries as bullets ``- **key**: value``; nested
      dicts and lists as sections under headings, one level deeper per
      depth (bullets again past ``######``); a list of flat dicts with the
      same keys as a table; other lists as bullets.

    See ``docs/builtins/text-renderer.md`` for the exact rules.

    Config keys:
        tag_format: ``"xml"`` (default) or ``"markdown"``; also accepted
            as ``format``.
        indent: The string repeated once per nesting level (default
            ``"  "``, at most 16 characters, no line break), or a number of
            spaces (0-16).
        include_type_hints: Accepted for compatibility with the published
            routine, which never reads it; it changes nothing.
        root: ``None`` (default) or a name: in XML, the tag wrapping the
            whole output (it must be a valid tag name); in Markdown, a
            ``#`` title above it.
        max_depth: Levels of nesting rendered (1-100; 10); a dict or list
            nested deeper is rendered as a count, ``… (3 keys)``.

    Raises:
        DefinitionError: From ``set_config``, for a bad key value.
        TypeError: The data holds a value that cannot be rendered.
        ValueError: The data contains itself.
    """

    config_keys = ("tag_format", "indent", "include_type_hints", "root", "max_depth")

    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.render)
        self.define_event("output", ["rendered_text", "original_type"])
        self.set_config(
            tag_format="xml", indent="  ", include_type_hints=False, root=None, max_depth=10
        )

    def set_config(self, **config: Any) -> None:
        """Set config keys; ``format`` is another name for ``tag_format``."""
        super().set_config(**rename_aliases("TextRenderer", config, {"format": "tag_format"}))

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check the keys; see the class docstring."""
        fmt = config.get("tag_format")
        if fmt not in FORMATS:
            raise DefinitionError(
                f"TextRenderer tag_format must be 'xml' or 'markdown', not {fmt!r}."
            )
        if not isinstance(config.get("include_type_hints"), bool):
            raise DefinitionError(
                f"TextRenderer include_type_hints must be True or False, "
                f"not {config.get('include_type_hints')!r}."
            )
        root = config.get("root")
        if root is not None and (not isinstance(root, str) or not root.strip() or "\n" in root):
            raise DefinitionError(
                f"TextRenderer root must be None or a one-line, non-empty name, not {root!r}."
            )
        if fmt == "xml" and root is not None and tag_name(root) != root:
            raise DefinitionError(
                f"TextRenderer root {root!r} is not a valid XML tag name; "
                f"use, for example, {tag_name(root)!r}."
            )
        _check_indent(config.get("indent"))
        _check_int(config.get("max_depth"), "max_depth", 1, MAX_DEPTH_LIMIT)

    def render(self, data: Any = None, **kwargs: Any) -> None:
        """Render the data and emit ``output``."""
        value = self._extract_input_data(data, **kwargs)
        indent = self.get_config("indent")
        options = _Options(
            indent=indent if isinstance(indent, str) else " " * indent,
            max_depth=self.get_config("max_depth"),
        )
        root: str | None = self.get_config("root")
        if self.get_config("tag_format") == "xml":
            text = _XmlWriter(options).document(value, root)
        else:
            text = _MarkdownWriter(options).document(value, root)
        self.emit("output", rendered_text=text, original_type=type(value).__name__)


def tag_name(key: str) -> str:
    """Turn a key into an XML tag name.

    Every character other than a letter, a digit, ``_``, ``-`` or ``.`` (as
    in Python identifiers, so non-ASCII letters stay) becomes ``_``; a name
    that is empty or does not start with a letter or ``_`` gets a leading
    ``_``, and so does a name starting with ``xml`` in any case (reserved).
    """
    name = "".join(c if c in "-." or ("_" + c).isidentifier() else "_" for c in key)
    if not name or not name[0].isidentifier():
        name = "_" + name
    if name[:3].lower() == "xml":
        name = "_" + name
    return name


@dataclass
class _Options:
    indent: str
    max_depth: int
    on_path: set[int] = field(default_factory=set)


def _check_indent(indent: Any) -> None:
    if isinstance(indent, str):
        if len(indent) <= MAX_INDENT and "\n" not in indent and "\r" not in indent:
            return
        raise DefinitionError(
            f"TextRenderer indent must be a string of at most {MAX_INDENT} characters with no "
            f"line break, or a number of spaces from 0 to {MAX_INDENT}, not {indent!r}."
        )
    _check_int(indent, "indent", 0, MAX_INDENT)


def _check_int(value: Any, key: str, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DefinitionError(
            f"TextRenderer {key} must be an integer from {low} to {high}, not {value!r}."
        )


def _is_container(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def _entries(value: Any) -> list[tuple[Any, Any]]:
    """A container's (key, value) pairs; list items are keyed by their index."""
    if isinstance(value, Mapping):
        return list(value.items())
    return list(enumerate(value))


def _summary(value: Any) -> str:
    count = len(value)
    noun = ("key" if isinstance(value, Mapping) else "item") + ("" if count == 1 else "s")
    return f"… ({count} {noun})"


def _text(value: Any, path: Path) -> str:
    """The text of a scalar; refuses values whose text would not be well defined."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float, Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    hint = (
        "sets have no order; pass a sorted list"
        if isinstance(value, (set, frozenset))
        else ("use dicts, lists, str, numbers, bools, None, dates, Decimal or UUID")
    )
    raise TypeError(
        f"TextRenderer cannot render the {type(value).__name__} at {_where(path)}: {hint}."
    )


def _where(path: Path) -> str:
    return "data" + "".join(f"[{step!r}]" for step in path)


class _Writer:
    """What both formats share: depth limits and cycle checks."""

    def __init__(self, options: _Options) -> None:
        self.options = options

    def enter(self, value: Any, path: Path) -> None:
        if id(value) in self.options.on_path:
            raise ValueError(f"TextRenderer cannot render {_where(path)}: it contains itself.")
        self.options.on_path.add(id(value))

    def leave(self, value: Any) -> None:
        self.options.on_path.discard(id(value))

    def too_deep(self, depth: int) -> bool:
        return depth > self.options.max_depth

    def pad(self, level: int) -> str:
        return self.options.indent * level


class _XmlWriter(_Writer):
    def document(self, value: Any, root: str | None) -> str:
        lines: list[str] = []
        if root is not None:
            self.element(root, None, value, (), 1, 0, lines)
        elif _is_container(value):
            self.children(value, (), 1, 0, lines)
        else:
            lines.append(html.escape(_text(value, ()), quote=False))
        return "\n".join(lines)

    def element(
        self,
        tag: str,
        key: str | None,
        value: Any,
        path: Path,
        depth: int,
        level: int,
        lines: list[str],
    ) -> None:
        pad = self.pad(level)
        attribute = "" if key is None or key == tag else f' key="{html.escape(key)}"'
        if not _is_container(value) or not value or self.too_deep(depth):
            text = (
                _summary(value) if _is_container(value) and value else _text_or_empty(value, path)
            )
            lines.append(f"{pad}<{tag}{attribute}>{html.escape(text, quote=False)}</{tag}>")
            return
        lines.append(f"{pad}<{tag}{attribute}>")
        self.children(value, path, depth, level + 1, lines)
        lines.append(f"{pad}</{tag}>")

    def children(self, value: Any, path: Path, depth: int, level: int, lines: list[str]) -> None:
        self.enter(value, path)
        is_map = isinstance(value, Mapping)
        for key, child in _entries(value):
            name = _text(key, path) if is_map else "item"
            tag = tag_name(name) if is_map else "item"
            self.element(tag, name, child, (*path, key), depth + 1, level, lines)
        self.leave(value)


def _text_or_empty(value: Any, path: Path) -> str:
    return "" if _is_container(value) else _text(value, path)


class _MarkdownWriter(_Writer):
    def document(self, value: Any, root: str | None) -> str:
        blocks: list[list[str]] = [[f"# {root}"]] if root is not None else []
        if _is_container(value):
            self.section(value, (), 1, 1 if root is None else 2, blocks)
        else:
            blocks.append([_text(value, ())])
        return "\n\n".join("\n".join(block) for block in blocks if block)

    def section(
        self, value: Any, path: Path, depth: int, heading: int, blocks: list[list[str]]
    ) -> None:
        """Render a container as blocks: bullets, tables, and sections under headings."""
        if not isinstance(value, Mapping):
            table = self.table(value, path, depth)
            blocks.append(table if table is not None else self.bullets(value, path, depth, 0))
            return
        self.enter(value, path)
        inline: dict[Any, Any] = {}
        sections: list[tuple[Any, Any]] = []
        for key, child in value.items():
            nested = _is_container(child) and child and not self.too_deep(depth + 1)
            if nested and heading <= MAX_HEADING:
                sections.append((key, child))
            else:
                inline[key] = child
        # Bullets first: after a heading, a bullet would read as part of that section.
        blocks.append(self.bullets(inline, path, depth, 0, entered=True))
        for key, child in sections:
            blocks.append([f"{'#' * heading} {_one_line(_text(key, path))}"])
            self.section(child, (*path, key), depth + 1, heading + 1, blocks)
        self.leave(value)

    def bullets(
        self, value: Any, path: Path, depth: int, level: int, *, entered: bool = False
    ) -> list[str]:
        """Nested bullet lines for a container at ``depth``."""
        if not entered:
            self.enter(value, path)
        pad, lines = self.pad(level), []
        is_map = isinstance(value, Mapping)
        for key, child in _entries(value):
            label = f"**{_one_line(_text(key, path))}**:" if is_map else f"Item {key + 1}"
            child_path = (*path, key)
            if not _is_container(child):
                text = _text(child, child_path).replace("\n", "\n" + pad + "  ")
                lines.append(f"{pad}- {label} {text}" if is_map else f"{pad}- {text}")
            elif not child or self.too_deep(depth + 1):
                shown = _summary(child) if child else "(empty)"
                lines.append(f"{pad}- {label} {shown}" if is_map else f"{pad}- {shown}")
            else:
                lines.append(f"{pad}- {label}")
                lines.extend(self.bullets(child, child_path, depth + 1, level + 1))
        if not entered:
            self.leave(value)
        return lines

    def table(self, items: Sequence[Any], path: Path, depth: int) -> list[str] | None:
        """A table for a non-empty list of flat dicts with the same keys, else ``None``."""
        if (
            not items
            or self.too_deep(depth + 1)
            or not all(isinstance(item, Mapping) and item for item in items)
        ):
            return None
        keys = list(items[0])
        if any(set(item) != set(keys) for item in items) or any(
            _is_container(v) for item in items for v in item.values()
        ):
            return None
        header = [_cell(_text(k, path)) for k in keys]
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(keys)]
        for index, item in enumerate(items):
            cells = [_cell(_text(item[k], (*path, index, k))) for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
        return lines


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
