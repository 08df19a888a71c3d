"""Filter: pass or reject each message by a condition."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from routilux import (
    DefinitionError,
    ExecutionError,
    ExpressionEvaluationError,
    ExpressionRejectedError,
    Routine,
)
from routilux.builtin_routines._callables import refuse_async
from routilux.expressions import compile_expression

__all__ = ["Filter"]

logger = logging.getLogger("routilux")

ON_ERROR = ("raise", "reject")
_NO_DATA: Any = object()
_Predicate = Callable[[Any], Any]


class Filter(Routine):
    """Send each message to ``passed`` or ``rejected`` by a condition.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message). The condition is evaluated for it and its result converted
    with ``bool()``.

    Events:
        passed: ``data``, for a message whose condition holds.
        rejected: ``data``, for a message whose condition does not hold;
            with ``on_error="reject"``, also for one whose condition failed,
            which then carries ``error`` too: the expression's error
            message, or ``"TypeName: message"`` of what a callable raised.

    Config keys:
        condition: A string expression over ``data`` and ``config`` (this
            filter's config), evaluated by the safe evaluator (see
            ``docs/expressions.md``) and compiled at ``set_config``, e.g.
            ``"data.get('score', 0) >= config['minimum']"``; or a callable
            ``condition(data)``. A callable must be a module-level function
            for the flow to be saved as a document. Default ``None``: a
            flow with no condition set is refused before its jobs start.
        on_error: ``"raise"`` (default): a condition that raises fails the
            delivery with an ``ExecutionError``, under the routine's error
            policy. ``"reject"``: the message goes to ``rejected`` with an
            ``error`` key and the job goes on.

    Stats: ``passed``, ``rejected`` and ``errors`` (conditions that failed
    with ``on_error="reject"``; those are counted as ``rejected`` too).

    Raises:
        DefinitionError: From ``set_config``, for a rejected expression or a
            bad value (naming the key and the reason); before a job starts,
            when no condition is set.
    """

    config_keys = ("condition", "on_error")
    # Other keys are the user's, for expressions to read as config['key'].
    allow_extra_config_keys = True

    def __init__(self) -> None:
        super().__init__()
        self._predicate: _Predicate | None = None
        self.input_slot = self.define_slot("input", handler=self.apply)
        self.define_event("passed", ["data"])
        self.define_event("rejected", ["data", "error"])
        self.set_config(condition=None, on_error="raise")

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check ``on_error`` and compile ``condition``; see the class docstring."""
        on_error = config.get("on_error", "raise")
        if on_error not in ON_ERROR:
            raise DefinitionError(f"Filter on_error must be 'raise' or 'reject', not {on_error!r}.")
        self._predicate = _predicate(config.get("condition"), dict(config))

    def check_definition(self) -> None:
        """Refuse to run without a condition."""
        if self._predicate is None:
            raise DefinitionError(
                "Filter has no condition; set one with set_config(condition=...)."
            )

    def apply(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit the data on ``passed`` or ``rejected``."""
        message = kwargs if data is _NO_DATA else data
        predicate = self._predicate
        if predicate is None:  # Only reachable when a handler is called outside a checked flow.
            raise ExecutionError("Filter has no condition; set one with set_config(condition=...).")
        try:
            held = bool(predicate(message))
        except Exception as exc:  # A user condition: report it, or reject as configured.
            self._condition_failed(message, exc)
            return
        self.increment_stat("passed" if held else "rejected")
        self.emit("passed" if held else "rejected", data=message)

    def _condition_failed(self, message: Any, exc: Exception) -> None:
        context = self.get_execution_context()
        name = f"Filter {context.routine_id!r}" if context else "Filter"
        # An expression's error already names the expression and the cause.
        plain = isinstance(exc, ExpressionEvaluationError)
        error = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        if self.get_config("on_error") == "raise":
            raise ExecutionError(f"The condition of {name} failed: {error}") from exc
        logger.info("%s rejected a message whose condition failed: %s", name, error)
        self.increment_stat("errors")
        self.increment_stat("rejected")
        self.emit("rejected", data=message, error=error)


def _predicate(condition: Any, config: dict[str, Any]) -> _Predicate | None:
    if condition is None:
        return None
    if isinstance(condition, str):
        try:
            expression = compile_expression(condition, names=("data", "config"))
        except ExpressionRejectedError as exc:
            raise DefinitionError(f"Filter condition is rejected: {exc.reason}") from exc
        return lambda data: expression.evaluate({"data": data, "config": config})
    if callable(condition):
        refuse_async(condition, "Filter condition")
        function: _Predicate = condition
        return function
    raise DefinitionError(
        f"Filter condition must be an expression string or a callable taking data, "
        f"not {type(condition).__name__}."
    )
