"""Compiled expressions: the public face of the evaluator."""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from routilux._expression._bounds import OperationRefusedError
from routilux._expression._builtins import BUILTIN_VALUES
from routilux._expression._compile import compile_tree
from routilux._expression._fold import Evaluator
from routilux._expression._limits import DEFAULT_LIMITS, ExpressionLimits
from routilux._expression._parse import check_source, parse
from routilux._expression._validate import check_allowed
from routilux.exceptions import ExpressionEvaluationError

__all__ = ["CompiledExpression", "compile_expression"]

_DEFAULT_NAMES = ("data", "config")

_MOST_SHOWN = 80
_MOST_DETAIL = 200


def _shorten(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _check_names(names: Iterable[str]) -> frozenset[str]:
    if isinstance(names, str):
        raise TypeError("names must be an iterable of names, not a single str.")
    checked = frozenset(names)
    for name in checked:
        if type(name) is not str or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"names must be identifiers, not {name!r}.")
        if name.startswith("_"):
            raise ValueError(f"names must not start with an underscore, as {name!r} does.")
        if name in BUILTIN_VALUES:
            raise ValueError(f"the name {name!r} is a builtin the expressions already have.")
    return checked


def _describe(error: Exception) -> str:
    if isinstance(error, OperationRefusedError):
        return str(error)
    try:
        detail = _shorten(str(error), _MOST_DETAIL)
    except Exception:  # an exception whose __str__ fails still gets reported
        detail = ""
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


class CompiledExpression:
    """An expression checked and compiled once, to be evaluated many times.

    Construct one with :func:`compile_expression` (calling the class does the
    same). Instances are immutable, compare equal when their source, names and
    limits are equal, and can be copied and pickled (unpickling compiles the
    source again, through every check).

    Attributes:
        source: The source text of the expression.
        names: The names the environment passed to :meth:`evaluate` provides.
        limits: The limits the expression was checked against and its
            evaluation keeps to.
    """

    __slots__ = ("_evaluate", "limits", "names", "source")

    source: str
    names: frozenset[str]
    limits: ExpressionLimits
    _evaluate: Evaluator

    def __init__(
        self,
        source: str,
        names: Iterable[str] = _DEFAULT_NAMES,
        limits: ExpressionLimits = DEFAULT_LIMITS,
    ) -> None:
        """Check and compile an expression; see :func:`compile_expression`."""
        if not isinstance(limits, ExpressionLimits):
            raise TypeError(f"limits must be an ExpressionLimits, not {type(limits).__name__}.")
        allowed = _check_names(names)
        text = check_source(source, limits)
        tree = parse(text, limits)
        check_allowed(text, tree, allowed, limits)
        evaluate = compile_tree(text, tree, limits)
        object.__setattr__(self, "source", text)
        object.__setattr__(self, "names", allowed)
        object.__setattr__(self, "limits", limits)
        object.__setattr__(self, "_evaluate", evaluate)

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate the expression.

        Args:
            env: A value for each name the expression uses (usually
                ``{"data": ..., "config": ...}``).

        Returns:
            The value of the expression.

        Raises:
            ExpressionEvaluationError: If anything fails: a name missing from
                ``env``, a missing key, a type error, a division by zero, a
                limit that would be exceeded, a method not allowed on the
                receiver's type. The original exception is the ``__cause__``.
        """
        try:
            return self._evaluate(env)
        except Exception as error:  # every failure is reported the same way
            shown = _shorten(self.source, _MOST_SHOWN)
            message = f"Expression {shown!r} failed during evaluation: {_describe(error)}"
            raise ExpressionEvaluationError(message) from error

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"CompiledExpression is immutable; cannot set {name!r}.")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"CompiledExpression is immutable; cannot delete {name!r}.")

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompiledExpression):
            return NotImplemented
        return (self.source, self.names, self.limits) == (other.source, other.names, other.limits)

    def __hash__(self) -> int:
        return hash((self.source, self.names, self.limits))

    def __copy__(self) -> CompiledExpression:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CompiledExpression:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (CompiledExpression, (self.source, tuple(sorted(self.names)), self.limits))


def compile_expression(
    source: str,
    *,
    names: Iterable[str] = _DEFAULT_NAMES,
    limits: ExpressionLimits = DEFAULT_LIMITS,
) -> CompiledExpression:
    """Check an expression against the safe language and compile it.

    Args:
        source: The expression, such as ``"data.get('value', 0) > 10"``.
        names: The names the environment will provide; each must be an
            identifier that does not start with an underscore and is not one
            of the builtins.
        limits: The size limits to check and to keep to while evaluating.

    Returns:
        The compiled expression.

    Raises:
        ExpressionRejectedError: If the source is not a str, is too long or
            too large, is not a valid expression, uses syntax, names or
            attributes that are not allowed, or has a constant part that
            fails or exceeds a limit (``9 ** 9 ** 9``, ``1 / 0``).
        TypeError: If ``names`` is a single str or ``limits`` is not an
            :class:`ExpressionLimits`.
        ValueError: If a name in ``names`` is not acceptable.
    """
    return CompiledExpression(source, names, limits)
