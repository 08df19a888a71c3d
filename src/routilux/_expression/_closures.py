"""The closures compiled expressions are made of.

Each builder takes the compiled parts of a node's children and returns the
closure for the node. Builders specialise on constant children, since a
comparison with a literal (``x > 10``) is the common case and a closure that
skips calling a constant is measurably faster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from routilux._expression._fold import Evaluator, Part
from routilux._expression._operators import Binary, Unary

__all__ = [
    "Builder",
    "and_builder",
    "binary_builder",
    "call_builder",
    "comparison_builder",
    "dict_builder",
    "if_builder",
    "list_builder",
    "method_builder",
    "not_builder",
    "or_builder",
    "set_builder",
    "slice_builder",
    "subscript_builder",
    "tuple_builder",
    "unary_builder",
]

Builder = Callable[[Sequence[Part]], Evaluator]
"""Makes a node's closure from its children's parts."""

Env = Mapping[str, Any]


def _evaluators(parts: Sequence[Part]) -> tuple[Evaluator, ...]:
    return tuple(part.evaluate for part in parts)


def tuple_builder(parts: Sequence[Part]) -> Evaluator:
    """Build a tuple display ``(a, b)``."""
    items = _evaluators(parts)

    def make_tuple(env: Env) -> Any:
        return tuple([item(env) for item in items])

    return make_tuple


def list_builder(parts: Sequence[Part]) -> Evaluator:
    """Build a list display ``[a, b]``."""
    items = _evaluators(parts)

    def make_list(env: Env) -> Any:
        return [item(env) for item in items]

    return make_list


def set_builder(parts: Sequence[Part]) -> Evaluator:
    """Build a set display ``{a, b}``."""
    items = _evaluators(parts)

    def make_set(env: Env) -> Any:
        return {item(env) for item in items}

    return make_set


def dict_builder(parts: Sequence[Part]) -> Evaluator:
    """Build a dict display from parts ordered key, value, key, value, ..."""
    evaluators = _evaluators(parts)
    pairs = tuple(zip(evaluators[0::2], evaluators[1::2], strict=True))

    def make_dict(env: Env) -> Any:
        return {key(env): value(env) for key, value in pairs}

    return make_dict


def not_builder(parts: Sequence[Part]) -> Evaluator:
    """Build ``not a``."""
    (operand,) = _evaluators(parts)

    def negate(env: Env) -> Any:
        return not operand(env)

    return negate


def unary_builder(operation: Unary) -> Builder:
    """Make the builder for a unary operator such as ``-a``."""

    def build(parts: Sequence[Part]) -> Evaluator:
        (operand,) = _evaluators(parts)

        def apply(env: Env) -> Any:
            return operation(operand(env))

        return apply

    return build


def binary_builder(operation: Binary) -> Builder:
    """Make the builder for a binary operator such as ``a + b``."""

    def build(parts: Sequence[Part]) -> Evaluator:
        left, right = parts
        evaluate_left = left.evaluate
        if right.is_constant:
            known = right.value

            def apply_known(env: Env) -> Any:
                return operation(evaluate_left(env), known)

            return apply_known
        evaluate_right = right.evaluate

        def apply(env: Env) -> Any:
            return operation(evaluate_left(env), evaluate_right(env))

        return apply

    return build


def _chain(first: Evaluator, links: tuple[tuple[Binary, Evaluator], ...]) -> Evaluator:
    def compare_chain(env: Env) -> Any:
        # As in Python: each operand is evaluated once, and the chain stops
        # at the first comparison that is false, returning its result.
        left = first(env)
        result: Any = True
        for operation, evaluate_right in links:
            right = evaluate_right(env)
            result = operation(left, right)
            if not result:
                return result
            left = right
        return result

    return compare_chain


def comparison_builder(operations: Sequence[Binary]) -> Builder:
    """Make the builder for a comparison, chained (``a < b < c``) or not."""
    if len(operations) == 1:
        return binary_builder(operations[0])

    def build(parts: Sequence[Part]) -> Evaluator:
        first, *rest = _evaluators(parts)
        return _chain(first, tuple(zip(operations, rest, strict=True)))

    return build


def and_builder(parts: Sequence[Part]) -> Evaluator:
    """Build ``a and b and ...`` with Python's short-circuit."""
    operands = _evaluators(parts)

    def all_true(env: Env) -> Any:
        value: Any = True
        for operand in operands:
            value = operand(env)
            if not value:
                return value
        return value

    return all_true


def or_builder(parts: Sequence[Part]) -> Evaluator:
    """Build ``a or b or ...`` with Python's short-circuit."""
    operands = _evaluators(parts)

    def any_true(env: Env) -> Any:
        value: Any = False
        for operand in operands:
            value = operand(env)
            if value:
                return value
        return value

    return any_true


def if_builder(parts: Sequence[Part]) -> Evaluator:
    """Build ``body if test else orelse`` from parts ordered test, body, orelse."""
    test, body, orelse = _evaluators(parts)

    def choose(env: Env) -> Any:
        return body(env) if test(env) else orelse(env)

    return choose


def subscript_builder(parts: Sequence[Part]) -> Evaluator:
    """Build ``value[index]`` from parts ordered value, index."""
    container, index = parts
    evaluate_container = container.evaluate
    if index.is_constant:
        key = index.value

        def item_known(env: Env) -> Any:
            return evaluate_container(env)[key]

        return item_known
    evaluate_index = index.evaluate

    def item(env: Env) -> Any:
        return evaluate_container(env)[evaluate_index(env)]

    return item


def slice_builder(parts: Sequence[Part]) -> Evaluator:
    """Build ``lower:upper:step`` from its three parts (None where omitted)."""
    lower, upper, step = _evaluators(parts)

    def make_slice(env: Env) -> Any:
        return slice(lower(env), upper(env), step(env))

    return make_slice


def call_builder(function: Callable[..., Any]) -> Builder:
    """Make the builder for a call of a bounded builtin with positional arguments."""

    def build(parts: Sequence[Part]) -> Evaluator:
        arguments = _evaluators(parts)
        if len(arguments) == 1:
            (argument,) = arguments

            def call_one(env: Env) -> Any:
                return function(argument(env))

            return call_one

        def call(env: Env) -> Any:
            return function(*[argument(env) for argument in arguments])

        return call

    return build


def method_builder(resolve: Callable[[Any], Callable[..., Any]]) -> Builder:
    """Make the builder for ``receiver.method(...)`` from parts ordered receiver, arguments.

    Args:
        resolve: Finds the builtin unbound method for a receiver, or raises.
    """

    def build(parts: Sequence[Part]) -> Evaluator:
        evaluate_receiver = parts[0].evaluate
        rest = parts[1:]
        if all(part.is_constant for part in rest):
            known = tuple(part.value for part in rest)

            def call_known(env: Env) -> Any:
                receiver = evaluate_receiver(env)
                return resolve(receiver)(receiver, *known)

            return call_known
        arguments = _evaluators(rest)

        def call(env: Env) -> Any:
            receiver = evaluate_receiver(env)
            return resolve(receiver)(receiver, *[argument(env) for argument in arguments])

        return call

    return build
