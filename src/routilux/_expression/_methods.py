"""The methods an expression may call, and how a call finds the real one.

A method call ``x.m(...)`` never looks ``m`` up on ``x``: it calls the
builtin type's own unbound method (``str.lower(x)``), chosen by
``isinstance``, so a subclass or a look-alike object cannot run its own code
in place of the builtin one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from routilux._expression._bounds import Bounds

__all__ = ["ALLOWED_METHODS", "ALLOWED_METHOD_NAMES", "method_callers"]

ALLOWED_METHODS: Mapping[type, frozenset[str]] = MappingProxyType(
    {
        dict: frozenset({"get", "keys", "values", "items"}),
        str: frozenset(
            {
                "startswith",
                "endswith",
                "lower",
                "upper",
                "strip",
                "lstrip",
                "rstrip",
                "split",
                "count",
                "find",
                "isdigit",
                "isalpha",
                "isalnum",
                "isspace",
                "replace",
                "title",
            }
        ),
        list: frozenset({"count", "index"}),
        tuple: frozenset({"count", "index"}),
    }
)
"""For each builtin receiver type, the names of the methods that may be called."""

ALLOWED_METHOD_NAMES: frozenset[str] = frozenset().union(*ALLOWED_METHODS.values())
"""Every method name allowed on at least one receiver type."""

# Methods whose result is a new str or list that may be long.
_GROWING_STR_METHODS = ("lower", "upper", "strip", "lstrip", "rstrip", "split", "title")


def _bounded_replace(bounds: Bounds) -> Callable[..., Any]:
    def replace(text: str, old: Any, new: Any, *rest: Any) -> Any:
        if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            # str.count(text, "") is len(text) + 1, which is what replace uses.
            found = str.count(text, old)
            if rest and isinstance(rest[0], int) and rest[0] >= 0:
                found = min(found, rest[0])
            length = len(text) + found * (len(new) - len(old))
            if length > bounds.max_length:
                bounds.refuse_length(length, "replace()")
        return bounds.result(str.replace(text, old, new, *rest))

    return replace


def _checking(bounds: Bounds, method: Callable[..., Any]) -> Callable[..., Any]:
    result = bounds.result

    def call(receiver: Any, *args: Any) -> Any:
        return result(method(receiver, *args))

    return call


def _implementations(bounds: Bounds) -> dict[type, dict[str, Callable[..., Any]]]:
    # The unbound methods are looked up here, once, by literal names; no name
    # from an expression ever reaches an attribute lookup.
    plain: dict[type, dict[str, Callable[..., Any]]] = {
        dict: {"get": dict.get, "keys": dict.keys, "values": dict.values, "items": dict.items},
        str: {
            "startswith": str.startswith,
            "endswith": str.endswith,
            "count": str.count,
            "find": str.find,
            "isdigit": str.isdigit,
            "isalpha": str.isalpha,
            "isalnum": str.isalnum,
            "isspace": str.isspace,
            "replace": _bounded_replace(bounds),
        },
        list: {"count": list.count, "index": list.index},
        tuple: {"count": tuple.count, "index": tuple.index},
    }
    growing: dict[str, Callable[..., Any]] = {
        "lower": str.lower,
        "upper": str.upper,
        "strip": str.strip,
        "lstrip": str.lstrip,
        "rstrip": str.rstrip,
        "split": str.split,
        "title": str.title,
    }
    plain[str].update({name: _checking(bounds, growing[name]) for name in _GROWING_STR_METHODS})
    return plain


def _caller(
    name: str, owners: tuple[tuple[type, Callable[..., Any]], ...]
) -> Callable[[Any], Callable[..., Any]]:
    exact = dict(owners)
    allowed_on = " and ".join(owner.__name__ for owner, _ in owners)

    def resolve(receiver: Any) -> Callable[..., Any]:
        method = exact.get(type(receiver))
        if method is not None:
            return method
        for owner, candidate in owners:
            if isinstance(receiver, owner):
                return candidate
        raise TypeError(
            f"the method {name}() is not allowed on a {type(receiver).__name__}; "
            f"it is allowed only on {allowed_on}."
        )

    return resolve


def method_callers(bounds: Bounds) -> dict[str, Callable[[Any], Callable[..., Any]]]:
    """Build, for each allowed method name, a function that finds the method.

    Args:
        bounds: The limits to enforce.

    Returns:
        A table from method name to a resolver. A resolver takes the receiver
        and returns the builtin unbound method to call with the receiver as
        first argument, or raises TypeError if no allowed type owns that
        method for this receiver.
    """
    implementations = _implementations(bounds)
    return {
        name: _caller(
            name,
            tuple(
                (owner, implementations[owner][name])
                for owner, allowed in ALLOWED_METHODS.items()
                if name in allowed
            ),
        )
        for name in sorted(ALLOWED_METHOD_NAMES)
    }
