"""The builtin names an expression may use, and bounded versions to call.

A builtin used as a value (``isinstance(x, (int, float))``) is the real
builtin. A builtin that is called goes through a wrapper here that keeps its
work and its result within the limits.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from routilux._expression._bounds import Bounds, OperationRefusedError, show

__all__ = [
    "BUILTIN_NAMES",
    "BUILTIN_VALUES",
    "GENERATOR_CONSUMERS",
    "builtin_calls",
    "is_builtin_value",
]

BUILTIN_VALUES: Mapping[str, object] = MappingProxyType(
    {
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "dict": dict,
        "float": float,
        "int": int,
        "isinstance": isinstance,
        "len": len,
        "list": list,
        "max": max,
        "min": min,
        "round": round,
        "set": set,
        "sorted": sorted,
        "str": str,
        "sum": sum,
        "tuple": tuple,
    }
)
"""Every builtin name an expression may use, with the object it stands for."""

BUILTIN_NAMES: tuple[str, ...] = tuple(sorted(BUILTIN_VALUES))
"""The builtin names in alphabetical order, for messages."""

GENERATOR_CONSUMERS: Mapping[str, str] = MappingProxyType(
    {
        "all": "each",
        "any": "each",
        "max": "each",
        "min": "each",
        "sum": "each",
        "dict": "dict",
        "list": "list",
        "set": "set",
        "sorted": "list",
        "tuple": "list",
    }
)
"""The builtins a generator expression may be passed to, and how each takes its
elements: one at a time (``"each"``), or collected first into a bounded
``"list"``, ``"set"`` or ``"dict"``."""

_BUILTIN_OBJECTS = tuple(BUILTIN_VALUES.values())

_LOG2_10 = math.log2(10)


def is_builtin_value(value: object) -> bool:
    """Tell whether a value is one of the builtins in :data:`BUILTIN_VALUES`.

    Args:
        value: Any value.

    Returns:
        True if it is one of those builtin objects itself.
    """
    # Identity, not equality: a value from the data must not get to run its
    # own __eq__ here.
    return any(value is known for known in _BUILTIN_OBJECTS)


def _make_str(bounds: Bounds) -> Callable[..., Any]:
    def bounded_str(*args: Any) -> Any:
        if args:
            # Converting an int to text is quadratic in its size.
            if isinstance(args[0], int) and args[0].bit_length() > bounds.max_bits:
                bounds.refuse_bits(f"str() of {show(args[0])}")
            bounds.check_text_size(args[0], "str()")
        return bounds.result(str(*args))

    return bounded_str


def _make_int(bounds: Bounds) -> Callable[..., Any]:
    # Even in base 2 a digit adds one bit; the slack allows signs, spaces
    # and underscores.
    most_characters = bounds.max_bits + 64

    def bounded_int(*args: Any) -> Any:
        if args and isinstance(args[0], (str, bytes, bytearray)) and len(args[0]) > most_characters:
            raise OperationRefusedError(
                f"int() of a text of {len(args[0])} characters exceeds the limit of "
                f"{bounds.max_bits} bits."
            )
        return bounds.result(int(*args))

    return bounded_int


def _make_round(bounds: Bounds) -> Callable[..., Any]:
    most_digits = int(bounds.max_bits / _LOG2_10)

    def bounded_round(*args: Any) -> Any:
        if len(args) == 2 and args[1] is not None:
            digits = operator.index(args[1])
            # Exact numbers round through 10 ** abs(ndigits); floats do not.
            if abs(digits) > most_digits and not isinstance(args[0], float):
                raise OperationRefusedError(
                    f"round() to {show(digits)} digits exceeds the limit of {bounds.max_bits} bits."
                )
            args = (args[0], digits)
        return bounds.result(round(*args))

    return bounded_round


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number)


def _make_sum(bounds: Bounds) -> Callable[..., Any]:
    def bounded_sum(iterable: Any, start: Any = 0) -> Any:
        # Adding sequences one by one copies them again at each step, so sum()
        # adds numbers only; a start that is not a number is refused, and an
        # item that is not one fails to add to the number before it.
        if not _is_number(start):
            raise OperationRefusedError(
                f"sum() adds numbers only; its start must be a number, not a "
                f"{type(start).__name__}."
            )
        return bounds.result(sum(iterable, start))

    return bounded_sum


def _checking(bounds: Bounds, function: Callable[..., Any]) -> Callable[..., Any]:
    result = bounds.result

    def call(*args: Any) -> Any:
        return result(function(*args))

    return call


def builtin_calls(bounds: Bounds) -> dict[str, Callable[..., Any]]:
    """Build the callables that a call of each builtin name runs.

    Args:
        bounds: The limits to enforce.

    Returns:
        A table from builtin name to the function that a call of it runs.
    """
    # These return an element of their argument or a value no larger than
    # it, so they need no check.
    calls: dict[str, Callable[..., Any]] = {
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "dict": dict,
        "float": float,
        "isinstance": isinstance,
        "len": len,
        "max": max,
        "min": min,
        "set": set,
    }
    calls.update(
        {
            "list": _checking(bounds, list),
            "tuple": _checking(bounds, tuple),
            "sorted": _checking(bounds, sorted),
            "str": _make_str(bounds),
            "int": _make_int(bounds),
            "round": _make_round(bounds),
            "sum": _make_sum(bounds),
        }
    )
    return calls
