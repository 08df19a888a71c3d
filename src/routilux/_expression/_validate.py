"""The allow-list of syntax an expression may use.

Every node of the tree is checked against a table of allowed node types;
anything not in the table is refused with a sentence that names the
construct. Parents are checked before their children, so a call can say
"keyword arguments are not allowed" before its arguments are looked at.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from routilux._expression._builtins import BUILTIN_NAMES, BUILTIN_VALUES, GENERATOR_CONSUMERS
from routilux._expression._limits import ExpressionLimits
from routilux._expression._methods import ALLOWED_METHOD_NAMES
from routilux.exceptions import ExpressionRejectedError

__all__ = ["check_allowed"]

_CONSTANT_TYPES = (type(None), bool, int, float, str)

_METHOD_LIST = ", ".join(sorted(ALLOWED_METHOD_NAMES))

_CALLABLES = (
    "only the builtins, called by name as in len(x), and the allowed methods, "
    "called as in x.get(key), can be called."
)

_NOT_ALLOWED: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda expressions are not allowed.",
    ast.JoinedStr: "f-strings are not allowed.",
    ast.FormattedValue: "f-strings are not allowed.",
    ast.NamedExpr: "assignment expressions (:=) are not allowed.",
    ast.Starred: "starred expressions (*x) are not allowed.",
    ast.Await: "await expressions are not allowed.",
    ast.Yield: "yield expressions are not allowed.",
    ast.YieldFrom: "yield expressions are not allowed.",
    ast.MatMult: "the matrix multiplication operator (@) is not allowed.",
    ast.keyword: "keyword arguments are not allowed.",
    ast.Store: "assignment is not allowed.",
    ast.Del: "deletion is not allowed.",
}


_ONE_ARGUMENT = sorted(set(GENERATOR_CONSUMERS) - {"sum"})

_GENERATOR_PLACE = (
    f"a generator expression is allowed only as the argument of {', '.join(_ONE_ARGUMENT[:-1])} "
    f"or {_ONE_ARGUMENT[-1]}, or the first argument of sum, which consume it at once; write a "
    f"list comprehension [...] to keep its elements."
)

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True, slots=True)
class _Context:
    source: str
    names: frozenset[str]
    limits: ExpressionLimits
    variables: frozenset[str] = frozenset()
    """The comprehension variables in scope."""


_Checker = Callable[[Any, ast.AST | None, _Context], str | None]


def _allowed(node: ast.AST, parent: ast.AST | None, context: _Context) -> str | None:
    return None


def _check_constant(node: ast.Constant, parent: ast.AST | None, context: _Context) -> str | None:
    value = node.value
    if isinstance(value, bytes):
        return "bytes literals are not allowed; use a str."
    if isinstance(value, complex):
        return "complex number literals (such as 1j) are not allowed."
    if type(value) not in _CONSTANT_TYPES:
        return "the ellipsis (...) is not allowed."
    if isinstance(value, int) and value.bit_length() > context.limits.max_int_bits:
        return (
            f"a number literal of {value.bit_length()} bits exceeds the limit of "
            f"{context.limits.max_int_bits} bits."
        )
    if isinstance(value, str) and len(value) > context.limits.max_sequence_length:
        return (
            f"a str literal of {len(value)} characters exceeds the limit of "
            f"{context.limits.max_sequence_length}."
        )
    return None


def _name_reason(name: str, names: frozenset[str]) -> str:
    given = f"{', '.join(sorted(names))} and " if names else ""
    return (
        f"the name {name!r} is not allowed; the allowed names are {given}the builtins "
        f"{', '.join(BUILTIN_NAMES)} (True, False and None are literals)."
    )


def _check_name(node: ast.Name, parent: ast.AST | None, context: _Context) -> str | None:
    if not isinstance(node.ctx, ast.Load):
        return "assignment is not allowed."
    if node.id in context.names or node.id in BUILTIN_VALUES or node.id in context.variables:
        return None
    return _name_reason(node.id, context.names)


def _check_attribute(node: ast.Attribute, parent: ast.AST | None, context: _Context) -> str | None:
    name = node.attr
    if name.startswith("_"):
        return f"attributes starting with an underscore, such as {name!r}, are not allowed."
    if name not in ALLOWED_METHOD_NAMES:
        return f"the attribute {name!r} is not allowed; the allowed methods are {_METHOD_LIST}."
    if not (isinstance(parent, ast.Call) and parent.func is node):
        return (
            f"reading an attribute is not allowed; the method {name!r} can only be called, "
            f"as in x.{name}(...)."
        )
    return None


def _check_call(node: ast.Call, parent: ast.AST | None, context: _Context) -> str | None:
    if any(keyword.arg is None for keyword in node.keywords):
        return "keyword argument unpacking (**) is not allowed."
    if node.keywords:
        return "keyword arguments are not allowed; pass arguments by position."
    if any(isinstance(argument, ast.Starred) for argument in node.args):
        return "starred arguments are not allowed."
    function = node.func
    if isinstance(function, ast.Attribute):
        return None
    if not isinstance(function, ast.Name):
        return _NOT_ALLOWED.get(type(function), _CALLABLES)
    if function.id in BUILTIN_VALUES:
        return None
    if function.id in context.names or function.id in context.variables:
        return f"calling {function.id!r} is not allowed; {_CALLABLES}"
    return _name_reason(function.id, context.names)


def _check_slice(node: ast.Slice, parent: ast.AST | None, context: _Context) -> str | None:
    if isinstance(parent, ast.Subscript) and parent.slice is node:
        return None
    return "a slice is only allowed alone inside brackets, as in x[1:3]."


def _check_dict(node: ast.Dict, parent: ast.AST | None, context: _Context) -> str | None:
    if any(key is None for key in node.keys):
        return "dictionary unpacking (**) is not allowed."
    return None


def _target_reason(target: ast.expr) -> str | None:
    stack = [target]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Tuple, ast.List)):
            stack.extend(reversed(node.elts))
        elif isinstance(node, ast.Starred):
            return "starred targets (for *x in ...) are not allowed in a comprehension."
        elif not isinstance(node, ast.Name):
            return (
                "a comprehension variable must be a name or a tuple of names, as in "
                "'for k, v in data.items()', not a subscript or an attribute."
            )
        elif node.id.startswith("_"):
            return (
                f"comprehension variables starting with an underscore, such as {node.id!r}, "
                f"are not allowed."
            )
        elif node.id in BUILTIN_VALUES:
            return (
                f"the comprehension variable {node.id!r} would hide the builtin {node.id}(); "
                f"choose another name."
            )
    return None


def _check_comprehension(node: Any, parent: ast.AST | None, context: _Context) -> str | None:
    for generator in node.generators:
        if generator.is_async:
            return "asynchronous comprehensions (async for) are not allowed."
        reason = _target_reason(generator.target)
        if reason is not None:
            return reason
    return None


def _is_consumed(node: ast.GeneratorExp, parent: ast.AST | None) -> bool:
    if not (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)):
        return False
    name, arguments = parent.func.id, parent.args
    if name not in GENERATOR_CONSUMERS or not arguments or arguments[0] is not node:
        return False
    return len(arguments) == 1 or (name == "sum" and len(arguments) == 2)


def _check_generator(
    node: ast.GeneratorExp, parent: ast.AST | None, context: _Context
) -> str | None:
    if not _is_consumed(node, parent):
        return _GENERATOR_PLACE
    return _check_comprehension(node, parent, context)


_CHECKERS: dict[type[ast.AST], _Checker] = {
    ast.Constant: _check_constant,
    ast.Name: _check_name,
    ast.Attribute: _check_attribute,
    ast.Call: _check_call,
    ast.Slice: _check_slice,
    ast.Dict: _check_dict,
    ast.ListComp: _check_comprehension,
    ast.SetComp: _check_comprehension,
    ast.DictComp: _check_comprehension,
    ast.GeneratorExp: _check_generator,
}
_CHECKERS.update(
    dict.fromkeys(
        (
            ast.Tuple,
            ast.List,
            ast.Set,
            ast.Compare,
            ast.BoolOp,
            ast.UnaryOp,
            ast.BinOp,
            ast.IfExp,
            ast.Subscript,
            ast.Load,
            ast.And,
            ast.Or,
            ast.Not,
            ast.USub,
            ast.UAdd,
            ast.Invert,
            ast.Add,
            ast.Sub,
            ast.Mult,
            ast.Div,
            ast.FloorDiv,
            ast.Mod,
            ast.Pow,
            ast.LShift,
            ast.RShift,
            ast.BitAnd,
            ast.BitOr,
            ast.BitXor,
            ast.Eq,
            ast.NotEq,
            ast.Lt,
            ast.LtE,
            ast.Gt,
            ast.GtE,
            ast.In,
            ast.NotIn,
            ast.Is,
            ast.IsNot,
        ),
        _allowed,
    )
)


_Visit = tuple[ast.AST, "ast.AST | None", _Context]


def _target_names(target: ast.expr) -> set[str]:
    return {node.id for node in ast.walk(target) if isinstance(node, ast.Name)}


def _comprehension_children(node: Any, context: _Context) -> list[_Visit]:
    # A comprehension's variables are in scope in all of it but its first
    # iterable, which is computed outside; its targets were checked with it.
    generators: list[ast.comprehension] = node.generators
    bound = set().union(*(_target_names(generator.target) for generator in generators))
    inner = replace(context, variables=context.variables | bound)
    elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    children: list[_Visit] = [(element, node, inner) for element in elements]
    for index, generator in enumerate(generators):
        children.append((generator.iter, generator, inner if index else context))
        children.extend((condition, generator, inner) for condition in generator.ifs)
    return children


def _children(node: ast.AST, context: _Context) -> list[_Visit]:
    if isinstance(node, _COMPREHENSIONS):
        return _comprehension_children(node, context)
    return [(child, node, context) for child in ast.iter_child_nodes(node)]


def _reason(node: ast.AST, parent: ast.AST | None, context: _Context) -> str | None:
    checker = _CHECKERS.get(type(node))
    if checker is None:
        return _NOT_ALLOWED.get(type(node), f"{type(node).__name__} syntax is not allowed.")
    return checker(node, parent, context)


def check_allowed(
    source: str, tree: ast.Expression, names: frozenset[str], limits: ExpressionLimits
) -> None:
    """Check every node of a parsed expression against the allow-list.

    Args:
        source: The source text, for the error.
        tree: The parsed expression, already within the size limits.
        names: The names the environment provides.
        limits: The limits to enforce on literals.

    Raises:
        ExpressionRejectedError: At the first node that is not allowed, with
            a reason that names the construct.
    """
    stack: list[_Visit] = [(tree.body, None, _Context(source, names, limits))]
    while stack:
        node, parent, context = stack.pop()
        reason = _reason(node, parent, context)
        if reason is not None:
            raise ExpressionRejectedError(source, reason)
        # Reversed, so that the leftmost problem is the one reported.
        stack.extend(reversed(_children(node, context)))
