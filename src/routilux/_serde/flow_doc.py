"""Flow <-> versioned JSON document.

The document holds what defines a flow: its settings, each routine's class
(by import path), config, slots, events and policies, and the connections.
It holds no routine object state (stats, slot data, attributes set outside
config) and no jobs; see ``docs/serialization.md``.

Reading goes in three steps: check the whole document without importing
anything (``_flow_spec``), resolve every class and function it names
(``_refs``), then create and wire the routines (``_flow_build``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from routilux._engine.gates import DEFAULT_MAX_ASYNC_IN_FLIGHT
from routilux._engine.job_run import DEFAULT_HISTORY_LIMIT
from routilux._engine.runaway import DEFAULT_MAX_HOPS
from routilux._model.connection import Connection
from routilux._model.error_policy import ErrorHandler
from routilux._model.routine import Routine
from routilux._model.slot import Slot
from routilux._serde._doc_reader import index_path, key_path
from routilux._serde._flow_build import build_flow
from routilux._serde._flow_spec import FLOW_SCHEMA, FLOW_VERSION, parse_flow_doc
from routilux._serde._methods import handler_problem, method_name
from routilux._serde._refs import (
    allowed_imports,
    exception_path,
    function_path,
    reference_path,
    routine_class_ref,
)
from routilux._serde.config_codecs import config_codec
from routilux._serde.values import encode_value
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._flow import Flow

__all__ = [
    "FLOW_SCHEMA",
    "FLOW_VERSION",
    "flow_from_doc",
    "flow_to_doc",
    "routine_entry",
]

Registry = Mapping[str, type[Routine]]

_OPTIONS = (
    *("flow_id", "execution_strategy", "max_workers", "execution_timeout"),
    *("max_deliveries", "record_history", "history_limit", "retain_jobs", "checkpoint_every"),
    *("max_async_in_flight", "max_hops", "track_execution", "ray_address"),
)


# -- writing ---------------------------------------------------------------

# Options added after version 1 was first written: left out at their
# defaults, so documents of flows that do not use them stay as they were.
_NO_DEFAULT = object()
_DEFAULTS: dict[str, Any] = {
    "history_limit": DEFAULT_HISTORY_LIMIT,
    "checkpoint_every": 1,
    "max_async_in_flight": DEFAULT_MAX_ASYNC_IN_FLIGHT,
    "max_hops": DEFAULT_MAX_HOPS,
    "track_execution": False,
    "ray_address": None,
}


def flow_to_doc(flow: Flow, *, registry: Registry | None = None) -> dict[str, Any]:
    """Write ``flow`` as a JSON-compatible document.

    Args:
        flow: The flow to write.
        registry: Names for routine classes that have no import path
            (checked before the global registry of ``register_routine``).

    Raises:
        SerializationError: Something in the flow cannot be written: a
            handler that is not a method of its routine, a lambda or nested
            function as a merge strategy, condition or config value, a
            config value the value codec refuses, a function or class of a
            module on the deny-list, a class with no import path and no
            registered name. The message names the place.
    """
    return {
        "schema": FLOW_SCHEMA,
        "version": FLOW_VERSION,
        **{
            option: getattr(flow, option)
            for option in _OPTIONS
            if _DEFAULTS.get(option, _NO_DEFAULT) != getattr(flow, option)
        },
        **({} if flow.keep_logs is None else {"keep_logs": _level_name(flow.keep_logs)}),
        "error_handler": _policy_doc(flow.error_handler, "error_handler"),
        "routines": {
            routine_id: _routine_doc(routine, routine_id, registry)
            for routine_id, routine in flow.routines.items()
        },
        "connections": [_connection_doc(c) for c in flow.connections],
    }


def _level_name(level: int) -> int | str:
    """``keep_logs`` as a document writes it: the level's name, or its number if it has none."""
    name = logging.getLevelName(level)
    return name if isinstance(name, str) and not name.startswith("Level ") else level


def _routine_doc(routine: Routine, routine_id: str, registry: Registry | None) -> dict[str, Any]:
    where = index_path("routines", routine_id)
    config = routine.config()
    codec = config_codec(type(routine))
    # What the value codec cannot write (a router's conditions may be functions).
    own_fields = {} if codec is None else codec.to_entry(routine, config, where)
    slots_at = key_path(where, "slots")
    doc: dict[str, Any] = {
        "class": routine_class_ref(type(routine), key_path(where, "class"), registry),
        "config": encode_value(config, key_path(where, "config"), refs=reference_path),
        "slots": [
            _slot_doc(routine_id, routine, slot, index_path(slots_at, i))
            for i, slot in enumerate(routine.slots.values())
        ],
        "events": [{"name": e.name, "params": list(e.params)} for e in routine.events.values()],
        "error_handler": _policy_doc(routine.error_handler, key_path(where, "error_handler")),
        "timeout": routine.timeout,
        "max_concurrency": routine.get_max_concurrency(),
    }
    doc.update(own_fields)
    # Written when the routine runs on an actor, or its class says it does but
    # this routine was set not to: documents of other routines stay as they were.
    if routine.is_ray_actor() or type(routine).ray_actor:
        doc["ray_actor"] = routine.is_ray_actor()
    if routine.serializable_fields:
        doc["fields"] = _fields_doc(routine, routine_id, key_path(where, "fields"))
    return doc


def routine_entry(
    routine: Routine, routine_id: str, registry: Registry | None = None
) -> dict[str, Any]:
    """The entry of ``routine``, under the id ``routine_id``, as :func:`flow_to_doc` writes it.

    Raises:
        SerializationError: Something in the routine cannot be written.
    """
    return _routine_doc(routine, routine_id, registry)


def _fields_doc(routine: Routine, routine_id: str, where: str) -> dict[str, Any]:
    names = routine.serializable_fields
    missing = next((name for name in names if not hasattr(routine, name)), None)
    if missing is not None:
        raise SerializationError(
            f"Cannot serialize {index_path(where, missing)}: routine {routine_id!r} keeps "
            f"{missing!r} as a serializable field, but has no attribute of that name."
        )
    values = {name: getattr(routine, name) for name in names}
    return encode_value(values, where, refs=reference_path)  # type: ignore[no-any-return]


def _slot_doc(routine_id: str, routine: Routine, slot: Slot, where: str) -> dict[str, Any]:
    return {
        "name": slot.name,
        "handler": _handler_doc(routine_id, routine, slot, key_path(where, "handler")),
        "merge_strategy": _merge_doc(slot, key_path(where, "merge_strategy")),
    }


def _handler_doc(routine_id: str, routine: Routine, slot: Slot, where: str) -> str | None:
    if slot.handler is None:
        return None
    name = method_name(routine, slot.handler)
    label = f"slot {slot.name!r} of routine {routine_id!r}"
    if name is None:
        # Not a method: a module-level function, named by its import path.
        fix = "pass a method of the routine (handler=self.some_method) or a module-level function"
        return function_path(slot.handler, f"handler of {label}", where, fix)
    problem = handler_problem(name)
    if problem is not None:
        raise SerializationError(
            f"Cannot serialize {where}: the handler of {label} is {problem}; use a regular method."
        )
    return name


def _merge_doc(slot: Slot, where: str) -> str:
    merge = slot.merge_strategy
    if isinstance(merge, str):
        return merge
    fix = "use 'override', 'append' or a module-level function"
    return function_path(merge, f"merge function of slot {slot.name!r}", where, fix)


def _policy_doc(handler: ErrorHandler | None, where: str) -> dict[str, Any] | None:
    if handler is None:
        return None
    exceptions_at = key_path(where, "retryable_exceptions")
    return {
        "strategy": handler.strategy.value,
        "max_retries": handler.max_retries,
        "retry_delay": handler.retry_delay,
        "retry_backoff": handler.retry_backoff,
        "retryable_exceptions": [
            exception_path(exc_type, index_path(exceptions_at, i))
            for i, exc_type in enumerate(handler.retryable_exceptions)
        ],
        "is_critical": handler.is_critical,
    }


def _connection_doc(connection: Connection) -> dict[str, Any]:
    mapping = connection.param_mapping
    return {
        "source": connection.source_id,
        "event": connection.event,
        "target": connection.target_id,
        "slot": connection.slot,
        "param_mapping": dict(mapping) if mapping else None,
    }


# -- reading ---------------------------------------------------------------


def flow_from_doc(
    owner: type[Flow],
    flow: Flow | None,
    /,
    document: Any,
    *,
    registry: Registry | None = None,
    allowed_modules: Iterable[str] | None = None,
) -> Flow:
    """Rebuild a flow from :meth:`Flow.serialize`'s document.

    ``Flow.deserialize(document)`` returns a new flow;
    ``flow.deserialize(document)`` rebuilds into ``flow``, which must have
    no routines or connections yet, keeps its clock, and returns it. Either
    way, nothing is changed when the document is refused.

    Classes are looked up in ``registry``, then in the names given to
    :func:`routilux.register_routine`, then imported by path. Only the
    modules the document names as a routine class, merge function,
    condition, exception class or config reference are imported, and only
    once the whole document has been checked; see ``docs/serialization.md``.

    Args:
        owner: The flow class (``Flow`` or a subclass).
        flow: The flow to rebuild into, or ``None`` for a new one.
        document: The document, as :meth:`Flow.serialize` returns it.
        registry: Names of routine classes that cannot be imported by path.
        allowed_modules: If given, the only modules (with their submodules)
            that may be imported for the document; recommended for a
            document from elsewhere. Modules already imported, and the
            running script (``__main__``), are looked up without importing.

    Returns:
        The rebuilt flow.

    Raises:
        SerializationError: The document is malformed, of another version,
            names something that cannot be resolved or is not of the right
            kind, or does not fit the classes it names; the message names
            the place (``routines['router'].slots[0].handler``).
    """
    if flow is not None and (flow.routines or flow.connections):
        raise SerializationError(
            f"Cannot deserialize into {flow!r}: it already has routines or connections; "
            "use Flow.deserialize(document) to make a new flow."
        )
    spec = parse_flow_doc(document)
    with allowed_imports(allowed_modules):
        built = build_flow(owner, spec, registry)
    if flow is None:
        return built
    _move_into(built, flow)
    return flow


def _move_into(built: Flow, flow: Flow) -> None:
    """Give ``flow`` the definition of ``built``, which the model has checked already."""
    for option in _OPTIONS:
        setattr(flow, option, getattr(built, option))
    flow.keep_logs = built.keep_logs
    flow.set_error_handler(built.error_handler)
    for routine_id, routine in built.routines.items():
        flow.add_routine(routine, routine_id)
    for c in built.connections:
        flow.connect(c.source_id, c.event, c.target_id, c.slot, c.param_mapping)
