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
    * Otherwise each named parameter receives its key; keys the handler does
      not name are not passed, and missing required keys raise
      :class:`HandlerArgumentsError`.

    Args:
        handler: The slot's handler.
        where: Names the routine and slot in error messages.
        slot_name: The slot's name, set on :class:`HandlerArgumentsError`.

    Raises:
        DefinitionError: The handler is not callable or takes
            positional-only parameters without defaults.
    """
    if not callable(handler):
        raise DefinitionError(f"The handler of {where} must be callable, not {handler!r}.")
    try:
        params = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        # Some builtins have no introspectable signature: pass every key.
        return _call_with_kwargs(handler)
    _reject_positional_only(params, where)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return _call_with_kwargs(handler)
    named = [p for p in params if p.kind in _NAMED]
    if len(named) == 1 and named[0].name == "data":
        return _call_data_or_whole(handler)
    if not named:
        return _call_without_arguments(handler)
    required = tuple(p.name for p in named if p.default is inspect.Parameter.empty)
    return _call_with_named(handler, tuple(p.name for p in named), required, where, slot_name)


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
