"""The routes of a ConditionalRouter in a flow document.

A router's ``routes`` config holds conditions that the value codec cannot
write (functions), so a router's routine entry has a ``routes`` list of its
own, and its ``config`` has every other key::

    "routes": [
        {"name": "high", "expression": "data.get('value', 0) > 10"},
        {"name": "vip", "fields": {"tier": "gold"}},
        {"name": "odd", "function": "app.conditions:is_odd"}
    ]

A string condition is kept as the expression text (checked again by the
safe evaluator when the router is rebuilt), a dict as its fields, and a
function only by the import path of a module-level function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from routilux._serde._doc_reader import DocObject, fail, index_path, key_path
from routilux._serde._refs import check_path, function_path
from routilux._serde.values import decode_value, encode_value

if TYPE_CHECKING:
    from routilux._model.routine import Routine
    from routilux._serde._flow_spec import RoutineSpec

__all__ = ["RouteSpec", "RoutesCodec", "build_routes", "parse_routes", "routes_to_doc"]

_KINDS = ("expression", "fields", "function")
_FIX = "use a module-level function or a string expression"


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route as the document gives it.

    Attributes:
        name: The route's name (its event).
        kind: ``"expression"``, ``"fields"`` or ``"function"``.
        value: The expression text, the decoded fields, or the function's import path.
        where: The route's path in the document.
    """

    name: str
    kind: str
    value: Any
    where: str


@dataclass(frozen=True, slots=True)
class RoutesCodec:
    """The codec of a router: config ``routes`` is written as the entry's ``routes`` list.

    Attributes:
        default_route_key: The config key that names the route taken when no
            condition holds (an event of the instance), if the class has one.
    """

    default_route_key: str | None = None

    def to_entry(self, routine: Routine, config: dict[str, Any], where: str) -> dict[str, Any]:
        """Move config ``routes`` to the entry's ``routes`` list (see :func:`routes_to_doc`)."""
        config.pop("routes", None)
        return {"routes": routes_to_doc(routine, key_path(where, "routes"))}

    def to_config(self, spec: RoutineSpec, functions: Callable[[str, str], Any]) -> dict[str, Any]:
        """Config ``routes`` from the entry's ``routes`` list (see :func:`build_routes`)."""
        return {"routes": build_routes(spec.routes or (), functions)}

    def instance_events(self, routine: Routine, spec: RoutineSpec) -> set[str]:
        """The route events, and the default route's."""
        events = {route.name for route in spec.routes or ()}
        if self.default_route_key is not None:
            events.add(routine.get_config(self.default_route_key))
        return events


def routes_to_doc(router: Routine, where: str) -> list[dict[str, Any]]:
    """The router's routes as document entries.

    Raises:
        SerializationError: A condition is a lambda, a nested function, a
            method or another callable that has no import path, or a dict
            condition holds a value the value codec cannot write.
    """
    routes = router.get_config("routes") or []
    return [
        _route_doc(name, condition, index_path(where, i))
        for i, (name, condition) in enumerate(routes)
    ]


def _route_doc(name: str, condition: Any, where: str) -> dict[str, Any]:
    if isinstance(condition, str):
        return {"name": name, "expression": condition}
    if isinstance(condition, Mapping):
        fields = encode_value(dict(condition), key_path(where, "fields"))
        return {"name": name, "fields": fields}
    what = f"condition of route {name!r}"
    return {
        "name": name,
        "function": function_path(condition, what, key_path(where, "function"), _FIX),
    }


def parse_routes(raw: list[Any], where: str) -> tuple[RouteSpec, ...]:
    """Check the ``routes`` list of a routine entry.

    Raises:
        SerializationError: An entry is malformed.
    """
    return tuple(_parse_route(item, index_path(where, i)) for i, item in enumerate(raw))


def _parse_route(item: Any, where: str) -> RouteSpec:
    route = DocObject(item, where, required=("name",), optional=_KINDS)
    name = route.get("name", str)
    given = [kind for kind in _KINDS if route.has(kind)]
    if len(given) != 1:
        raise fail(where, "must have exactly one of the fields 'expression', 'fields', 'function'.")
    kind = given[0]
    if kind == "expression":
        value: Any = route.get(kind, str)
    elif kind == "fields":
        value = decode_value(route.get(kind, dict), route.at(kind))
    else:
        value = check_path(route.raw(kind), route.at(kind))
    return RouteSpec(name, kind, value, where)


def build_routes(
    specs: tuple[RouteSpec, ...], functions: Callable[[str, str], Any]
) -> list[tuple[str, Any]]:
    """The ``routes`` config for the router: ``(name, condition)`` pairs.

    Args:
        specs: The routes of the document.
        functions: Returns the resolved function for an import path and its place.
    """
    return [
        (spec.name, functions(spec.value, key_path(spec.where, "function")))
        if spec.kind == "function"
        else (spec.name, spec.value)
        for spec in specs
    ]
