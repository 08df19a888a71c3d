"""What the compiler knows about the comprehensions around the node it compiles.

It tells a comprehension variable from a name of the environment, notes
whether a comprehension reads anything from outside (if not, it is constant
and is folded at compile time) and adds up the steps that the code run for
each item of a ``for`` clause costs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from routilux._expression._fold import Kind, Part
from routilux._expression._frames import Cost, charging, read_cost

__all__ = ["Scope", "Scopes", "charged"]

_T = TypeVar("_T")


def charged(part: Part, cost: Cost | None) -> Part:
    """Make a part that spends steps for each value it gives.

    Args:
        part: The part.
        cost: What its value costs, or None for nothing.

    Returns:
        The part itself if it is known at compile time or costs nothing,
        else a part whose closure charges its value.
    """
    if cost is None or part.kind is not Kind.DYNAMIC:
        return part
    return Part(Kind.DYNAMIC, charging(part.evaluate, cost))


class Scope:
    """The variables of one comprehension.

    Attributes:
        names: The names its ``for`` clauses assign.
        reads_outside: Whether it reads the environment or a variable of an
            enclosing comprehension, so that it is not constant.
    """

    __slots__ = ("names", "reads_outside")

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self.reads_outside = False


class Scopes:
    """The comprehensions enclosing the node being compiled, innermost last.

    Args:
        most_steps: The limit on steps, past which costs need not be exact.

    Attributes:
        cost: Steps added up for the code compiled since the current
            :meth:`measure` started.
    """

    __slots__ = ("_most_steps", "_stack", "cost")

    def __init__(self, most_steps: int) -> None:
        self._most_steps = most_steps
        self._stack: list[Scope] = []
        self.cost = 0

    @property
    def inside(self) -> bool:
        """Whether the code being compiled runs once for each item of a clause."""
        return bool(self._stack)

    def is_variable(self, name: str) -> bool:
        """Tell whether a name is a comprehension variable where it is used.

        The comprehensions inside the one that assigns it read it from
        outside themselves.

        Args:
            name: The name.

        Returns:
            True if an enclosing comprehension assigns it.
        """
        for depth in range(len(self._stack) - 1, -1, -1):
            if name in self._stack[depth].names:
                for scope in self._stack[depth + 1 :]:
                    scope.reads_outside = True
                return True
        return False

    def read_environment(self) -> None:
        """Note that the code being compiled reads a name of the environment."""
        for scope in self._stack:
            scope.reads_outside = True

    @contextmanager
    def entered(self, names: Iterable[str]) -> Iterator[Scope]:
        """Compile the inside of a comprehension.

        Args:
            names: The variables it assigns.

        Yields:
            Its scope.
        """
        scope = Scope(names)
        self._stack.append(scope)
        try:
            yield scope
        finally:
            self._stack.pop()

    def measure(self, compile_part: Callable[..., _T], *args: Any) -> tuple[_T, int]:
        """Compile some code and tell the steps it costs each time it runs.

        Args:
            compile_part: Compiles the code.
            *args: Its arguments.

        Returns:
            What it returns, and the steps.
        """
        saved, self.cost = self.cost, 0
        try:
            result = compile_part(*args)
            return result, self.cost
        finally:
            self.cost = saved

    def known_cost(self, part: Part, cost: Cost | None = None) -> int:
        """Tell the steps that a part known at compile time costs each time it runs.

        A fresh value is built again each time, and a value that is read
        item by item is read each time.

        Args:
            part: A part.
            cost: What the operation using it costs for reading it, if
                anything.

        Returns:
            The steps; 0 for a part that depends on the environment, whose
            value is charged when it is computed.
        """
        steps = 0
        if part.kind is Kind.FRESH:
            steps += read_cost(part.value, self._most_steps)
        if cost is not None and part.kind in (Kind.CONSTANT, Kind.FRESH):
            steps += cost(part.value, self._most_steps)
        return steps
