"""Turning source text into a syntax tree, within the size limits.

The type and length of the source are checked before the parser sees it, and
every way the parser can fail becomes an :class:`ExpressionRejectedError`.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings

from routilux._expression._limits import ExpressionLimits
from routilux.exceptions import ExpressionRejectedError

__all__ = ["PARSE_FILENAME", "check_source", "parse"]

PARSE_FILENAME = "<routilux expression>"
"""The file name given to the parser; it shows in its audit event."""

_OPENING = frozenset("([{")
_CLOSING = frozenset(")]}")

# Operators, contexts and the like are part of their parent's syntax, not
# nodes of their own as far as the limits are concerned.
_PUNCTUATION = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def check_source(source: object, limits: ExpressionLimits) -> str:
    """Check the type and the length of the source before anything parses it.

    Args:
        source: What was given as the expression.
        limits: The limits to enforce.

    Returns:
        The source, known to be a str of acceptable length.

    Raises:
        ExpressionRejectedError: If it is not a plain str or is too long.
    """
    if type(source) is not str:
        kind = type(source).__name__
        raise ExpressionRejectedError(
            f"<{kind}>", f"an expression must be a plain str, not an object of type {kind}."
        )
    if len(source) > limits.max_length:
        raise ExpressionRejectedError(
            source,
            f"the expression is {len(source)} characters long, more than the limit of "
            f"{limits.max_length} characters.",
        )
    return source


def _syntax_reason(error: SyntaxError, indent: int) -> str:
    if not error.offset:
        return f"it is not a single valid expression ({error.msg})."
    line = error.lineno or 1
    # The columns of the first line are counted in the text as given.
    column = error.offset + indent if line == 1 else error.offset
    where = f"column {column}" if line == 1 else f"line {line}, column {column}"
    return f"it is not a single valid expression ({error.msg} at {where})."


def _parse_tree(source: str) -> ast.Expression:
    # Like eval(), ignore the spaces and tabs that start the text, which the
    # parser would take for an indented block.
    text = source.lstrip(" \t")
    try:
        # Turning warnings into errors makes questionable text (such as an
        # invalid escape sequence) a rejection, whatever the global warning
        # filters say, instead of a warning that depends on them.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return ast.parse(text, filename=PARSE_FILENAME, mode="eval")
    except SyntaxError as error:
        reason = _syntax_reason(error, len(source) - len(text))
        raise ExpressionRejectedError(source, reason) from error
    except (RecursionError, MemoryError) as error:
        reason = "it nests too deeply for the parser."
        raise ExpressionRejectedError(source, reason) from error
    except (ValueError, Warning) as error:
        raise ExpressionRejectedError(source, f"it cannot be parsed ({error}).") from error


def _bracket_depth(source: str) -> int:
    # Brackets that only group leave no node behind, so they are counted on
    # the tokens; the tokenizer knows which brackets are inside strings.
    depth = deepest = 0
    for token in tokenize.generate_tokens(io.StringIO(source.lstrip(" \t")).readline):
        if token.type == tokenize.OP and token.string in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif token.type == tokenize.OP and token.string in _CLOSING:
            depth -= 1
    return deepest


def _measure(tree: ast.Expression) -> tuple[int, int]:
    # An explicit stack, because a tree deeper than the limit must still be
    # measured without recursion.
    nodes = deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        deepest = max(deepest, depth)
        stack.extend(
            (child, depth + 1)
            for child in ast.iter_child_nodes(node)
            if not isinstance(child, _PUNCTUATION)
        )
    return nodes, deepest


def _check_size(source: str, tree: ast.Expression, limits: ExpressionLimits) -> None:
    nodes, depth = _measure(tree)
    if nodes > limits.max_nodes:
        raise ExpressionRejectedError(
            source,
            f"the expression has {nodes} syntax nodes, more than the limit of {limits.max_nodes}.",
        )
    try:
        depth = max(depth, _bracket_depth(source))
    except (tokenize.TokenError, SyntaxError, ValueError) as error:
        raise ExpressionRejectedError(source, f"it cannot be tokenized ({error}).") from error
    if depth > limits.max_depth:
        raise ExpressionRejectedError(
            source,
            f"the expression nests {depth} levels deep, more than the limit of {limits.max_depth}.",
        )


def parse(source: str, limits: ExpressionLimits) -> ast.Expression:
    """Parse an expression and check its size.

    Args:
        source: The expression, already checked by :func:`check_source`.
        limits: The limits to enforce.

    Returns:
        The syntax tree, in ``eval`` mode.

    Raises:
        ExpressionRejectedError: If it is not a single valid expression, or
            has too many nodes, or nests too deeply.
    """
    tree = _parse_tree(source)
    _check_size(source, tree, limits)
    return tree
