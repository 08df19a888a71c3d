"""Compiling a checked syntax tree into nested closures.

The tree has already passed the allow-list, so every node type here is one
the language allows. Compiling happens once; evaluating then only calls
closures, with no tree walking and no checking of syntax.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from routilux._expression import _closures as closures
from routilux._expression._bounds import Bounds
from routilux._expression._builtins import BUILTIN_VALUES, builtin_calls
from routilux._expression._fold import Evaluator, Kind, Part, constant, finish, fold
from routilux._expression._limits import ExpressionLimits
from routilux._expression._methods import method_callers
from routilux._expression._operators import (
    COMPARISONS,
    Binary,
    Unary,
    binary_operators,
    unary_operators,
)
from routilux.exceptions import ExpressionRejectedError

__all__ = ["compile_tree"]

_NONE = constant(None)


@dataclass(frozen=True, slots=True)
class _Tables:
    binary: dict[type[ast.operator], Binary]
    unary: dict[type[ast.unaryop], Unary]
    calls: dict[str, Callable[..., Any]]
    methods: dict[str, Callable[[Any], Callable[..., Any]]]


@functools.lru_cache(maxsize=16)
def _tables(limits: ExpressionLimits) -> _Tables:
    bounds = Bounds(limits)
    return _Tables(
        binary=binary_operators(bounds),
        unary=unary_operators(bounds),
        calls=builtin_calls(bounds),
        methods=method_callers(bounds),
    )


def _load(name: str) -> Evaluator:
    def load(env: Mapping[str, Any]) -> Any:
        try:
            return env[name]
        except KeyError:
            raise NameError(f"the name {name!r} is not in the environment") from None

    return load


class _Compiler:
    """Compiles the nodes of one expression; one instance per expression."""

    def __init__(self, source: str, tables: _Tables) -> None:
        self._source = source
        self._tables = tables
        self._handlers: dict[type[ast.expr], Callable[[Any], Part]] = {
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.Tuple: self._tuple,
            ast.List: self._list,
            ast.Set: self._set,
            ast.Dict: self._dict,
            ast.UnaryOp: self._unary,
            ast.BinOp: self._binary,
            ast.Compare: self._compare,
            ast.BoolOp: self._boolean,
            ast.IfExp: self._if,
            ast.Subscript: self._subscript,
            ast.Slice: self._slice,
            ast.Call: self._call,
        }

    def part(self, node: ast.expr) -> Part:
        """Compile one node and, through it, its children."""
        return self._handlers[type(node)](node)

    def _fold(self, node: ast.expr, children: list[ast.expr], build: closures.Builder) -> Part:
        return fold(self._source, node, [self.part(child) for child in children], build)

    def _constant(self, node: ast.Constant) -> Part:
        return constant(node.value)

    def _name(self, node: ast.Name) -> Part:
        if node.id in BUILTIN_VALUES:
            return constant(BUILTIN_VALUES[node.id])
        return Part(Kind.DYNAMIC, _load(node.id))

    def _tuple(self, node: ast.Tuple) -> Part:
        return self._fold(node, node.elts, closures.tuple_builder)

    def _list(self, node: ast.List) -> Part:
        return self._fold(node, node.elts, closures.list_builder)

    def _set(self, node: ast.Set) -> Part:
        return self._fold(node, node.elts, closures.set_builder)

    def _dict(self, node: ast.Dict) -> Part:
        children: list[ast.expr] = []
        for key, value in zip(node.keys, node.values, strict=True):
            # The allow-list has refused ``**`` unpacking already.
            if key is None:
                raise ExpressionRejectedError(self._source, "dictionary unpacking is not allowed.")
            children += (key, value)
        return self._fold(node, children, closures.dict_builder)

    def _unary(self, node: ast.UnaryOp) -> Part:
        if isinstance(node.op, ast.Not):
            return self._fold(node, [node.operand], closures.not_builder)
        operation = self._tables.unary[type(node.op)]
        return self._fold(node, [node.operand], closures.unary_builder(operation))

    def _binary(self, node: ast.BinOp) -> Part:
        operation = self._tables.binary[type(node.op)]
        return self._fold(node, [node.left, node.right], closures.binary_builder(operation))

    def _compare(self, node: ast.Compare) -> Part:
        operations = [COMPARISONS[type(op)] for op in node.ops]
        build = closures.comparison_builder(operations)
        return self._fold(node, [node.left, *node.comparators], build)

    def _boolean(self, node: ast.BoolOp) -> Part:
        is_and = isinstance(node.op, ast.And)
        build = closures.and_builder if is_and else closures.or_builder
        return self._fold(node, node.values, build)

    def _if(self, node: ast.IfExp) -> Part:
        return self._fold(node, [node.test, node.body, node.orelse], closures.if_builder)

    def _subscript(self, node: ast.Subscript) -> Part:
        return self._fold(node, [node.value, node.slice], closures.subscript_builder)

    def _slice(self, node: ast.Slice) -> Part:
        bounds = [_NONE if child is None else self.part(child) for child in _slice_children(node)]
        return fold(self._source, node, bounds, closures.slice_builder)

    def _call(self, node: ast.Call) -> Part:
        function = node.func
        if isinstance(function, ast.Attribute):
            resolve = self._tables.methods[function.attr]
            build = closures.method_builder(resolve)
            return self._fold(node, [function.value, *node.args], build)
        # The allow-list has let through only calls of builtins by name.
        if not isinstance(function, ast.Name):
            raise ExpressionRejectedError(self._source, "only builtins and methods can be called.")
        build = closures.call_builder(self._tables.calls[function.id])
        return self._fold(node, node.args, build)


def _slice_children(node: ast.Slice) -> tuple[ast.expr | None, ast.expr | None, ast.expr | None]:
    return node.lower, node.upper, node.step


def compile_tree(source: str, tree: ast.Expression, limits: ExpressionLimits) -> Evaluator:
    """Compile a checked expression into a closure over the environment.

    Args:
        source: The source text, for rejections.
        tree: The parsed expression, already through the allow-list.
        limits: The limits the operators enforce.

    Returns:
        The closure that evaluates the expression for an environment.

    Raises:
        ExpressionRejectedError: If a constant part fails, or the expression
            nests too deeply to compile.
    """
    compiler = _Compiler(source, _tables(limits))
    try:
        part = compiler.part(tree.body)
    except RecursionError as error:
        reason = "it nests too deeply to compile."
        raise ExpressionRejectedError(source, reason) from error
    return finish(source, part)
