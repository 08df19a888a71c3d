"""YAML text to JSON values, with the line of every key and item.

PyYAML's safe composer gives a tree of nodes that know their lines; this
module turns the tree into JSON values itself, so that it can refuse what a
flow document cannot hold, at its line: tags other than the plain ones
(``!!python/...`` included), anchors and aliases (they would let a small file
expand into a huge document), merge keys, dates and binary scalars, NaN and
infinity, keys that are not strings, and a key given twice in one mapping.
"""

from __future__ import annotations

import math
import re
from types import ModuleType
from typing import TYPE_CHECKING, Any

from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    import yaml

__all__ = ["DocPath", "compose_yaml", "dotted", "import_yaml"]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null"))
_NOT_JSON = {
    f"{_TAG}timestamp": "is a YAML date or time; quote it to make it a string",
    f"{_TAG}binary": "is YAML binary data, which a flow document cannot hold",
    f"{_TAG}merge": "is a YAML merge key, which flow files do not support",
}


#: A place in a document: the keys and indexes from the top.
DocPath = tuple[str | int, ...]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
            'Reading YAML flow files needs PyYAML: pip install "routilux[cli]"'
        ) from None
    return yaml


def compose_yaml(text: str, name: str) -> tuple[Any, dict[DocPath, int]]:
    """Parse one YAML document into JSON values and the line of each place.

    Args:
        text: The YAML text.
        name: The file's name, for messages.

    Returns:
        The document, and the 1-based line of each key (for a mapping entry)
        and item (for a sequence item), by its path from the top.

    Raises:
        SerializationError: The text is not one valid YAML document, or holds
            something JSON cannot; the message starts with ``name:line:``.
        ImportError: PyYAML is not installed.
    """
    yaml = import_yaml()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise SerializationError(_syntax_message(exc, name)) from None
    except yaml.YAMLError as exc:
        raise SerializationError(f"{name}: invalid YAML: {exc}") from None
    except RecursionError:
        raise SerializationError(f"{name}: the YAML is nested too deeply.") from None
    if node is None:
        raise SerializationError(
            f"{name}:1: the file holds no YAML document; a flow file holds one flow document "
            "(schema: routilux.flow)."
        )
    converter = _Converter(yaml, name)
    try:
        document = converter.value(node, ())
    except RecursionError:
        raise SerializationError(f"{name}: the YAML is nested too deeply.") from None
    return document, converter.lines


def _syntax_message(exc: yaml.MarkedYAMLError, name: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = exc.problem or "invalid syntax"
    context = exc.context
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        context += f" started on line {exc.context_mark.line + 1}"
    return f"{name}{line}: invalid YAML: {problem}" + (f" ({context})." if context else ".")


class _Converter:
    """Turns composed nodes into JSON values, recording lines on the way."""

    def __init__(self, yaml: ModuleType, name: str) -> None:
        self.yaml = yaml
        self.name = name
        self.loader = yaml.SafeLoader("")
        self.lines: dict[DocPath, int] = {}
        self.seen: set[int] = set()

    def fail(self, line: int, at: DocPath, problem: str) -> SerializationError:
        place = f"{dotted(at)}: " if at else ""
        return SerializationError(f"{self.name}:{line}: {place}{problem}")

    def value(self, node: yaml.Node, at: DocPath) -> Any:
        if id(node) in self.seen:
            raise self.fail(
                self.lines.get(at, node.start_mark.line + 1),
                at,
                "YAML aliases (*name) are not supported; write the value out "
                f"(it repeats the one on line {node.start_mark.line + 1}).",
            )
        self.seen.add(id(node))
        self.lines.setdefault(at, node.start_mark.line + 1)
        if isinstance(node, self.yaml.MappingNode):
            return self.mapping(node, at)
        if isinstance(node, self.yaml.SequenceNode):
            self.check_tag(node, at, f"{_TAG}seq")
            return [self.value(item, (*at, i)) for i, item in enumerate(node.value)]
        return self.scalar(node, at)

    def mapping(self, node: yaml.MappingNode, at: DocPath) -> dict[str, Any]:
        self.check_tag(node, at, f"{_TAG}map")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, at)
            if key in result:
                raise self.fail(
                    key_node.start_mark.line + 1,
                    at,
                    f"the key {key[:80]!r} appears twice in one mapping.",
                )
            place = (*at, key)
            self.lines[place] = key_node.start_mark.line + 1
            result[key] = self.value(value_node, place)
        return result

    def key(self, node: yaml.Node, at: DocPath) -> str:
        line = node.start_mark.line + 1
        if id(node) in self.seen or not isinstance(node, self.yaml.ScalarNode):
            raise self.fail(line, at, "a mapping key must be a plain string.")
        self.seen.add(id(node))
        key = self.scalar(node, at)
        if not isinstance(key, str):
            raise self.fail(line, at, f"the key {key!r} is not a string; quote it.")
        return key

    def scalar(self, node: yaml.Node, at: DocPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self.check_tag(node, at, f"{_TAG}str")
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(
                node.start_mark.line + 1,
                at,
                f"{node.value!r} is not a JSON number (no NaN or infinity).",
            )
        return value

    def check_tag(self, node: yaml.Node, at: DocPath, expected: str) -> None:
        if node.tag == expected:
            return
        problem = _NOT_JSON.get(node.tag)
        if problem is None:
            tag = node.tag.replace(_TAG, "!!")
            problem = f"has the YAML tag {tag[:80]!r}; flow files hold plain values only"
        if isinstance(node, self.yaml.ScalarNode):
            what = repr(node.value[:80])
        else:
            what = "this " + ("mapping" if isinstance(node, self.yaml.MappingNode) else "list")
        raise self.fail(node.start_mark.line + 1, at, f"{what} {problem}.")
