"""Compiling comprehensions, and the calls that consume a generator expression.

The compiler of the whole expression hands these nodes over; this compiles
their parts through it, in the scope of the comprehension's variables, and
puts the closures of ``_comprehension`` together.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from routilux._expression import _comprehension as comprehensions
from routilux._expression._bounds import Bounds
from routilux._expression._builtins import GENERATOR_CONSUMERS
from routilux._expression._fold import Evaluator, Kind, Part, evaluate_once, refuse_failed
from routilux._expression._frames import charging, read_cost
from routilux._expression._scopes import Scopes

__all__ = ["ComprehensionCompiler"]

Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp

_MAKERS = {
    "list": comprehensions.list_maker,
    "set": comprehensions.set_maker,
    "dict": comprehensions.dict_maker,
}


def _target(node: ast.expr) -> comprehensions.Target:
    # The allow-list has let through only names and tuples or lists of them.
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_target(element) for element in node.elts)
    if not isinstance(node, ast.Name):
        raise TypeError(f"unexpected comprehension target {type(node).__name__}")
    return node.id


def _names(target: comprehensions.Target) -> frozenset[str]:
    if isinstance(target, str):
        return frozenset({target})
    return frozenset().union(*(_names(part) for part in target))


def _unused(env: Mapping[str, Any]) -> Any:
    # The first clause's iterable is computed outside the comprehension.
    raise AssertionError("the first iterable of a comprehension is not computed in its frame")


class ComprehensionCompiler:
    """Compiles the comprehensions of one expression.

    Args:
        source: The source text, for rejections.
        part: Compiles any other node of the expression.
        scopes: The comprehensions enclosing the node being compiled.
        bounds: The limits.
        calls: The bounded builtins, by name.
    """

    def __init__(
        self,
        source: str,
        part: Callable[[ast.expr], Part],
        scopes: Scopes,
        bounds: Bounds,
        calls: Mapping[str, Callable[..., Any]],
    ) -> None:
        self._source = source
        self._part = part
        self._scopes = scopes
        self._bounds = bounds
        self._calls = calls

    def list_comprehension(self, node: ast.ListComp) -> Part:
        """Compile ``[element for ...]``."""
        make = comprehensions.list_maker(self._bounds, "the list comprehension")
        return self._compile(node, node, [node.elt], make, keeps=True)

    def set_comprehension(self, node: ast.SetComp) -> Part:
        """Compile ``{element for ...}``."""
        make = comprehensions.set_maker(self._bounds, "the set comprehension")
        return self._compile(node, node, [node.elt], make, keeps=True)

    def dict_comprehension(self, node: ast.DictComp) -> Part:
        """Compile ``{key: value for ...}``."""
        make = comprehensions.dict_maker(self._bounds, "the dict comprehension")
        return self._compile(node, node, [node.key, node.value], make, keeps=True)

    def consuming_call(self, node: ast.Call, name: str, generator: ast.GeneratorExp) -> Part:
        """Compile a builtin call whose first argument is a generator expression.

        Args:
            node: The call.
            name: The builtin called, one of ``GENERATOR_CONSUMERS``.
            generator: The generator expression.
        """
        maker = _MAKERS.get(GENERATOR_CONSUMERS[name])
        make = None if maker is None else maker(self._bounds, f"{name}() of the elements")
        finish = comprehensions.consumer(self._calls[name], make)
        keeps = make is not None
        return self._compile(node, generator, [generator.elt], finish, node.args[1:], keeps=keeps)

    def _compile(
        self,
        node: ast.expr,
        inner: Comprehension,
        elements: list[ast.expr],
        finish: comprehensions.Finish,
        extra_nodes: Sequence[ast.expr] = (),
        *,
        keeps: bool,
    ) -> Part:
        """Compile a comprehension, or a call that consumes one.

        Args:
            node: The node compiled: the comprehension, or the call.
            inner: The comprehension.
            elements: What each element is computed from: one expression, or
                the key and the value of a dict comprehension.
            finish: Makes the result from the elements and the values of
                ``extra_nodes``.
            extra_nodes: Further arguments of the call.
            keeps: Whether the elements are kept (in a list, a set or a dict),
                so that each costs its size, as printing or comparing the
                result will; elements read one at a time cost nothing more.
        """
        generators = inner.generators
        first = self._part(generators[0].iter)
        targets = [_target(generator.target) for generator in generators]
        with self._scopes.entered(frozenset().union(*map(_names, targets))) as scope:
            clauses, parts, made = self._clauses(generators, targets, elements)
        kept = [charging(part.evaluate, read_cost) if keeps else part.evaluate for part in made]
        element = kept[0] if len(kept) == 1 else comprehensions.pair(*kept)
        extras = [self._part(extra) for extra in extra_nodes]
        evaluate = comprehensions.comprehension(
            first.evaluate,
            comprehensions.producer(clauses, element),
            finish,
            [extra.evaluate for extra in extras],
            self._bounds.limits.max_steps,
        )
        outer = [first, *extras]
        if not scope.reads_outside and all(part.kind is not Kind.DYNAMIC for part in outer):
            return evaluate_once(node, evaluate)
        refuse_failed(self._source, [*outer, *parts])
        if self._scopes.inside:
            self._scopes.cost += 1 + sum(map(self._scopes.known_cost, outer))
        return Part(Kind.DYNAMIC, evaluate)

    def _clauses(
        self,
        generators: list[ast.comprehension],
        targets: list[comprehensions.Target],
        elements: list[ast.expr],
    ) -> tuple[list[comprehensions.Clause], list[Part], list[Part]]:
        # For each clause: what runs for each of its items (its filters,
        # then the next clause's iterable or the element) and its cost.
        clauses: list[comprehensions.Clause] = []
        parts: list[Part] = []
        iterate: Evaluator = _unused
        nexts: list[Part] = []
        for index, (generator, target) in enumerate(zip(generators, targets, strict=True)):
            following = [generators[index + 1].iter] if index + 1 < len(generators) else elements
            (conditions, nexts), cost = self._scopes.measure(
                self._item_parts, generator.ifs, following
            )
            cost += 1 + sum(map(self._scopes.known_cost, [*conditions, *nexts]))
            filters = tuple(condition.evaluate for condition in conditions)
            bind = comprehensions.binder(target)
            clauses.append(comprehensions.Clause(iterate, bind, filters, cost))
            parts += [*conditions, *nexts]
            iterate = nexts[0].evaluate
        return clauses, parts, nexts

    def _item_parts(
        self, conditions: list[ast.expr], following: list[ast.expr]
    ) -> tuple[list[Part], list[Part]]:
        return [self._part(node) for node in conditions], [self._part(node) for node in following]
