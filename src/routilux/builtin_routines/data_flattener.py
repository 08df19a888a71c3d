"""DataFlattener: turn nested dicts and lists into one level of joined keys, and back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from routilux import DefinitionError, ExecutionError, Routine
from routilux.builtin_routines._aliases import rename_aliases

__all__ = ["DataFlattener"]

_ALIASES = {"flatten_lists": "preserve_lists"}
_MISSING: Any = object()
MODES = ("flatten", "unflatten")
#: Longest separator accepted, in characters.
MAX_SEPARATOR_LENGTH = 100


class DataFlattener(Routine):
    """Flatten nested data into one level of joined keys, or rebuild nested data from them.

    Slot ``input`` takes the message's data as the published routines do
    (:meth:`Routine._extract_input_data`: ``data``, else the only value,
    else the whole message).

    Flattening turns ``{"user": {"name": "Ada"}, "items": [{"sku": "A1"}]}``
    into ``{"user.name": "Ada", "items.0.sku": "A1"}``. Keys are joined
    with ``separator``; a list's items are keyed by their index when
    ``preserve_lists`` is on, else the list is kept as a value. A value
    that is neither a dict nor a list (``42``) gives ``{"value": 42}``. An
    empty dict or list is kept as a value, so that unflattening rebuilds
    it. A str key is used as it is; an int key is written with ``str()``
    (``{1: "x"}`` gives the key ``"1"``); a key of any other type fails the
    delivery.

    ``mode="unflatten"`` does the reverse: the data must be a dict; each
    key is split on ``separator`` and the parts build nested dicts. With
    ``preserve_lists``, a rebuilt dict whose keys are exactly ``"0"`` ...
    ``"n-1"`` becomes a list (the top level always stays a dict).

    Two keys that meet (flattening ``{"a.b": 1, "a": {"b": 2}}``, or
    unflattening ``{"a": 1, "a.b": 2}``) fail the delivery with an
    ``ExecutionError`` naming the key, as does a dict or list that contains
    itself. The input is never modified.

    Events:
        output: ``flattened_data`` (the flat dict), ``original_type``
            (``"dict"``, ``"list"`` or the type's name, such as ``"int"``)
            and ``depth`` (the number of key parts of the deepest value: 2
            for ``{"a": {"b": 1}}``, 0 for ``42`` or ``{}``). With
            ``mode="unflatten"``: ``unflattened_data`` (the rebuilt dict),
            ``original_type`` (``"dict"``) and ``depth`` (of the rebuilt data).

    Config keys:
        separator: The non-empty string that joins key parts (default ``"."``).
        preserve_lists: Whether lists are flattened by index, and rebuilt
            (default ``True``). Also accepted as ``flatten_lists``.
        max_depth: How many levels of nesting to flatten (default 100), or
            ``None`` for all; deeper containers are kept as values. With
            ``max_depth=1``, ``{"a": {"b": {"c": 1}}}`` flattens to
            ``{"a.b": {"c": 1}}``. Unflattening, how many times a key is split.
        mode: ``"flatten"`` (default) or ``"unflatten"``.

    Raises:
        DefinitionError: From ``set_config``, for a bad value of any key.
    """

    config_keys = ("separator", "preserve_lists", "max_depth", "mode")

    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("output", ["flattened_data", "original_type", "depth"])
        self.set_config(separator=".", preserve_lists=True, max_depth=100, mode="flatten")

    def set_config(self, **config: Any) -> None:
        """Set config keys; ``flatten_lists`` is another name for ``preserve_lists``."""
        super().set_config(**rename_aliases("DataFlattener", config, _ALIASES))

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
        if not isinstance(config.get("preserve_lists", True), bool):
            raise DefinitionError(
                f"DataFlattener preserve_lists must be True or False, "
                f"not {config.get('preserve_lists')!r}."
            )

    def process(self, data: Any = None, **kwargs: Any) -> None:
        """Emit ``output`` with the flattened (or unflattened) data."""
        value = self._extract_input_data(data, **kwargs)
        config = self.config()
        separator, max_depth, lists = (
            config["separator"],
            config["max_depth"],
            config["preserve_lists"],
        )
        if config["mode"] == "unflatten":
            if not isinstance(value, Mapping):
                raise ExecutionError(
                    f"DataFlattener unflattens a dict, not {type(value).__name__}."
                )
            rebuilt = _unflatten(value, separator, max_depth, lists)
            depth = _flatten(rebuilt, separator, None, lists)[1]
            self.emit("output", unflattened_data=rebuilt, original_type="dict", depth=depth)
            return
        if isinstance(value, Mapping) or (lists and isinstance(value, list)):
            flat, depth = _flatten(value, separator, max_depth, lists)
        else:
            flat, depth = {"value": value}, 0
        self.emit("output", flattened_data=flat, original_type=_type_name(value), depth=depth)


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "dict"
    return "list" if isinstance(value, list) else type(value).__name__


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
    data: Mapping[Any, Any] | list[Any], separator: str, max_depth: int | None, lists: bool
) -> tuple[dict[str, Any], int]:
    """Flatten ``data``; see :class:`DataFlattener`. Iterative, so any depth works.

    Returns:
        The flat dict, and the number of key parts of its longest key (0 if empty).

    Raises:
        ExecutionError: Two keys meet, a key is not a str or int, or a
            container contains itself.
    """
    containers: tuple[type, ...] = (Mapping, list, tuple) if lists else (Mapping,)
    result: dict[str, Any] = {}
    deepest = 0
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
            deepest = max(deepest, depth + 1)
    return result, deepest


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
