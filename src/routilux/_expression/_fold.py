"""Compiled parts of an expression, and folding of the constant ones.

Each subexpression compiles to a :class:`Part`: a closure plus what is known
about it at compile time. A part that does not depend on the environment is
evaluated once while compiling, with the same bounded operators used at run
time, so ``9 ** 9 ** 9`` or ``1 / 0`` is refused before anything runs.

A constant part that fails is not refused at once: it becomes a *failed*
part, so that a constant condition that skips it (``False and 1 / 0``)
folds the way Python would evaluate it. A failed part that could still run
(at the root, or under a part that depends on the environment) is refused.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

from routilux._expression._bounds import OperationRefusedError
from routilux._expression._builtins import is_builtin_value
from routilux.exceptions import ExpressionRejectedError

__all__ = [
    "Evaluator",
    "Kind",
    "Part",
    "constant",
    "evaluate_once",
    "finish",
    "fold",
    "is_shareable",
    "refuse_failed",
]

Evaluator = Callable[[Mapping[str, Any]], Any]
"""A compiled subexpression: takes the environment, returns the value."""

_NO_ENVIRONMENT: Mapping[str, Any] = MappingProxyType({})

_ATOM_TYPES = (type(None), bool, int, float, complex, str)

_MOST_SHOWN = 60


class Kind(enum.Enum):
    """What is known about a part at compile time."""

    CONSTANT = "constant"
    """Its value is known and immutable, so every evaluation may share it."""
    FRESH = "fresh"
    """Its value is known but mutable, so every evaluation builds it anew."""
    FAILED = "failed"
    """Evaluating it fails whatever the environment is."""
    DYNAMIC = "dynamic"
    """Its value depends on the environment."""


class _ConstantFailure(Exception):
    """Carries the reason of a failed part through the folding of its parent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Part:
    """A compiled subexpression.

    Attributes:
        kind: What is known about it at compile time.
        evaluate: The closure that computes it at run time.
        value: The value, for a constant or fresh part.
        reason: Why it fails, for a failed part.
    """

    kind: Kind
    evaluate: Evaluator
    value: Any = None
    reason: str = ""

    @property
    def is_constant(self) -> bool:
        """Whether the value is known and may be shared."""
        return self.kind is Kind.CONSTANT

    def as_known(self) -> Part:
        """Return this part with its compile-time value fixed, for folding.

        Folding a parent evaluates it over these, so that a fresh child is
        computed only once however deep the constant tree is.
        """
        if self.kind is Kind.FRESH:
            return constant(self.value)
        return self


def constant(value: Any) -> Part:
    """Make a part whose value is known.

    Args:
        value: The value; it must not be mutated by anyone.

    Returns:
        A constant part.
    """

    def evaluate(env: Mapping[str, Any]) -> Any:
        return value

    return Part(Kind.CONSTANT, evaluate, value)


def _failed(reason: str) -> Part:
    def evaluate(env: Mapping[str, Any]) -> NoReturn:
        raise _ConstantFailure(reason)

    return Part(Kind.FAILED, evaluate, reason=reason)


def is_shareable(value: object) -> bool:
    """Tell whether a value is immutable all the way down.

    Only exact builtin types count, since a subclass may add mutable state.

    Args:
        value: A value computed at compile time.

    Returns:
        True if every evaluation may return this same object.
    """
    kind = type(value)
    if kind in _ATOM_TYPES or is_builtin_value(value):
        return True
    if isinstance(value, (tuple, frozenset)) and kind in (tuple, frozenset):
        return all(is_shareable(item) for item in value)
    if isinstance(value, slice):
        return all(is_shareable(item) for item in (value.start, value.stop, value.step))
    return False


def _shown(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= _MOST_SHOWN else text[: _MOST_SHOWN - 3] + "..."


def _failure_reason(node: ast.expr, error: Exception) -> str:
    if isinstance(error, _ConstantFailure):
        return error.reason
    if isinstance(error, OperationRefusedError):
        return str(error)
    message = str(error)
    if len(message) > _MOST_SHOWN:
        message = message[: _MOST_SHOWN - 3] + "..."
    detail = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return f"the constant part {_shown(node)} raises {detail}."


def fold(
    source: str,
    node: ast.expr,
    children: Sequence[Part],
    build: Callable[[Sequence[Part]], Evaluator],
) -> Part:
    """Combine compiled children into the part for their parent node.

    Args:
        source: The whole expression, for a rejection.
        node: The parent node, for messages.
        children: The compiled children, in the order ``build`` expects.
        build: Makes the parent's closure from its children's parts; it may
            specialise on constant children.

    Returns:
        The parent's part: constant, fresh or failed if no child depends on
        the environment, else dynamic.

    Raises:
        ExpressionRejectedError: If a child fails whatever the environment is
            and the parent depends on the environment, so might run it.
    """
    if any(child.kind is Kind.DYNAMIC for child in children):
        refuse_failed(source, children)
        return Part(Kind.DYNAMIC, build(children))
    known = evaluate_once(node, build([child.as_known() for child in children]))
    if known.kind is Kind.FRESH:
        return Part(Kind.FRESH, build(children), known.value)
    return known


def refuse_failed(source: str, parts: Sequence[Part]) -> None:
    """Refuse failed parts that the environment decides whether to run.

    Args:
        source: The whole expression, for a rejection.
        parts: Parts of a node that depends on the environment.

    Raises:
        ExpressionRejectedError: If one of the parts fails whatever the
            environment is.
    """
    for part in parts:
        if part.kind is Kind.FAILED:
            raise ExpressionRejectedError(source, part.reason)


def evaluate_once(node: ast.expr, evaluate: Evaluator) -> Part:
    """Evaluate, at compile time, a node that does not depend on the environment.

    Args:
        node: The node, for messages.
        evaluate: Its closure; it must not read the environment.

    Returns:
        A constant part, a fresh part (whose closure is ``evaluate``) or a
        failed part.
    """
    try:
        value = evaluate(_NO_ENVIRONMENT)
    except Exception as error:  # every failure of a constant part is reported
        return _failed(_failure_reason(node, error))
    if is_shareable(value):
        return constant(value)
    return Part(Kind.FRESH, evaluate, value)


def finish(source: str, part: Part) -> Evaluator:
    """Give the closure for the whole expression.

    Args:
        source: The whole expression, for a rejection.
        part: The part compiled from the root node.

    Returns:
        The closure that evaluates the expression.

    Raises:
        ExpressionRejectedError: If the expression fails whatever the
            environment is.
    """
    if part.kind is Kind.FAILED:
        raise ExpressionRejectedError(source, part.reason)
    return part.evaluate
