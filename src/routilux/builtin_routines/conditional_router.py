"""ConditionalRouter: send each message to the route whose condition holds."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from routilux import Routine
from routilux.builtin_routines._callables import refuse_async
from routilux.exceptions import DefinitionError, ExecutionError, ExpressionRejectedError
from routilux.expressions import compile_expression

__all__ = ["ConditionalRouter"]

logger = logging.getLogger("routilux")

#: A compiled condition: called with the message and the expression names.
Predicate = Callable[[Any, Mapping[str, Any]], Any]
PRIORITIES = ("first_match", "all_matches")
_NO_DATA: Any = object()


class ConditionalRouter(Routine):
    """Route each message to the event of the route whose condition holds.

    Slot ``input`` receives ``data`` (or, without a ``data`` key, the whole
    message). Each route is ``(route_name, condition)`` and emits
    ``data=<data>`` on the event named ``route_name``, which the user
    defines with ``define_event(route_name)``. A condition is:

    * a string expression over ``data`` and ``config``, evaluated by the
      safe evaluator (see ``docs/expressions.md``), e.g.
      ``"data.get('value', 0) > 10"``;
    * a dict ``{field: expected}``: every field of ``data`` equals its value;
    * a callable ``condition(data)``.

    Config keys:
        routes: The ``(route_name, condition)`` pairs, tried in order.
        default_route: The route used when no condition holds, or ``None``
            (the message then goes nowhere and the ``unrouted`` stat counts it).
        route_priority: ``"first_match"`` (default) emits on the first route
            that holds; ``"all_matches"`` on every route that holds.

    Raises:
        DefinitionError: From ``set_config``, for a malformed route or a
            rejected expression (naming the route and the reason); before a
            job starts, for a route with no event of its name.
    """

    config_keys = ("routes", "default_route", "route_priority")
    # Other keys are the user's, for expressions to read as config['key'].
    allow_extra_config_keys = True

    def __init__(self) -> None:
        super().__init__()
        self._predicates: list[tuple[str, Predicate]] = []
        self.input_slot = self.define_slot("input", handler=self.route)
        self.set_config(routes=[], default_route=None, route_priority="first_match")

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check and compile the routes; see the class docstring for the keys."""
        priority = config.get("route_priority", "first_match")
        if priority not in PRIORITIES:
            raise DefinitionError(
                f"ConditionalRouter route_priority must be 'first_match' or 'all_matches', "
                f"not {priority!r}."
            )
        default = config.get("default_route")
        if default is not None and (not isinstance(default, str) or not default):
            raise DefinitionError(
                f"ConditionalRouter default_route must be a route name or None, not {default!r}."
            )
        self._predicates = _compile_routes(config.get("routes", []))

    def check_definition(self) -> None:
        """Check every route, and the default route, has an event of its name."""
        names = [name for name, _ in self._predicates]
        default = self.get_config("default_route")
        for name in [*names, *([default] if default else [])]:
            if name not in self.events:
                raise DefinitionError(
                    self.describe_missing("event", name, label="ConditionalRouter")
                    + f" Define it with router.define_event({name!r})."
                )

    def route(self, data: Any = _NO_DATA, **kwargs: Any) -> None:
        """Emit ``data`` on the matching route(s)."""
        message = kwargs if data is _NO_DATA else data
        env = {"data": message, "config": self._config}
        matched = self._match(message, env)
        if not matched:
            default = self.get_config("default_route")
            if default is None:
                self.increment_stat("unrouted")
                logger.info("ConditionalRouter: no route matched and no default_route is set.")
                return
            matched = [default]
        for name in matched:
            self.emit(name, data=message)

    def _match(self, message: Any, env: Mapping[str, Any]) -> list[str]:
        first_only = self.get_config("route_priority") == "first_match"
        matched: list[str] = []
        for name, predicate in self._predicates:
            try:
                hit = bool(predicate(message, env))
            except Exception as exc:  # A user condition: report it with the route's name.
                raise ExecutionError(
                    f"The condition of route {name!r} of ConditionalRouter failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if hit:
                matched.append(name)
                if first_only:
                    break
        return matched


def _compile_routes(routes: Any) -> list[tuple[str, Predicate]]:
    if isinstance(routes, (str, bytes)) or not isinstance(routes, (list, tuple)):
        raise DefinitionError(
            f"ConditionalRouter routes must be a list of (route_name, condition) pairs, "
            f"not {type(routes).__name__}."
        )
    compiled: list[tuple[str, Predicate]] = []
    for position, route in enumerate(routes):
        if not isinstance(route, (list, tuple)) or len(route) != 2:
            raise DefinitionError(
                f"ConditionalRouter route #{position + 1} must be a (route_name, condition) "
                f"pair, not {route!r}."
            )
        name, condition = route
        if not isinstance(name, str) or not name:
            raise DefinitionError(
                f"ConditionalRouter route #{position + 1} needs a non-empty string name, "
                f"not {name!r}."
            )
        if any(name == seen for seen, _ in compiled):
            raise DefinitionError(f"ConditionalRouter has two routes named {name!r}.")
        compiled.append((name, _predicate(name, condition)))
    return compiled


def _predicate(name: str, condition: Any) -> Predicate:
    if isinstance(condition, str):
        try:
            expression = compile_expression(condition, names=("data", "config"))
        except ExpressionRejectedError as exc:
            raise DefinitionError(
                f"The condition of route {name!r} of ConditionalRouter is rejected: {exc.reason}"
            ) from exc
        return lambda message, env: expression.evaluate(env)
    if isinstance(condition, Mapping):
        expected = dict(condition)
        if not all(isinstance(k, str) for k in expected):
            raise DefinitionError(f"The dict condition of route {name!r} needs string keys.")
        return lambda message, env: _fields_equal(message, expected)
    if callable(condition):
        refuse_async(condition, f"The condition of route {name!r} of ConditionalRouter")
        return lambda message, env: condition(message)
    raise DefinitionError(
        f"The condition of route {name!r} of ConditionalRouter must be an expression string, "
        f"a dict of field values or a callable, not {type(condition).__name__}."
    )


def _fields_equal(message: Any, expected: dict[str, Any]) -> bool:
    if not isinstance(message, Mapping):
        return False
    missing = object()
    return all(message.get(k, missing) == v for k, v in expected.items())
