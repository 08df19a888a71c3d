"""Adapting a delivered message to a handler's signature.

The adaptation is decided once, when the slot is defined, so delivering a
message costs one extra call at most.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from routilux.exceptions import DefinitionError, HandlerArgumentsError

__all__ = ["Invoker", "build_invoker"]

Invoker = Callable[[Mapping[str, Any]], Any]

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def build_invoker(
    handler: Callable[..., Any], *, where: str, slot_name: str | None = None
) -> Invoker:
    """Return a function that calls ``handler`` with a message.

    * A handler with ``**kwargs`` receives every key of the message.
    * A handler whose only parameter is ``data`` receives the whole message
      when the message has no ``data`` key.
    * A handler with one parameter only (positional-only included) receives
      that key's value, or the whole message when the message lacks the key
      (a required parameter; a defaulted one keeps its default).
    * A handler with only ``*args`` receives the whole message as its one
      argument; a handler with no parameters is called without arguments.
    * A handler whose first parameter is required and whose others have
      defaults receives the whole message in the first when the message has
      none of their keys.
    * Otherwise each named parameter receives its key; keys the handler does
      not name are not passed, and missing required keys raise
      :class:`HandlerArgumentsError`.

    Args:
        handler: The slot's handler.
        where: Names the routine and slot in error messages.
        slot_name: The slot's name, set on :class:`HandlerArgumentsError`.

    Raises:
        DefinitionError: The handler is not callable, or takes
            positional-only parameters without defaults besides others.
    """
    if not callable(handler):
        raise DefinitionError(f"The handler of {where} must be callable, not {handler!r}.")
    try:
        params = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        # Some builtins have no introspectable signature: pass every key.
        return _call_with_kwargs(handler)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return _call_with_kwargs(handler)
    if len(params) == 1 and params[0].kind is inspect.Parameter.POSITIONAL_ONLY:
        return _call_key_or_whole(handler, params[0])
    if params and all(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return _call_with_whole(handler)
    _reject_positional_only(params, where)
    named = [p for p in params if p.kind in _NAMED]
    if len(named) == 1 and named[0].name == "data":
        return _call_data_or_whole(handler)
    if not named:
        return _call_without_arguments(handler)
    required = tuple(p.name for p in named if p.default is inspect.Parameter.empty)
    if len(named) == 1 and required:
        return _call_key_or_whole(handler, named[0])
    names = tuple(p.name for p in named)
    invoke = _call_with_named(handler, names, required, where, slot_name)
    if required == names[:1]:
        return _whole_to_first_unless_named(handler, named[0], names, invoke)
    return invoke


def _reject_positional_only(params: list[inspect.Parameter], where: str) -> None:
    for p in params:
        if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is inspect.Parameter.empty:
            raise DefinitionError(
                f"The handler of {where} has a positional-only parameter {p.name!r}; "
                "messages are passed by key, so use a normal or keyword parameter."
            )


def _call_with_kwargs(handler: Callable[..., Any]) -> Invoker:
    def invoke(message: Mapping[str, Any]) -> Any:
        return handler(**message)

    # Lets a slot call the handler itself, one call fewer per delivery.
    invoke.passes_every_key_to = handler  # type: ignore[attr-defined]
    return invoke


def _call_data_or_whole(handler: Callable[..., Any]) -> Invoker:
    def invoke(message: Mapping[str, Any]) -> Any:
        if "data" in message:
            return handler(message["data"])
        # A copy: one message object is shared by every slot it fans out to.
        return handler(dict(message))

    return invoke


def _call_key_or_whole(handler: Callable[..., Any], param: inspect.Parameter) -> Invoker:
    """A lone parameter: its key's value, else the whole message."""
    name = param.name
    keyword = param.kind is inspect.Parameter.KEYWORD_ONLY

    def invoke(message: Mapping[str, Any]) -> Any:
        # A copy of the whole: one message object is shared by every slot it reaches.
        value = message[name] if name in message else dict(message)
        return handler(**{name: value}) if keyword else handler(value)

    return invoke


def _call_with_whole(handler: Callable[..., Any]) -> Invoker:
    def invoke(message: Mapping[str, Any]) -> Any:
        return handler(dict(message))

    return invoke


def _whole_to_first_unless_named(
    handler: Callable[..., Any], first: inspect.Parameter, names: tuple[str, ...], named: Invoker
) -> Invoker:
    """The whole message to ``first`` when it has none of ``names``; else call ``named``."""
    keyword = first.kind is inspect.Parameter.KEYWORD_ONLY

    def invoke(message: Mapping[str, Any]) -> Any:
        if any(name in message for name in names):
            return named(message)
        whole = dict(message)
        return handler(**{first.name: whole}) if keyword else handler(whole)

    return invoke


def _call_without_arguments(handler: Callable[..., Any]) -> Invoker:
    def invoke(message: Mapping[str, Any]) -> Any:
        return handler()

    return invoke


def _call_with_named(
    handler: Callable[..., Any],
    names: tuple[str, ...],
    required: tuple[str, ...],
    where: str,
    slot_name: str | None,
) -> Invoker:
    def invoke(message: Mapping[str, Any]) -> Any:
        for name in required:
            if name not in message:
                _raise_missing(message, required, where, slot_name)
        return handler(**{name: message[name] for name in names if name in message})

    return invoke


def _raise_missing(
    message: Mapping[str, Any], required: tuple[str, ...], where: str, slot_name: str | None
) -> None:
    missing = [name for name in required if name not in message]
    present = ", ".join(repr(k) for k in message) or "none"
    raise HandlerArgumentsError(
        f"The handler of {where} requires {', '.join(repr(m) for m in missing)}, "
        f"which the message lacks; the message has keys: {present}.",
        slot_name=slot_name,
    )
