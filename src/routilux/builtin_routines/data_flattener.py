"""DataFlattener: turn nested dicts and lists into one level of joined keys, and back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from routilux import DefinitionError, ExecutionError, Routine

__all__ = ["DataFlattener"]

_NO_DATA: Any = object()
_MISSING: Any = object()
MODES = ("flatten", "unflatten")
#: Longest separator accepted, in characters.
MAX_SEPARATOR_LENGTH = 100


class DataFlattener(Routine):
    """Flatten nested data into one level of joined keys, or rebuild nested data from them.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message), which must be a dict.

    ``mode="flatten"`` turns ``{"user": {"name": "Ada"}, "items": [{"sku":
    "A1"}]}`` into ``{"user.name": "Ada", "items.0.sku": "A1"}``. Keys are
    joined with ``separator``; a list's items are keyed by their index when
    ``flatten_lists`` is on, else the list is kept as a value. An empty dict
    or list is kept as a value, so that unflattening rebuilds it. A str key
    is used as it is; an int key is written with ``str()`` (``{1: "x"}``
    gives the key ``"1"``); a key of any other type fails the delivery.

    ``mode="unflatten"`` does the reverse: each key is split on
    ``separator`` and the parts build nested dicts. With ``flatten_lists``,
    a rebuilt dict whose keys are exactly ``"0"`` ... ``"n-1"`` becomes a
    list (the top level always stays a dict). Keys must be strings.

    The round trip is exact unless the data has keys that contain the
    separator, int keys, or dicts keyed ``"0"`` ... ``"n-1"``: those come
    back split, as strings, or as lists.

    Two keys that meet (flattening ``{"a.b": 1, "a": {"b": 2}}``, or
    unflattening ``{"a": 1, "a.b": 2}``) fail the delivery with an
    ``ExecutionError`` naming the key, as does a dict or list that contains
    itself. The input is never modified.

    Events:
        output: ``data`` - the flattened (or rebuilt) dict.

    Config keys:
        mode: ``"flatten"`` (default) or ``"unflatten"``.
        separator: The non-empty string that joins key parts (default ``"."``).
        max_depth: How many levels of nesting to flatten (or, unflattening,
            how many times to split a key), or ``None`` (default) for all:
            with ``max_depth=1``, ``{"a": {"b": {"c": 1}}}`` flattens to
            ``{"a.b": {"c": 1}}``.
        flatten_lists: Whether lists are flattened by index, and rebuilt
            (default ``True``).

    Raises:
        DefinitionError: From ``set_config``, for a bad value of any key.
    """

    config_keys = ("mode", "separator", "max_depth", "flatten_lists")

    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("output", ["data"])
        self.set_config(mode="flatten", separator=".", max_depth=None, flatten_lists=True)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check the keys; see the class docstring."""
        mode = config.get("mode", "flatten")
        if mode not in MODES:
            raise DefinitionError(
                f"DataFlattener mode must be 'flatten' or 'unflatten', not {mode!r}."
            )
        separator = config.get("separator", ".")
        if not isinstance(separator, str) or not 0 < len(separator) <= MAX_SEPARATOR_LENGTH:
            raise DefinitionError(
                f"DataFlattener separator must be a non-empty string of at most "
                f"{MAX_SEPARATOR_LENGTH} characters, not {separator!r}."
            )
        depth = config.get("max_depth")
        if depth is not None and (
            not isinstance(depth, int) or isinstance(depth, bool) or depth < 0
        ):
            raise DefinitionError(
                f"DataFlattener max_depth must be a whole number of zero or more, or None, "
                f"not {depth!r}."
            )
        if not isinstance(config.get("flatten_lists", True), bool):
            raise DefinitionError(
                f"DataFlattener flatten_lists must be True or False, "
                f"not {config.get('flatten_lists')!r}."
            )

    def process(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit ``output`` with the flattened (or unflattened) data."""
        message = kwargs if data is _NO_DATA else data
        if not isinstance(message, Mapping):
            raise ExecutionError(
                f"DataFlattener expects data to be a dict, not {type(message).__name__}."
            )
        config = self.config()
        if config["mode"] == "flatten":
            result = _flatten(
                message, config["separator"], config["max_depth"], config["flatten_lists"]
            )
        else:
            result = _unflatten(
                message, config["separator"], config["max_depth"], config["flatten_lists"]
            )
        self.emit("output", data=result)


def _children(node: Any) -> Iterator[tuple[Any, Any]]:
    return iter(node.items()) if isinstance(node, Mapping) else enumerate(node)


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise ExecutionError(
        f"DataFlattener cannot flatten the key {key!r} of type {type(key).__name__}; "
        "keys must be str (or int, written with str())."
    )


def _flatten(
    data: Mapping[Any, Any], separator: str, max_depth: int | None, lists: bool
) -> dict[str, Any]:
    """Flatten ``data``; see :class:`DataFlattener`. Iterative, so any depth works.

    Raises:
        ExecutionError: Two keys meet, a key is not a str or int, or a
            container contains itself.
    """
    containers: tuple[type, ...] = (Mapping, list, tuple) if lists else (Mapping,)
    result: dict[str, Any] = {}
    stack: list[tuple[str | None, Iterator[tuple[Any, Any]], int, int]] = [
        (None, _children(data), 0, id(data))
    ]
    open_ids = {id(data)}  # The containers on the stack, to catch cycles.
    while stack:
        prefix, children, depth, node_id = stack[-1]
        entry = next(children, None)
        if entry is None:
            stack.pop()
            open_ids.discard(node_id)
            continue
        key, value = entry
        name = _key_text(key) if prefix is None else f"{prefix}{separator}{_key_text(key)}"
        if isinstance(value, containers) and value and (max_depth is None or depth < max_depth):
            if id(value) in open_ids:
                raise ExecutionError(f"DataFlattener found a cycle: {name!r} contains itself.")
            stack.append((name, _children(value), depth + 1, id(value)))
            open_ids.add(id(value))
        elif name in result:
            raise ExecutionError(
                f"DataFlattener gives two values the key {name!r}; rename one of the keys "
                "or choose another separator."
            )
        else:
            result[name] = value
    return result


def _unflatten(
    data: Mapping[Any, Any], separator: str, max_depth: int | None, lists: bool
) -> dict[str, Any]:
    """Rebuild nested data from joined keys; see :class:`DataFlattener`.

    Raises:
        ExecutionError: A key is not a str, or is both a value and the
            prefix of another key.
    """
    root: dict[str, Any] = {}
    built: list[tuple[dict[str, Any], str, dict[str, Any]]] = []  # (parent, key, dict)
    mine = {id(root)}
    for key, value in data.items():
        if not isinstance(key, str):
            raise ExecutionError(
                f"DataFlattener can only unflatten str keys, not {key!r} of type "
                f"{type(key).__name__}."
            )
        parts = key.split(separator, -1 if max_depth is None else max_depth)
        node = root
        for part in parts[:-1]:
            child = node.get(part, _MISSING)
            if child is _MISSING:
                child = {}
                node[part] = child
                mine.add(id(child))
                built.append((node, part, child))
            elif id(child) not in mine:
                raise _clash(key, separator)
            node = child
        if parts[-1] in node:
            raise _clash(key, separator)
        node[parts[-1]] = value
    if lists:
        for parent, key, node in reversed(built):  # Children were built after their parents.
            if all(k == str(i) for i, k in enumerate(node)):
                parent[key] = list(node.values())
    return root


def _clash(key: str, separator: str) -> ExecutionError:
    return ExecutionError(
        f"DataFlattener cannot unflatten the key {key!r}: a part of it is both a value and "
        f"a container of other keys (separator {separator!r})."
    )
