"""A safe evaluator for small Python-like expressions, such as routing conditions.

Expressions are parsed with :mod:`ast`, checked against an allow-list of
syntax, names and methods, and compiled into closures; nothing is passed to
``eval`` or ``exec``. Arithmetic is bounded, and comprehensions spend steps
from a budget per evaluation, so that no expression can use unbounded memory
or time. See ``docs/expressions.md`` for the language.

Example:
    >>> condition = compile_expression("data.get('value', 0) > 10")
    >>> condition.evaluate({"data": {"value": 15}, "config": {}})
    True
"""

from __future__ import annotations

from routilux._expression._compiled import CompiledExpression, compile_expression
from routilux._expression._limits import DEFAULT_LIMITS, ExpressionLimits

__all__ = ["DEFAULT_LIMITS", "CompiledExpression", "ExpressionLimits", "compile_expression"]
