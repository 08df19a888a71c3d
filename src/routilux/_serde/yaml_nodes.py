"""YAML text to JSON values, with the line of every key and item.

PyYAML's parser (libyaml, its C parser, when PyYAML has it) gives a stream of
events that know their lines; this module builds JSON values from them
itself, event by event, so that it can refuse what a flow document cannot
hold, at its line: tags other than the plain ones (``!!python/...``
included), aliases (they would let a small file expand into a huge
document), merge keys, dates and binary scalars, numbers not written in
decimal, NaN and infinity, keys that are not strings, and a key given twice
in one mapping. No tree of nodes is built (PyYAML's composer would take
hundreds of times the file's size), and the limits of a flow document are
enforced as the events come, so a file costs time and memory in proportion
to its size.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from routilux._install import install_command
from routilux._serde._doc_reader import MAX_DOCUMENT_DEPTH, MAX_STRING_LENGTH
from routilux._serde.doc_lines import DocPath, DocumentLines
from routilux._serde.yaml_scalars import SCALAR_TAGS, TAG_PREFIX, ScalarRefused, scalar_value
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    import yaml

__all__ = [
    "MAX_NODES",
    "MAX_NODES_WITHOUT_LIBYAML",
    "DocPath",
    "compose_yaml",
    "dotted",
    "has_libyaml",
    "import_yaml",
]

#: Most values (mappings, lists, scalars and keys) a YAML flow file may hold.
MAX_NODES = 1_000_000
#: The same when PyYAML lacks libyaml: its parser in pure Python is some 20
#: times slower (about 4 seconds for this many values).
MAX_NODES_WITHOUT_LIBYAML = 200_000
_NOT_JSON = {
    f"{TAG_PREFIX}timestamp": "is a YAML date or time; quote it to make it a string",
    f"{TAG_PREFIX}binary": "is YAML binary data, which a flow document cannot hold",
    f"{TAG_PREFIX}merge": "is a YAML merge key, which flow files do not support",
}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_INTEGER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_INT_TAG = f"{TAG_PREFIX}int"


def dotted(where: DocPath) -> str:
    """``('routines', 'router', 'config')`` as ``routines.router.config``."""
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def import_yaml() -> ModuleType:
    """PyYAML, or an ImportError that names the extra to install."""
    try:
        import yaml
    except ImportError:
        raise ImportError(
            "Reading YAML flow files needs PyYAML; install the cli extra from a clone of "
            f"routilux: {install_command('cli')}"
        ) from None
    return yaml


def compose_yaml(text: str, name: str) -> tuple[Any, Mapping[DocPath, int]]:
    """Parse one YAML document into JSON values and the line of each place.

    The limits of a flow document are enforced while the text is parsed, so
    that a hostile file costs no more than its size: at most
    :data:`MAX_NODES` values (:data:`MAX_NODES_WITHOUT_LIBYAML` when PyYAML
    parses in pure Python), strings and keys of at most
    ``MAX_STRING_LENGTH`` characters, integers of at most ``MAX_INT_DIGITS``
    digits, nesting at most ``MAX_DOCUMENT_DEPTH`` deep.

    Args:
        text: The YAML text.
        name: The file's name, for messages.

    Returns:
        The document, and the 1-based line of each key (for a mapping entry)
        and item (for a sequence item), by its path from the top.

    Raises:
        SerializationError: The text is not one valid YAML document, holds
            something JSON cannot, or exceeds a limit; the message starts
            with ``name:line:``.
        ImportError: PyYAML is not installed.
    """
    yaml = import_yaml()
    fast = has_libyaml(yaml)
    loader = (yaml.CSafeLoader if fast else yaml.SafeLoader)(text)
    try:
        return _Builder(
            yaml, loader, name, MAX_NODES if fast else MAX_NODES_WITHOUT_LIBYAML
        ).document()
    except yaml.MarkedYAMLError as exc:
        raise SerializationError(_syntax_message(exc, name)) from None
    except yaml.YAMLError as exc:
        raise SerializationError(f"{name}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def has_libyaml(yaml: ModuleType) -> bool:
    """Whether PyYAML was built with libyaml, its parser in C (some 20 times faster)."""
    return bool(getattr(yaml, "__with_libyaml__", False))


def _syntax_message(exc: yaml.MarkedYAMLError, name: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = exc.problem or "invalid syntax"
    context = exc.context
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        context += f" started on line {exc.context_mark.line + 1}"
    return f"{name}{line}: invalid YAML: {problem}" + (f" ({context})." if context else ".")


class _Frame:
    """An open mapping or list, and where the next value goes in it."""

    __slots__ = ("container", "key", "key_line", "place")

    def __init__(self, container: dict[str, Any] | list[Any], place: str | int | None) -> None:
        self.container = container
        self.place = place  # Its key or index in the enclosing one (None: the top).
        self.key: str | None = None  # In a mapping: the key read, whose value comes next.
        self.key_line = 0


class _Builder:
    """Turns the parser's events into JSON values, recording lines and limits on the way.

    Events are consumed one at a time and no tree of nodes is built, so the
    memory used is that of the document itself plus four bytes a value.
    """

    def __init__(self, yaml: ModuleType, loader: Any, name: str, max_nodes: int) -> None:
        self.yaml = yaml
        self.loader = loader
        self.name = name
        self.max_nodes = max_nodes
        # First characters no implicit resolver looks at: a plain scalar that
        # starts with one is a string (most keys and words), with no regex tried.
        resolvers = loader.yaml_implicit_resolvers
        self.plain_strings = (
            frozenset()
            if None in resolvers
            else frozenset(map(chr, range(32, 127))) - set(resolvers) - {""}
        )
        self.lines = array("I")
        self.nodes = 0
        self.anchors: dict[str, int] = {}
        self.stack: list[_Frame] = []

    def fail(self, line: int, at: DocPath, problem: str) -> SerializationError:
        place = f"{dotted(at)}: " if at else ""
        return SerializationError(f"{self.name}:{line}: {place}{problem}")

    def where(self, *, child: bool = True) -> DocPath:
        """The place of the value being read (``child``), or of its enclosing one."""
        parts = [frame.place for frame in self.stack[1:]]
        if child and self.stack:
            top = self.stack[-1]
            parts.append(top.key if isinstance(top.container, dict) else len(top.container))
        return tuple(part for part in parts if part is not None)

    def document(self) -> tuple[Any, Mapping[DocPath, int]]:
        """Read the stream's one document."""
        events, loader = self.yaml.events, self.loader
        loader.get_event()  # The stream's start.
        if loader.check_event(events.StreamEndEvent):
            raise SerializationError(
                f"{self.name}:1: the file holds no YAML document; a flow file holds one flow "
                "document (schema: routilux.flow)."
            )
        start = loader.get_event()
        root = self.value()
        loader.get_event()  # The document's end.
        if not loader.check_event(events.StreamEndEvent):
            raise self.yaml.composer.ComposerError(
                "expected a single document in the stream",
                start.start_mark,
                "but found another document",
                loader.get_event().start_mark,
            )
        return root, DocumentLines(root, self.lines)

    def value(self) -> Any:  # noqa: C901 - the hot loop: each call taken out costs one per event
        """Read one value (the document's), container events included."""
        # The hot loop of a large file: one pass per event, with few calls
        # (the rare cases - anchors, limits, refusals - are methods).
        scalar_event = self.yaml.events.ScalarEvent
        starts = (self.yaml.events.MappingStartEvent, self.yaml.events.SequenceStartEvent)
        values = (scalar_event, *starts, self.yaml.events.AliasEvent)
        get_event, stack, lines, root = self.loader.get_event, self.stack, self.lines, None
        plain_strings = self.plain_strings
        while True:
            event = get_event()
            kind = type(event)
            if kind not in values:  # The end of a mapping or list.
                stack.pop()
                if not stack:
                    return root
                continue
            self.nodes += 1
            if self.nodes > self.max_nodes or event.anchor is not None:
                self.count(event)
            top = stack[-1] if stack else None
            if top is not None and top.key is None and type(top.container) is dict:
                if kind is scalar_event and _usual_key(event, top.container, plain_strings):
                    top.key, top.key_line = event.value, _line(event)
                else:
                    self.key(event, top)
                continue
            line = top.key_line if top is not None and top.key is not None else _line(event)
            lines.append(line)
            item = self.scalar(event, line) if kind is scalar_event else self.item(event, line)
            if top is None:
                root = item
            elif top.key is not None:
                top.container[top.key] = item  # type: ignore[call-overload]
                top.key = None
            else:
                top.container.append(item)  # type: ignore[union-attr]
            if kind in starts:
                self.open(item, top)
            elif top is None:
                return root

    def count(self, event: Any) -> None:
        """Refuse one value too many; note the line of an anchor (for a later alias)."""
        if self.nodes > self.max_nodes:
            slower = (
                ""
                if self.max_nodes == MAX_NODES
                else f" when PyYAML parses without libyaml ({MAX_NODES} with it)"
            )
            raise self.fail(
                _line(event),
                self.where(),
                f"the file holds more than {self.max_nodes} values (keys, items and scalars); "
                f"a YAML flow file may hold at most {self.max_nodes}{slower}: split the data, "
                "or write the file in JSON.",
            )
        if not isinstance(event, self.yaml.events.AliasEvent):
            self.anchors.setdefault(event.anchor, _line(event))

    def open(self, container: dict[str, Any] | list[Any], top: _Frame | None) -> None:
        if top is None:
            place: str | int | None = None
        elif isinstance(top.container, dict):
            place = next(reversed(top.container))
        else:
            place = len(top.container) - 1
        self.stack.append(_Frame(container, place))

    def item(self, event: Any, line: int) -> Any:
        """The new (empty) mapping or list an event starts; an alias is refused."""
        events = self.yaml.events
        if len(self.stack) > MAX_DOCUMENT_DEPTH:
            raise self.fail(
                line, self.where(), f"the YAML nests deeper than {MAX_DOCUMENT_DEPTH} levels."
            )
        if type(event) is events.MappingStartEvent:
            self.check_tag(event, f"{TAG_PREFIX}map", "this mapping", line)
            return {}
        if type(event) is events.SequenceStartEvent:
            self.check_tag(event, f"{TAG_PREFIX}seq", "this list", line)
            return []
        first = self.anchors.get(event.anchor)
        repeats = f"it repeats the one on line {first}" if first else "its anchor is unknown"
        raise self.fail(
            line,
            self.where(),
            f"YAML aliases (*name) are not supported; write the value out ({repeats}).",
        )

    def scalar(self, event: Any, line: int) -> Any:
        """A scalar's value (a key's, when the mapping on top waits for a key)."""
        text: str = event.value
        if len(text) > MAX_STRING_LENGTH:
            raise self.fail(
                line,
                self.where(),
                f"a string of {len(text)} characters; at most {MAX_STRING_LENGTH} are allowed.",
            )
        tag = event.tag
        if tag is None and (not event.implicit[0] or text[:1] in self.plain_strings):
            return text  # Quoted, a block scalar, or a plain word no resolver reads.
        if tag is None and _PLAIN_INTEGER.fullmatch(text):
            tag = _INT_TAG  # What the resolver would say, sooner (a list of numbers).
        elif tag is None or tag == "!":
            tag = self.loader.resolve(self.yaml.ScalarNode, text, event.implicit)
        if tag not in SCALAR_TAGS:
            self.check_tag(event, f"{TAG_PREFIX}str", repr(text[:80]), line, tag=tag)
        try:
            return scalar_value(tag, text)
        except ScalarRefused as exc:
            raise self.fail(line, self.where(), str(exc)) from None

    def key(self, event: Any, top: _Frame) -> None:
        line = _line(event)
        if not isinstance(event, self.yaml.events.ScalarEvent):
            raise self.fail(line, self.where(), "a mapping key must be a plain string.")
        key = self.scalar(event, line)  # Its place is the mapping's: no key is read yet.
        if not isinstance(key, str):
            raise self.fail(
                line, self.where(), f"the key {event.value[:80]} is not a string; quote it."
            )
        if key in top.container:
            raise self.fail(
                line, self.where(), f"the key {key[:80]!r} appears twice in one mapping."
            )
        top.key, top.key_line = key, line

    def check_tag(
        self, event: Any, expected: str, what: str, line: int, *, tag: str | None = None
    ) -> None:
        """Refuse a tag other than ``expected`` (the plain one), naming what it means."""
        tag = event.tag if tag is None else tag
        if tag is None or tag in ("!", expected):
            return
        problem = _NOT_JSON.get(tag)
        if problem is None:
            shown = tag.replace(TAG_PREFIX, "!!")
            problem = f"has the YAML tag {shown[:80]!r}; flow files hold plain values only"
        raise self.fail(line, self.where(), f"{what} {problem}.")


def _usual_key(event: Any, mapping: dict[str, Any], plain_strings: frozenset[str]) -> bool:
    """Whether a scalar is the usual key: a plain word or a quoted string, new in ``mapping``."""
    text: str = event.value
    return (
        event.tag is None
        and (not event.implicit[0] or text[:1] in plain_strings)
        and text not in mapping
        and len(text) <= MAX_STRING_LENGTH
    )


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1
