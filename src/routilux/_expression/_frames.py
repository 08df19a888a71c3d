"""The scopes comprehensions run in, and the budget of steps they share.

An expression that has a comprehension is evaluated in a :class:`Frame`: a
dict of the comprehension variables in scope, which also carries the
environment and the :class:`Steps` left to the evaluation. Each
comprehension runs in a frame of its own, a copy of the enclosing one, so its
variables are seen only inside it: they never replace a name of the
environment, or a variable of an enclosing comprehension, outside it.

Steps measure work. Each item a ``for`` clause takes costs steps fixed at
compile time (one, plus one per operation run for it); values add steps at
run time through the wrappers here, which charge what an operation reads
(:func:`read_cost`, :func:`lookup_cost`) or builds (:func:`built_cost`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from routilux._expression._bounds import OperationRefusedError, weight
from routilux._expression._fold import Evaluator

__all__ = [
    "Cost",
    "Frame",
    "Steps",
    "built_cost",
    "charging",
    "enter",
    "environment_loader",
    "in_frame",
    "lookup_cost",
    "read_cost",
    "variable_loader",
]

Cost = Callable[[Any, int], int]
"""Steps for a value: takes the value and the most steps that matter."""

_ATOMS = frozenset({int, float, bool, type(None)})
_INTS = frozenset({int, bool})
_STRS = frozenset({str})
_SIZED = (str, bytes, bytearray, list, tuple, dict, set, frozenset)
# Containers that find an item by its hash, without reading the others.
_HASHED: tuple[type, ...] = (dict, set, frozenset, type({}.keys()), type({}.items()))


class Steps:
    """The steps one evaluation may still spend on comprehensions.

    Args:
        limit: The steps the evaluation starts with.
    """

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, steps: int) -> None:
        """Spend steps.

        Args:
            steps: How many.

        Raises:
            OperationRefusedError: If fewer than that many are left.
        """
        self.left -= steps
        if self.left < 0:
            raise OperationRefusedError(
                f"the comprehensions need more than the limit of {self.limit} steps "
                f"(max_steps); each item of a for clause, each operation run for it and each "
                f"item or character an operation reads or builds is a step."
            )


class Frame(dict[str, Any]):
    """The comprehension variables in scope, with the environment and the steps.

    Attributes:
        env: The environment the expression is evaluated in.
        steps: The steps left to the evaluation, shared by all its frames.
    """

    __slots__ = ("env", "steps")

    env: Any
    steps: Steps


def enter(env: Any, limit: int) -> Frame:
    """Make the frame for a comprehension, or for a whole evaluation.

    Args:
        env: The enclosing frame, or the environment when there is none (at
            the start of an evaluation, or while folding constant parts).
        limit: The steps a new evaluation starts with.

    Returns:
        A copy of the enclosing frame sharing its environment and steps, or
        an empty frame with the environment and a new budget of steps.
    """
    if type(env) is Frame:
        frame = Frame(env)
        frame.env = env.env
        frame.steps = env.steps
        return frame
    frame = Frame()
    frame.env = env
    frame.steps = Steps(limit)
    return frame


def in_frame(evaluate: Evaluator, limit: int) -> Evaluator:
    """Make an expression's closure run in a frame of its own.

    Args:
        evaluate: The closure of the whole expression.
        limit: The steps each evaluation may spend.

    Returns:
        A closure over the environment.
    """

    def run(env: Any) -> Any:
        return evaluate(enter(env, limit))

    return run


def variable_loader(name: str) -> Evaluator:
    """Make the closure that reads a comprehension variable from the frame."""

    def load(frame: Any) -> Any:
        try:
            return frame[name]
        except KeyError:
            raise NameError(
                f"the comprehension variable {name!r} is used before it has a value"
            ) from None

    return load


def environment_loader(name: str) -> Evaluator:
    """Make the closure that reads a name of the environment through the frame."""

    def load(frame: Any) -> Any:
        try:
            return frame.env[name]
        except KeyError:
            raise NameError(f"the name {name!r} is not in the environment") from None

    return load


def read_cost(value: Any, most: int) -> int:
    """Steps to read a value item by item, as comparing or sorting it does.

    A str costs its length, a container one step plus its items, nested
    ones included, anything else one step.

    Args:
        value: The value read.
        most: The cost past which the exact figure does not matter.

    Returns:
        The cost, or a number greater than ``most``.
    """
    kind = type(value)
    if kind in _ATOMS:
        return 1
    if kind is str:
        return len(value) or 1
    if isinstance(value, _SIZED) and len(value) > most:
        return len(value)
    if kind is list or kind is tuple:
        return _flat_cost(value) or weight(value, most)
    return weight(value, most)


def _flat_cost(items: list[Any] | tuple[Any, ...]) -> int:
    # The cost of a list of ints or of strs, the common cases, worked out
    # without a loop in Python (an upper bound of what weight() gives); 0
    # for any other list.
    kinds = set(map(type, items))
    if kinds <= _INTS:
        return 1 + len(items) + sum(map(int.bit_length, items)) // 64
    if kinds == _STRS:
        return 1 + len(items) + sum(map(len, items))
    return 0


def lookup_cost(value: Any, most: int) -> int:
    """Steps to look an item up in a value, as the right operand of ``in``."""
    if isinstance(value, _HASHED):
        return 1
    return read_cost(value, most)


def built_cost(value: Any, most: int) -> int:
    """Steps to build a value: one per item or character of it."""
    return len(value) if isinstance(value, _SIZED) else 0


def charging(evaluate: Evaluator, cost: Cost) -> Evaluator:
    """Make a closure that spends steps for each value ``evaluate`` gives.

    The closure runs only in a frame, as part of a comprehension.

    Args:
        evaluate: The closure of an operand or an operation.
        cost: What the value costs.

    Returns:
        The closure that charges the value, then returns it.
    """

    def charge(frame: Any) -> Any:
        value = evaluate(frame)
        steps = frame.steps
        steps.spend(cost(value, steps.left))
        return value

    return charge
