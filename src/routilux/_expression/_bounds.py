"""Checks that keep the values an expression computes within its limits."""

from __future__ import annotations

from typing import Any, TypeVar

from routilux._expression._limits import ExpressionLimits

__all__ = ["SEQUENCE_TYPES", "Bounds", "OperationRefusedError", "show", "weight"]

_T = TypeVar("_T")

SEQUENCE_TYPES = (str, bytes, bytearray, list, tuple)
"""The types whose length the limits bound and whose repetition is checked."""


class OperationRefusedError(Exception):
    """An operation was refused: it would exceed a limit or is not allowed.

    The message is a whole sentence meant for the author of the expression.
    """


def show(value: object) -> str:
    """Describe an operand for an error message without printing a huge value.

    Only numbers are shown by value, so that no user-defined ``__repr__`` runs
    and no message grows with the data.

    Args:
        value: The operand to describe.

    Returns:
        A short text naming the value, or its size or type.
    """
    if isinstance(value, int) and value.bit_length() > 64:
        return f"<an int of {value.bit_length()} bits>"
    if type(value) in (int, bool, float):
        return repr(value)
    return f"<a {type(value).__name__}>"


class Bounds:
    """The limits on computed values, with checks used by every operation.

    Args:
        limits: The limits to enforce.
    """

    __slots__ = ("limits", "max_bits", "max_length")

    def __init__(self, limits: ExpressionLimits) -> None:
        self.limits = limits
        self.max_bits = limits.max_int_bits
        self.max_length = limits.max_sequence_length

    def result(self, value: _T) -> _T:
        """Check a freshly computed value against the limits.

        Args:
            value: The value an operation produced.

        Returns:
            The value itself.

        Raises:
            OperationRefusedError: If it is an int with too many bits or a
                sequence that is too long.
        """
        if isinstance(value, int):
            if value.bit_length() > self.max_bits:
                raise OperationRefusedError(
                    f"the result, an int of {value.bit_length()} bits, exceeds the limit "
                    f"of {self.max_bits} bits."
                )
        elif isinstance(value, SEQUENCE_TYPES) and len(value) > self.max_length:
            self.refuse_length(len(value), "the result")
        return value

    def refuse_length(self, length: int, what: str, *, at_least: bool = False) -> None:
        """Raise the error for a sequence that would be too long.

        Args:
            length: The length the sequence would have.
            what: What would produce it, such as ``"the repetition"``.
            at_least: Whether ``length`` is only a lower bound.

        Raises:
            OperationRefusedError: Always.
        """
        shown = f"at least {show(length)}" if at_least else show(length)
        raise OperationRefusedError(
            f"{what} would have {shown} items, more than the limit of {self.max_length}."
        )

    def refuse_bits(self, what: str) -> None:
        """Raise the error for an int that would have too many bits.

        Args:
            what: The operation, such as ``"the power 9 ** 387420489"``.

        Raises:
            OperationRefusedError: Always.
        """
        raise OperationRefusedError(f"{what} exceeds the limit of {self.max_bits} bits.")

    def check_repeat(self, sequence: Any, times: int) -> None:
        """Refuse ``sequence * times`` before it is built if it would be too large.

        A repeated list holds its items many times over, and printing or
        comparing it does the work again for each copy; so for a list or a
        tuple the nested items count, not only the length.

        Args:
            sequence: A str, bytes, bytearray, list or tuple.
            times: The repetition count.

        Raises:
            OperationRefusedError: If the result would be too large.
        """
        if times <= 0:
            return
        nested = not isinstance(sequence, (str, bytes, bytearray))
        # A container's own unit of weight is not repeated, only its items.
        size = weight(sequence, self.max_length // times + 1) - 1 if nested else len(sequence)
        if size * times > self.max_length:
            self.refuse_length(size * times, "the repetition", at_least=nested)

    def check_text_size(self, value: Any, what: str) -> None:
        """Refuse to convert a value to text if the text would be too long.

        Args:
            value: The value to convert.
            what: The conversion, such as ``"str()"``.

        Raises:
            OperationRefusedError: If the value is too large to print.
        """
        size = weight(value, self.max_length)
        if size > self.max_length:
            self.refuse_length(size, what, at_least=True)


def weight(value: Any, budget: int) -> int:
    """Measure a value: a lower bound on the characters needed to print it.

    A str or bytes weighs its length, an int one unit per 64 bits, a
    container one unit plus its items, anything else one unit. The walk
    stops as soon as the weight passes ``budget``, so its cost stays near
    the budget even for a list that holds one huge item many times.

    Args:
        value: The value to measure.
        budget: The weight past which the exact figure does not matter.

    Returns:
        The weight, or a number greater than ``budget``.
    """
    total = 0
    stack = [value]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += max(1, len(item))
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 64
        elif isinstance(item, dict):
            total += 1
            stack += item.keys()
            stack += item.values()
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 1
            stack += item
        else:
            total += 1
    return total
