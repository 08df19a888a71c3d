"""The closures of comprehensions and of the calls that consume a generator expression.

A comprehension compiles to a chain of generator functions, one per ``for``
clause, that yields the elements; such a generator is private to one
evaluation of one closure here, which consumes it at once and closes it. So
an expression never returns a generator, and no generator outlives the
evaluation that made it.

Each item a ``for`` clause takes spends the steps of its clause before
anything runs for it, so an iterable of any length, even an endless one, is
read only as far as the steps allow.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, NamedTuple, TypeAlias

from routilux._expression._bounds import Bounds
from routilux._expression._fold import Evaluator
from routilux._expression._frames import Frame, enter

__all__ = [
    "Clause",
    "Finish",
    "Produce",
    "Target",
    "binder",
    "comprehension",
    "consumer",
    "dict_maker",
    "list_maker",
    "pair",
    "producer",
    "set_maker",
]

Target: TypeAlias = "str | tuple[Target, ...]"
"""A comprehension variable, or a tuple of targets to unpack into (``k, v``)."""

Bind = Callable[[Frame, Any], None]
Items = Generator[Any, None, None]
Produce = Callable[[Frame, Iterable[Any]], Items]
"""Yields the elements of a comprehension from its first iterable."""
Finish = Callable[..., Any]
"""Consumes the elements (and any further arguments) into the result."""


class Clause(NamedTuple):
    """One ``for`` clause of a comprehension, with its ``if`` filters.

    Attributes:
        iterate: Gives the clause's iterable in the frame (not used for the
            first clause, whose iterable is computed outside the comprehension).
        bind: Assigns an item to the clause's target.
        conditions: The filters, in order.
        cost: The steps each item costs.
    """

    iterate: Evaluator
    bind: Bind
    conditions: tuple[Evaluator, ...]
    cost: int


def binder(target: Target) -> Bind:
    """Make the function that assigns an item to a target.

    Args:
        target: A name, or a tuple of targets to unpack the item into.

    Returns:
        A function of the frame and the item.
    """
    if isinstance(target, str):
        name = target

        def bind_name(frame: Frame, value: Any) -> None:
            frame[name] = value

        return bind_name
    binders = tuple(binder(part) for part in target)

    def bind_each(frame: Frame, value: Any) -> None:
        for bind, item in zip(binders, _unpack(value, len(binders)), strict=True):
            bind(frame, item)

    return bind_each


def _unpack(value: Any, count: int) -> tuple[Any, ...]:
    # Reads one item more than needed, as Python does, and never more, so
    # an endless iterable fails like a too long one.
    try:
        iterator = iter(value)
    except TypeError:
        raise TypeError(f"cannot unpack non-iterable {type(value).__name__} object") from None
    items = tuple(itertools.islice(iterator, count + 1))
    if len(items) > count:
        raise ValueError(f"too many values to unpack (expected {count})")
    if len(items) < count:
        raise ValueError(f"not enough values to unpack (expected {count}, got {len(items)})")
    return items


def _innermost(clause: Clause, element: Evaluator) -> Produce:
    bind, conditions, cost = clause.bind, clause.conditions, clause.cost

    def produce(frame: Frame, iterable: Iterable[Any]) -> Items:
        spend = frame.steps.spend
        for item in iterable:
            spend(cost)
            bind(frame, item)
            for condition in conditions:
                if not condition(frame):
                    break
            else:
                yield element(frame)

    return produce


def _enclosing(clause: Clause, following: Evaluator, inner: Produce) -> Produce:
    bind, conditions, cost = clause.bind, clause.conditions, clause.cost

    def produce(frame: Frame, iterable: Iterable[Any]) -> Items:
        spend = frame.steps.spend
        for item in iterable:
            spend(cost)
            bind(frame, item)
            for condition in conditions:
                if not condition(frame):
                    break
            else:
                yield from inner(frame, following(frame))

    return produce


def producer(clauses: Sequence[Clause], element: Evaluator) -> Produce:
    """Chain the clauses of a comprehension, innermost last.

    Args:
        clauses: The ``for`` clauses, in source order.
        element: Computes one element in the frame.

    Returns:
        The function that yields the elements.
    """
    produce = _innermost(clauses[-1], element)
    for clause, following in zip(clauses[-2::-1], clauses[:0:-1], strict=True):
        produce = _enclosing(clause, following.iterate, produce)
    return produce


def pair(key: Evaluator, value: Evaluator) -> Evaluator:
    """Make the element of a dict comprehension: the key, then the value."""

    def make_pair(frame: Any) -> Any:
        return key(frame), value(frame)

    return make_pair


def comprehension(
    first: Evaluator,
    produce: Produce,
    finish: Finish,
    extras: Sequence[Evaluator],
    steps: int,
) -> Evaluator:
    """Make the closure of a comprehension, or of a call consuming one.

    Args:
        first: Gives the first iterable, in the enclosing frame.
        produce: Yields the elements.
        finish: Consumes the elements, followed by the values of ``extras``.
        extras: Further arguments of the call (the start of ``sum``).
        steps: The steps an evaluation starts with, for a frame made while
            folding constant parts.

    Returns:
        The closure.
    """

    def evaluate(env: Any) -> Any:
        iterable = iter(first(env))
        items = produce(enter(env, steps), iterable)
        try:
            return finish(items, *[extra(env) for extra in extras])
        finally:
            items.close()

    return evaluate


def list_maker(bounds: Bounds, what: str) -> Callable[[Items], list[Any]]:
    """Make the function that collects elements into a list, within the limits.

    Args:
        bounds: The limits.
        what: What builds the list, for the error.

    Returns:
        The function.
    """
    most = bounds.max_length

    def make_list(items: Items) -> list[Any]:
        made = list(itertools.islice(items, most + 1))
        if len(made) > most:
            bounds.refuse_length(len(made), what, at_least=True)
        return made

    return make_list


def set_maker(bounds: Bounds, what: str) -> Callable[[Items], set[Any]]:
    """Make the function that collects elements into a set, within the limits."""
    most = bounds.max_length

    def make_set(items: Items) -> set[Any]:
        made: set[Any] = set()
        for item in items:
            made.add(item)
            if len(made) > most:
                bounds.refuse_length(len(made), what, at_least=True)
        return made

    return make_set


def dict_maker(bounds: Bounds, what: str) -> Callable[[Items], dict[Any, Any]]:
    """Make the function that collects key and value pairs into a dict, within the limits."""
    most = bounds.max_length

    def make_dict(items: Items) -> dict[Any, Any]:
        made: dict[Any, Any] = {}
        for key, value in items:
            made[key] = value
            if len(made) > most:
                bounds.refuse_length(len(made), what, at_least=True)
        return made

    return make_dict


def consumer(function: Callable[..., Any], make: Callable[[Items], Any] | None) -> Finish:
    """Make what a builtin call does with the elements of a generator expression.

    Args:
        function: The bounded builtin.
        make: Collects the elements first, for a builtin that keeps them all
            (``list``, ``sorted``, ...), so that the collection is bounded;
            None for one that reads them one at a time (``any``, ``sum``, ...).

    Returns:
        The function of the elements and the further arguments.
    """
    if make is None:
        return function

    def consume(items: Items, *extras: Any) -> Any:
        return function(make(items), *extras)

    return consume
