"""ConditionalRouter: send each message to the route whose condition holds."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from routilux import Routine
from routilux._serde.config_codecs import RoutesCodec, register_config_codec
from routilux.builtin_routines._callables import refuse_async
from routilux.exceptions import DefinitionError, ExpressionRejectedError
from routilux.expressions import compile_expression

__all__ = ["ConditionalRouter"]

logger = logging.getLogger("routilux")

#: A compiled condition: called with the data and the names conditions may read.
Predicate = Callable[[Any, Mapping[str, Any]], Any]
PRIORITIES = ("first_match", "all_matches")
#: The route named in the payload of ``output`` when nothing matched.
UNMATCHED = "unmatched"
ROUTE_PARAMS = ("data", "route")


class ConditionalRouter(Routine):
    """Route each message to the event of the route whose condition holds.

    Slot ``input`` takes the message's data as the published routers do
    (:meth:`Routine._extract_input_data`: ``data``, else the only value,
    else the whole message). Each route is ``(route_name, condition)``; on
    each chosen route the router emits ``data=<data>, route=<route_name>``
    on the event named after the route. Route events that are not defined
    by the time a job starts (or by :meth:`add_route`) are defined then,
    with the params ``data`` and ``route``. When nothing matches and no
    ``default_route`` is set, event ``output`` gets ``data`` and
    ``route="unmatched"``, and the ``unrouted`` stat counts the message.

    A condition is:

    * a string expression over ``data``, ``config`` (the router's config)
      and ``stats`` (a copy of the router's stats), evaluated by the safe
      evaluator (see ``docs/expressions.md``), e.g.
      ``"data.get('value', 0) > 10"``;
    * a dict ``{field: expected}``: ``data`` is a dict holding every field,
      equal to its value, or, for a callable value, for which it is true;
    * a callable: ``condition(data)``; a parameter named ``config`` or
      ``stats`` gets those by keyword (and one named ``data`` the data);
      a function with two parameters, neither of them so named, whose
      second has no default, is called ``condition(data, config)``.

    A condition that raises counts as no match: it is logged as a warning
    and counted in the ``condition_errors`` stat.

    Config keys:
        routes: The ``(route_name, condition)`` pairs, tried in order.
        default_route: The route used when no condition holds, or ``None``.
        route_priority: ``"first_match"`` (default) emits on the first route
            that holds; ``"all_matches"`` on every route that holds.

    Other config keys are the user's own, for conditions to read as
    ``config['key']``.

    Raises:
        DefinitionError: From ``set_config``, for a malformed route or a
            rejected expression (naming the route and the reason).
    """

    config_keys = ("routes", "default_route", "route_priority")
    # Other keys are the user's, for expressions to read as config['key'].
    allow_extra_config_keys = True

    def __init__(self) -> None:
        super().__init__()
        self._predicates: list[tuple[str, Predicate]] = []
        self.input_slot = self.define_slot("input", handler=self.route)
        self.default_output = self.define_event("output", ROUTE_PARAMS)
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

    def add_route(self, route_name: str, condition: Any) -> None:
        """Append the route ``(route_name, condition)`` and define its event if needed.

        Raises:
            DefinitionError: The route is malformed or its name is taken.
        """
        self.set_config(routes=[*self.get_config("routes"), (route_name, condition)])
        if route_name not in self.events:
            self.define_event(route_name, ROUTE_PARAMS)

    def check_definition(self) -> None:
        """Define the event of each route, and of the default route, that has none."""
        default = self.get_config("default_route")
        for name in [*(name for name, _ in self._predicates), *([default] if default else [])]:
            if name not in self.events:
                self.define_event(name, ROUTE_PARAMS)

    def route(self, data: Any = None, **kwargs: Any) -> None:
        """Emit the data on the matching route(s), the default route, or ``output``."""
        value = self._extract_input_data(data, **kwargs)
        env = {"data": value, "config": self._config, "stats": self.stats()}
        matched = self._match(value, env)
        if not matched:
            default = self.get_config("default_route")
            if default is None:
                self.increment_stat("unrouted")
                logger.info("ConditionalRouter: no route matched and no default_route is set.")
                self.emit("output", data=value, route=UNMATCHED)
                return
            matched = [default]
        for name in matched:
            self.emit(name, data=value, route=name)

    def _match(self, value: Any, env: Mapping[str, Any]) -> list[str]:
        first_only = self.get_config("route_priority") == "first_match"
        matched: list[str] = []
        for name, predicate in self._predicates:
            try:
                hit = bool(predicate(value, env))
            except Exception as exc:  # A user condition: no match, as the published router.
                self.increment_stat("condition_errors")
                logger.warning(
                    "ConditionalRouter: the condition of route %r raised %s: %s; "
                    "counted as no match.",
                    name,
                    type(exc).__name__,
                    exc,
                )
                continue
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
            expression = compile_expression(condition, names=("data", "config", "stats"))
        except ExpressionRejectedError as exc:
            raise DefinitionError(
                f"The condition of route {name!r} of ConditionalRouter is rejected: {exc.reason}"
            ) from exc
        return lambda value, env: expression.evaluate(env)
    if isinstance(condition, Mapping):
        expected = dict(condition)
        for field, wanted in expected.items():
            if callable(wanted):
                refuse_async(wanted, f"The dict condition of route {name!r}, field {field!r},")
        return lambda value, env: _fields_match(value, expected)
    if callable(condition):
        refuse_async(condition, f"The condition of route {name!r} of ConditionalRouter")
        return _caller(condition)
    raise DefinitionError(
        f"The condition of route {name!r} of ConditionalRouter must be an expression string, "
        f"a dict of field values or a callable, not {type(condition).__name__}."
    )


def _caller(condition: Callable[..., Any]) -> Predicate:
    """How to call a function condition, decided once from its parameters."""
    try:
        parameters = list(inspect.signature(condition).parameters.values())
    except (TypeError, ValueError):  # No signature (some builtins): give it the data.
        return lambda value, env: condition(value)
    named = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    extras = [key for key in ("config", "stats") if key in named]
    if "data" in named:
        return lambda value, env: condition(data=value, **{k: env[k] for k in extras})
    if extras:
        return lambda value, env: condition(value, **{k: env[k] for k in extras})
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) == 2 and positional[1].default is inspect.Parameter.empty:
        return lambda value, env: condition(value, env["config"])
    return lambda value, env: condition(value)


def _fields_match(value: Any, expected: Mapping[Any, Any]) -> bool:
    if not isinstance(value, Mapping):
        return False
    for field, wanted in expected.items():
        if field not in value:
            return False
        actual = value[field]
        if not (bool(wanted(actual)) if callable(wanted) else actual == wanted):
            return False
    return True


# Conditions may be functions, which the value codec cannot write: a flow
# document keeps them in the router's own ``routes`` list.
register_config_codec(ConditionalRouter, RoutesCodec(default_route_key="default_route"))
