"""The size limits an expression and the values it computes must respect."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "ExpressionLimits"]


@dataclass(frozen=True, slots=True)
class ExpressionLimits:
    """Bounds on the size of an expression and of the values it computes.

    Attributes:
        max_length: Most characters the source text may have.
        max_nodes: Most syntax nodes (names, constants, operations, calls,
            subscripts, ...) the parsed expression may have.
        max_depth: Deepest nesting of syntax nodes, and of brackets in the
            source text.
        max_int_bits: Largest bit length of an int that an operation may
            produce.
        max_sequence_length: Largest length of a str, bytes, list or tuple
            that an operation may produce, and of a list, set or dict that a
            comprehension builds.
        max_steps: Most work the comprehensions of one evaluation may do:
            each item a ``for`` clause takes and each operation run for it
            costs a step, and an operation costs one more step for each item
            or character it reads or builds.

    Raises:
        ValueError: If a limit is not a positive int.
    """

    max_length: int = 2000
    max_nodes: int = 500
    max_depth: int = 32
    max_int_bits: int = 4096
    max_sequence_length: int = 100_000
    max_steps: int = 1_000_000

    def __post_init__(self) -> None:
        """Check that every limit is a positive int.

        Raises:
            ValueError: If a limit is not a positive int.
        """
        for name, value in (
            ("max_length", self.max_length),
            ("max_nodes", self.max_nodes),
            ("max_depth", self.max_depth),
            ("max_int_bits", self.max_int_bits),
            ("max_sequence_length", self.max_sequence_length),
            ("max_steps", self.max_steps),
        ):
            # bool is an int subclass, but True as a limit is surely a mistake.
            if type(value) is not int or value < 1:
                raise ValueError(f"ExpressionLimits.{name} must be a positive int, not {value!r}.")


DEFAULT_LIMITS = ExpressionLimits()
"""The limits :func:`compile_expression` uses unless it is given others."""
