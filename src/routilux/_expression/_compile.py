"""Compiling a checked syntax tree into nested closures.

The tree has already passed the allow-list, so every node type here is one
the language allows. Compiling happens once; evaluating then only calls
closures, with no tree walking and no checking of syntax.

Inside a comprehension, the closures also spend steps (see ``_frames``): the
compiler adds up, for each ``for`` clause, the operations that run for each
of its items, and wraps the operands that an operation reads item by item
and the values it builds in closures that charge their size.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from routilux._expression import _closures as closures
from routilux._expression._bounds import Bounds
from routilux._expression._builtins import BUILTIN_VALUES, builtin_calls
from routilux._expression._compile_comprehension import ComprehensionCompiler
from routilux._expression._fold import Evaluator, Kind, Part, constant, finish, fold
from routilux._expression._frames import (
    Cost,
    built_cost,
    environment_loader,
    in_frame,
    lookup_cost,
    read_cost,
    variable_loader,
)
from routilux._expression._limits import ExpressionLimits
from routilux._expression._methods import method_callers
from routilux._expression._operators import (
    COMPARISONS,
    Binary,
    Unary,
    binary_operators,
    unary_operators,
)
from routilux._expression._scopes import Scopes, charged
from routilux.exceptions import ExpressionRejectedError

__all__ = ["compile_tree"]

_NONE = constant(None)

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)

# Builtins and methods whose work does not grow with their operands; the
# others read their operands item by item and build a new value.
_QUICK_BUILTINS = frozenset({"abs", "bool", "isinstance", "len", "round"})
_QUICK_METHODS = frozenset({"get", "keys", "values", "items"})


@dataclass(frozen=True, slots=True)
class _Tables:
    bounds: Bounds
    binary: dict[type[ast.operator], Binary]
    unary: dict[type[ast.unaryop], Unary]
    calls: dict[str, Callable[..., Any]]
    methods: dict[str, Callable[[Any], Callable[..., Any]]]


@functools.lru_cache(maxsize=16)
def _tables(limits: ExpressionLimits) -> _Tables:
    bounds = Bounds(limits)
    return _Tables(
        bounds=bounds,
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
    """Compiles the nodes of one expression; one instance per expression.

    Args:
        source: The source text, for rejections.
        tables: The bounded operations.
        limits: The limits.
        frames: Whether the expression has comprehensions, and so is
            evaluated in frames (names are then read through the frame).
    """

    def __init__(
        self, source: str, tables: _Tables, limits: ExpressionLimits, *, frames: bool
    ) -> None:
        self._source = source
        self._tables = tables
        self._frames = frames
        self._scopes = Scopes(limits.max_steps)
        self._comprehensions = ComprehensionCompiler(
            source, self.part, self._scopes, tables.bounds, tables.calls
        )
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
            ast.ListComp: self._comprehensions.list_comprehension,
            ast.SetComp: self._comprehensions.set_comprehension,
            ast.DictComp: self._comprehensions.dict_comprehension,
        }

    def part(self, node: ast.expr) -> Part:
        """Compile one node and, through it, its children."""
        return self._handlers[type(node)](node)

    def _fold(
        self,
        node: ast.expr,
        children: list[ast.expr],
        build: closures.Builder,
        reads: Sequence[Cost | None] = (),
        *,
        builds: bool = False,
    ) -> Part:
        """Compile the children, then fold them into the node's part.

        Args:
            node: The node.
            children: Its children, in the order ``build`` expects.
            build: Makes the node's closure.
            reads: For each child, what the node's operation costs for
                reading it, or None if it does not read it item by item.
            builds: Whether the operation builds a new value whose size it
                costs.
        """
        parts = [self.part(child) for child in children]
        if not self._scopes.inside:
            return fold(self._source, node, parts, build)
        costs = [reads[index] if index < len(reads) else None for index in range(len(parts))]
        result = fold(self._source, node, list(map(charged, parts, costs)), build)
        if result.kind is not Kind.DYNAMIC:
            return result
        self._scopes.cost += 1 + sum(map(self._scopes.known_cost, parts, costs))
        return charged(result, built_cost) if builds else result

    def _constant(self, node: ast.Constant) -> Part:
        return constant(node.value)

    def _name(self, node: ast.Name) -> Part:
        name = node.id
        if self._scopes.is_variable(name):
            part = Part(Kind.DYNAMIC, variable_loader(name))
        elif name in BUILTIN_VALUES:
            return constant(BUILTIN_VALUES[name])
        else:
            self._scopes.read_environment()
            part = Part(Kind.DYNAMIC, environment_loader(name) if self._frames else _load(name))
        if self._scopes.inside:
            self._scopes.cost += 1
        return part

    def _tuple(self, node: ast.Tuple) -> Part:
        return self._fold(node, node.elts, closures.tuple_builder)

    def _list(self, node: ast.List) -> Part:
        return self._fold(node, node.elts, closures.list_builder)

    def _set(self, node: ast.Set) -> Part:
        # Hashing an element reads it.
        reads = (read_cost,) * len(node.elts)
        return self._fold(node, node.elts, closures.set_builder, reads)

    def _dict(self, node: ast.Dict) -> Part:
        children: list[ast.expr] = []
        for key, value in zip(node.keys, node.values, strict=True):
            # The allow-list has refused ``**`` unpacking already.
            if key is None:
                raise ExpressionRejectedError(self._source, "dictionary unpacking is not allowed.")
            children += (key, value)
        reads = (read_cost, None) * len(node.keys)
        return self._fold(node, children, closures.dict_builder, reads)

    def _unary(self, node: ast.UnaryOp) -> Part:
        if isinstance(node.op, ast.Not):
            return self._fold(node, [node.operand], closures.not_builder)
        operation = self._tables.unary[type(node.op)]
        return self._fold(node, [node.operand], closures.unary_builder(operation))

    def _binary(self, node: ast.BinOp) -> Part:
        operation = self._tables.binary[type(node.op)]
        build = closures.binary_builder(operation)
        reads = (read_cost, read_cost)
        return self._fold(node, [node.left, node.right], build, reads, builds=True)

    def _compare(self, node: ast.Compare) -> Part:
        operations = [COMPARISONS[type(op)] for op in node.ops]
        build = closures.comparison_builder(operations)
        # ``x in container`` reads only the item looked up in a dict or a set.
        rights = [
            lookup_cost if isinstance(op, (ast.In, ast.NotIn)) else read_cost for op in node.ops
        ]
        reads = (read_cost, *rights)
        return self._fold(node, [node.left, *node.comparators], build, reads)

    def _boolean(self, node: ast.BoolOp) -> Part:
        is_and = isinstance(node.op, ast.And)
        build = closures.and_builder if is_and else closures.or_builder
        return self._fold(node, node.values, build)

    def _if(self, node: ast.IfExp) -> Part:
        return self._fold(node, [node.test, node.body, node.orelse], closures.if_builder)

    def _subscript(self, node: ast.Subscript) -> Part:
        build = closures.subscript_builder
        builds = isinstance(node.slice, ast.Slice)
        return self._fold(node, [node.value, node.slice], build, (None, read_cost), builds=builds)

    def _slice(self, node: ast.Slice) -> Part:
        bounds = [_NONE if child is None else self.part(child) for child in _slice_children(node)]
        return fold(self._source, node, bounds, closures.slice_builder)

    def _call(self, node: ast.Call) -> Part:
        function = node.func
        if isinstance(function, ast.Attribute):
            return self._method(node, function)
        # The allow-list has let through only calls of builtins by name.
        if not isinstance(function, ast.Name):
            raise ExpressionRejectedError(self._source, "only builtins and methods can be called.")
        if node.args and isinstance(node.args[0], ast.GeneratorExp):
            return self._comprehensions.consuming_call(node, function.id, node.args[0])
        build = closures.call_builder(self._tables.calls[function.id])
        quick = function.id in _QUICK_BUILTINS
        reads = () if quick else (read_cost,) * len(node.args)
        return self._fold(node, node.args, build, reads, builds=not quick)

    def _method(self, node: ast.Call, function: ast.Attribute) -> Part:
        build = closures.method_builder(self._tables.methods[function.attr])
        quick = function.attr in _QUICK_METHODS
        reads = (None if quick else read_cost, *(read_cost,) * len(node.args))
        return self._fold(node, [function.value, *node.args], build, reads, builds=not quick)


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
    frames = any(isinstance(node, _COMPREHENSIONS) for node in ast.walk(tree))
    compiler = _Compiler(source, _tables(limits), limits, frames=frames)
    try:
        part = compiler.part(tree.body)
    except RecursionError as error:
        reason = "it nests too deeply to compile."
        raise ExpressionRejectedError(source, reason) from error
    evaluate = finish(source, part)
    return in_frame(evaluate, limits.max_steps) if frames else evaluate
