"""Mapper: build a new dict from a message by dotted-path field mappings."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from routilux import DefinitionError, ExecutionError, Routine
from routilux.builtin_routines._data_paths import (
    MISSING,
    PathError,
    get_path,
    parse_path,
    set_path,
)

__all__ = ["Mapper"]

_NO_DATA: Any = object()
#: A compiled mapping: (target path, target segments, source segments).
_Rule = tuple[str, tuple[str, ...], tuple[str, ...]]


class Mapper(Routine):
    """Build a new dict from the fields of each message, by dotted paths.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message), which must be a dict. For each mapping ``target: source`` the
    value found at the source path is written at the target path of a new
    dict, which is emitted. Paths are segments joined by ``.``; reading, a
    segment is a dict key or, on a list, a decimal index (``"items.0.sku"``);
    writing, missing segments are created as dicts. The input is never
    modified.

    Events:
        output: ``data`` - the mapped dict.

    Config keys:
        mappings: ``{target_path: source_path}``, applied in order
            (default ``{}``).
        defaults: ``{target_path: value}``, written (as a deep copy) when the
            source path of that target finds nothing (default ``{}``).
        strict: When ``True``, a source that finds nothing and has no
            default fails the delivery with an ``ExecutionError`` naming both
            paths; when ``False`` (default) the target is left out.
        keep_unmapped: When ``True``, the top-level keys of the input that
            no source path starts with are copied to the output first; the
            mapped targets are then written over them. Default ``False``.

    Raises:
        DefinitionError: From ``set_config``: a path that is empty, has an
            empty segment or one starting with ``_``; a target that is also
            the prefix of another target; a default for a target that is not
            mapped; a non-bool ``strict`` or ``keep_unmapped``.
    """

    config_keys = ("mappings", "defaults", "strict", "keep_unmapped")

    def __init__(self) -> None:
        super().__init__()
        self._rules: list[_Rule] = []
        self.input_slot = self.define_slot("input", handler=self.process)
        self.define_event("output", ["data"])
        self.set_config(mappings={}, defaults={}, strict=False, keep_unmapped=False)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check and compile the mappings; see the class docstring for the keys."""
        for key in ("strict", "keep_unmapped"):
            if not isinstance(config.get(key, False), bool):
                raise DefinitionError(
                    f"Mapper {key} must be True or False, not {config.get(key)!r}."
                )
        rules = _compile_mappings(config.get("mappings", {}))
        defaults = config.get("defaults", {})
        if not isinstance(defaults, Mapping):
            raise DefinitionError(
                f"Mapper defaults must be a dict of target path -> value, "
                f"not {type(defaults).__name__}."
            )
        targets = {target for target, _, _ in rules}
        for target in defaults:
            if target not in targets:
                raise DefinitionError(
                    f"Mapper defaults has the key {target!r}, which is not a target of "
                    f"mappings; defaults are keyed by target path: {sorted(targets)}."
                )
        self._rules = rules

    def process(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit ``output`` with the mapped dict."""
        message = kwargs if data is _NO_DATA else data
        if not isinstance(message, Mapping):
            raise ExecutionError(f"Mapper expects data to be a dict, not {type(message).__name__}.")
        self.emit("output", data=self._map(message))

    def _map(self, message: Mapping[str, Any]) -> dict[str, Any]:
        rules, defaults = self._rules, self.get_config("defaults")
        result: dict[str, Any] = {}
        if self.get_config("keep_unmapped"):
            read = {source[0] for _, _, source in rules}
            result.update((k, v) for k, v in message.items() if k not in read)
        owned = {id(result)}
        for target, target_path, source_path in rules:
            value = get_path(message, source_path)
            if value is MISSING:
                if target in defaults:
                    value = copy.deepcopy(defaults[target])
                elif self.get_config("strict"):
                    raise ExecutionError(
                        f"Mapper found nothing at the source path {'.'.join(source_path)!r} "
                        f"of the target {target!r}, which has no default (strict mode)."
                    )
                else:
                    continue
            try:
                set_path(result, target_path, value, owned)
            except PathError as exc:
                raise ExecutionError(f"Mapper cannot write the target {target!r}: {exc}.") from exc
        return result


def _compile_mappings(mappings: Any) -> list[_Rule]:
    if not isinstance(mappings, Mapping):
        raise DefinitionError(
            f"Mapper mappings must be a dict of target path -> source path, "
            f"not {type(mappings).__name__}."
        )
    rules: list[_Rule] = []
    for target, source in mappings.items():
        rules.append(
            (target, _parse(target, "target", ""), _parse(source, "source", f" of {target!r}"))
        )
    by_path = {path: target for target, path, _ in rules}
    for target, path, _ in rules:
        for end in range(1, len(path)):
            if path[:end] in by_path:
                raise DefinitionError(
                    f"Mapper mappings write both {by_path[path[:end]]!r} and {target!r}; "
                    "a target cannot also hold the fields of another target."
                )
    return rules


def _parse(path: Any, what: str, owner: str) -> tuple[str, ...]:
    try:
        return parse_path(path)
    except PathError as exc:
        raise DefinitionError(
            f"Mapper mappings has a bad {what} path {path!r}{owner}: {exc}; expected "
            "segments joined by '.', such as 'customer.name' or 'items.0.sku'."
        ) from exc
