"""The safe expression language of routing and filtering conditions.

Expressions are parsed with :mod:`ast`, checked against an allow-list and
compiled to closures; nothing is passed to ``eval`` or ``exec``. See
``docs/expressions.md`` for the language, its limits and why it is safe::

    from routilux.expressions import compile_expression

    condition = compile_expression("data.get('value', 0) > 10")
    condition.evaluate({"data": {"value": 15}, "config": {}})  # True
"""

from routilux._expression import (
    DEFAULT_LIMITS,
    CompiledExpression,
    ExpressionLimits,
    compile_expression,
)

__all__ = ["DEFAULT_LIMITS", "CompiledExpression", "ExpressionLimits", "compile_expression"]
