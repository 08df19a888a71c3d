"""Splitter: turn one message holding a list into one message per item."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

from routilux import DefinitionError, Routine

__all__ = ["Splitter"]

#: The default bound on the length of one list.
DEFAULT_MAX_ITEMS = 1_000_000
_NOT_LISTS = (str, bytes, bytearray)
_MISSING: Any = object()


class Splitter(Routine):
    """Emit one ``item`` event per element of the list a message holds.

    Slot ``input`` receives a message; the list is read from it at the
    dotted path ``field`` (``"data"`` by default, so ``data=[...]``). Lists,
    tuples, ranges and every other sequence count as lists, except ``str``,
    ``bytes`` and ``bytearray``; anything else (a dict, a set, a string,
    ``None``, a missing field) fails the delivery with a ``TypeError`` or
    ``ValueError`` naming the routine and what it got, under the routine's
    error policy. Nothing is emitted for a message that fails.

    Events:
        item: One per element, in list order: ``item`` (the element),
            ``index`` (0-based) and ``count`` (the length of the list).
        empty: Once for an empty list, instead of any ``item``: ``count``
            (0). Leave it unconnected if you do not need it.

    With ``keep_fields``, both events also carry every top-level key of
    the message except the one that holds the list (the first part of
    ``field``); ``item``, ``index`` and ``count`` win over a message key of
    the same name.

    Config keys:
        field: Dotted path of mapping keys to the list in the message,
            e.g. ``"data"`` or ``"payload.rows"``. Default ``"data"``.
        keep_fields: Copy the message's other keys onto every event.
            Default ``False``.
        max_items: The longest list accepted; a longer one fails the
            delivery before anything is emitted. Default 1,000,000.

    Stats: ``lists`` (messages split) and ``items`` (item events emitted).

    Raises:
        DefinitionError: From ``set_config``, for a bad config value.
    """

    config_keys = ("field", "keep_fields", "max_items")

    def __init__(self) -> None:
        super().__init__()
        self.input_slot = self.define_slot("input", handler=self.split)
        self.define_event("item", ["item", "index", "count"])
        self.define_event("empty", ["count"])
        self.set_config(field="data", keep_fields=False, max_items=DEFAULT_MAX_ITEMS)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check ``field``, ``keep_fields`` and ``max_items``; see the class docstring."""
        field = config.get("field", "data")
        if not isinstance(field, str) or not all(field.split(".")):
            raise DefinitionError(
                f"Splitter field must be a dotted path of keys such as 'data' or "
                f"'payload.rows', not {field!r}."
            )
        keep = config.get("keep_fields", False)
        if not isinstance(keep, bool):
            raise DefinitionError(f"Splitter keep_fields must be True or False, not {keep!r}.")
        limit = config.get("max_items", DEFAULT_MAX_ITEMS)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise DefinitionError(f"Splitter max_items must be a positive integer, not {limit!r}.")

    def split(self, **message: Any) -> None:
        """Emit one ``item`` per element of the message's list, or ``empty``."""
        field: str = self.get_config("field")
        items = self._find_list(message, field)
        count = len(items)
        limit: int = self.get_config("max_items")
        if count > limit:
            raise ValueError(
                f"{self._name()} refuses a list of {count} items at {field!r}: more than "
                f"max_items ({limit}). Raise max_items if this is expected."
            )
        extra: dict[str, Any] = {}
        if self.get_config("keep_fields"):
            head = field.split(".", 1)[0]
            extra = {key: value for key, value in message.items() if key != head}
        self.increment_stat("lists")
        if count == 0:
            self.emit("empty", **{**extra, "count": 0})
            return
        for index, item in enumerate(items):
            self.emit("item", **{**extra, "item": item, "index": index, "count": count})
        self.increment_stat("items", count)

    def _find_list(self, message: Mapping[str, Any], field: str) -> Sequence[Any]:
        value: Any = message
        walked: list[str] = []
        for key in field.split("."):
            if not isinstance(value, Mapping):
                where = ".".join(walked) or "the message"
                raise TypeError(
                    f"{self._name()} cannot read {field!r}: {where!r} is "
                    f"{_describe(value)}, not a mapping."
                )
            walked.append(key)
            value = value.get(key, _MISSING)
            if value is _MISSING:
                raise ValueError(
                    f"{self._name()} found no {'.'.join(walked)!r} in the message; "
                    f"its keys: {', '.join(map(repr, message)) or 'none'}."
                )
        if isinstance(value, _NOT_LISTS) or not isinstance(value, Sequence):
            raise TypeError(f"{self._name()} expected a list at {field!r}, got {_describe(value)}.")
        return value

    def _name(self) -> str:
        context = self.get_execution_context()
        return f"Splitter {context.routine_id!r}" if context else "Splitter"


def _describe(value: Any) -> str:
    """A short description of a value for error messages: its type and a clipped repr."""
    return f"{type(value).__name__} {reprlib.repr(value)}"
