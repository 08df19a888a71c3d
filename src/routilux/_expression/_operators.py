"""Operators whose cost is checked before they compute.

Every arithmetic operator an expression can use comes from here. The ones
that can blow up (``**``, ``<<``, ``*`` and ``+``) estimate the size of their
result first and refuse when it would exceed the limits; every result is then
checked again, which also bounds operations on user-defined types.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from routilux._expression._bounds import SEQUENCE_TYPES, Bounds, OperationRefusedError, show

__all__ = ["COMPARISONS", "Binary", "Unary", "binary_operators", "unary_operators"]

Binary = Callable[[Any, Any], Any]
Unary = Callable[[Any], Any]

_TEXT_TYPES = (str, bytes, bytearray)


def _contains(left: Any, right: Any) -> bool:
    return left in right


def _not_contains(left: Any, right: Any) -> bool:
    return left not in right


COMPARISONS: dict[type[ast.cmpop], Binary] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
"""The comparison operators; they never build large values."""


def _power_bits(base: Any, exponent: int) -> float | None:
    """Estimate the bit length of ``base ** exponent``, or None if it stays small.

    Only exact numbers grow without bound: a float power is computed in
    constant time and overflows with an error instead.
    """
    if isinstance(base, int):
        # A negative exponent makes a float; 0, 1 and -1 never grow.
        if exponent < 0 or -1 <= base <= 1:
            return None
        return exponent * math.log2(abs(base))
    if isinstance(base, Fraction):
        size = max(abs(base.numerator), base.denominator)
        return None if size <= 1 else abs(exponent) * math.log2(size)
    return None


def _check_power(bounds: Bounds, base: Any, exponent: Any) -> None:
    if not isinstance(exponent, int):
        return
    # Any base of at least 2 adds at least one bit per unit of exponent, so a
    # huge exponent is refused without converting it to a float.
    if abs(exponent) > bounds.max_bits:
        grows = _power_bits(base, 1 if exponent > 0 else -1) is not None
        bits: float | None = math.inf if grows else None
    else:
        bits = _power_bits(base, exponent)
    # The result has floor(bits) + 1 bits.
    if bits is not None and bits >= bounds.max_bits:
        bounds.refuse_bits(f"the power {show(base)} ** {show(exponent)}")


def _check_multiply(bounds: Bounds, left: Any, right: Any) -> None:
    if isinstance(left, int):
        if isinstance(right, int):
            if left.bit_length() + right.bit_length() > bounds.max_bits:
                bounds.refuse_bits(f"the product {show(left)} * {show(right)}")
        elif isinstance(right, SEQUENCE_TYPES):
            bounds.check_repeat(right, left)
    elif isinstance(right, int) and isinstance(left, SEQUENCE_TYPES):
        bounds.check_repeat(left, right)


def _check_shift(bounds: Bounds, value: Any, count: Any) -> None:
    if not (isinstance(value, int) and isinstance(count, int) and value and count > 0):
        return
    # Compare the count alone first so a huge count is never added to.
    if count > bounds.max_bits or value.bit_length() + count > bounds.max_bits:
        bounds.refuse_bits(f"the shift {show(value)} << {show(count)}")


def _check_concatenate(bounds: Bounds, left: Any, right: Any) -> None:
    if isinstance(left, SEQUENCE_TYPES) and isinstance(right, SEQUENCE_TYPES):
        length = len(left) + len(right)
        if length > bounds.max_length:
            bounds.refuse_length(length, "the concatenation")


def _checked(bounds: Bounds, compute: Binary, check: Callable[[Bounds, Any, Any], None]) -> Binary:
    result = bounds.result

    def apply(left: Any, right: Any) -> Any:
        check(bounds, left, right)
        return result(compute(left, right))

    return apply


def _refuse_text_formatting(bounds: Bounds, left: Any, right: Any) -> None:
    # printf-style formatting can pad to any width ('%*d'), so its output
    # size cannot be bounded before it is built.
    if isinstance(left, _TEXT_TYPES):
        raise OperationRefusedError("string formatting with % is not allowed.")


def _result_only(bounds: Bounds, compute: Binary) -> Binary:
    result = bounds.result

    def apply(left: Any, right: Any) -> Any:
        return result(compute(left, right))

    return apply


def binary_operators(bounds: Bounds) -> dict[type[ast.operator], Binary]:
    """Build the bounded binary operators for some limits.

    Args:
        bounds: The limits to enforce.

    Returns:
        A table from AST operator type to a function of two operands. The
        matrix multiplication operator is absent: it is never allowed.
    """
    return {
        ast.Add: _checked(bounds, operator.add, _check_concatenate),
        ast.Sub: _result_only(bounds, operator.sub),
        ast.Mult: _checked(bounds, operator.mul, _check_multiply),
        ast.Div: _result_only(bounds, operator.truediv),
        ast.FloorDiv: _result_only(bounds, operator.floordiv),
        ast.Mod: _checked(bounds, operator.mod, _refuse_text_formatting),
        ast.Pow: _checked(bounds, operator.pow, _check_power),
        ast.LShift: _checked(bounds, operator.lshift, _check_shift),
        ast.RShift: _result_only(bounds, operator.rshift),
        ast.BitAnd: _result_only(bounds, operator.and_),
        ast.BitOr: _result_only(bounds, operator.or_),
        ast.BitXor: _result_only(bounds, operator.xor),
    }


def unary_operators(bounds: Bounds) -> dict[type[ast.unaryop], Unary]:
    """Build the unary operators for some limits.

    Args:
        bounds: The limits to enforce.

    Returns:
        A table from AST unary operator type to a function of one operand.
    """
    result = bounds.result

    def negative(value: Any) -> Any:
        return result(-value)

    def positive(value: Any) -> Any:
        return result(+value)

    def invert(value: Any) -> Any:
        return result(~value)

    return {
        ast.USub: negative,
        ast.UAdd: positive,
        ast.Invert: invert,
        ast.Not: operator.not_,
    }
