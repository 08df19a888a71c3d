"""Reading a flow document into plain specs, before any code is imported.

This first pass checks everything that can be checked without the classes
the document names: the schema and version, the shape and types of every
field, the limits, the syntax of every import path (config references
included) and handler name, and that connections name routines of the
document. A document that fails here has made routilux import nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from routilux._engine.job_run import DEFAULT_HISTORY_LIMIT
from routilux._model.error_policy import ErrorStrategy
from routilux._serde._doc_reader import (
    DocObject,
    check_bounds,
    fail,
    index_path,
    key_path,
    kind_of,
)
from routilux._serde._refs import check_class_ref, check_path
from routilux._serde._router_doc import RouteSpec, parse_routes
from routilux._serde.values import decode_value
from routilux.exceptions import SerializationError

__all__ = [
    "FLOW_SCHEMA",
    "FLOW_VERSION",
    "MAX_CONNECTIONS",
    "MAX_ITEMS",
    "MAX_ROUTINES",
    "ConnectionSpec",
    "EventSpec",
    "FlowSpec",
    "PolicySpec",
    "ReferenceSpec",
    "RoutineSpec",
    "SlotSpec",
    "parse_flow_doc",
    "parse_routine_entry",
]

FLOW_SCHEMA = "routilux.flow"
#: The version written. Version 2 changed the meaning of a missing
#: ``history_limit`` (see ``_options``); version 1 documents are still read.
FLOW_VERSION = 2
_READ_VERSIONS = (1, 2)
#: Most routines a document may define.
MAX_ROUTINES = 10_000
#: Most connections a document may define.
MAX_CONNECTIONS = 100_000
#: Most slots, events, routes, event params or exception classes per list.
MAX_ITEMS = 10_000

_TOP = (
    *("schema", "version", "flow_id", "execution_strategy", "max_workers"),
    *("execution_timeout", "max_deliveries", "record_history", "retain_jobs"),
    *("error_handler", "routines", "connections"),
)
#: Top-level fields added since version 1 was first written.
_LATER = (
    *("history_limit", "checkpoint_every", "max_async_in_flight", "max_hops"),
    *("track_execution", "keep_logs", "ray_address"),
)
#: The level names ``keep_logs`` takes in a document.
_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ROUTINE = ("class", "config", "slots", "events", "error_handler", "timeout", "max_concurrency")
#: Routine fields written only by the routines that have them.
_ROUTINE_LATER = ("routes", "fields", "ray_actor")
_POLICY = ("strategy", "max_retries", "retry_delay", "retry_backoff")
_POLICY_REST = ("retryable_exceptions", "is_critical")
_CONNECTION = ("source", "event", "target", "slot", "param_mapping")
_METHOD_NAME = re.compile(r"(?!__)[A-Za-z_][A-Za-z0-9_]*")
_NAMED_MERGES = ("override", "append")
_NUMBER = (int, float)


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """A slot: its name, its handler's method name and its merge strategy (or function path)."""

    name: str
    handler: str | None
    merge: str
    where: str


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An event: its name and documented params."""

    name: str
    params: tuple[str, ...]
    where: str


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """An error handler, with its retryable exceptions as import paths."""

    strategy: str
    max_retries: int
    retry_delay: float
    retry_backoff: float
    exceptions: tuple[str, ...]
    is_critical: bool
    where: str


@dataclass(frozen=True, slots=True)
class ReferenceSpec:
    """A function or class in a routine's config: its import path and its place."""

    path: str
    where: str


@dataclass(frozen=True, slots=True)
class RoutineSpec:
    """A routine: its class reference, config and definition.

    ``config`` is the config as the document writes it, checked: the build
    decodes it again, with its ``references`` resolved.
    """

    routine_id: str
    class_ref: str
    config: dict[str, Any]
    references: tuple[ReferenceSpec, ...]
    slots: tuple[SlotSpec, ...]
    events: tuple[EventSpec, ...]
    error_handler: PolicySpec | None
    timeout: float | None
    max_concurrency: int | None
    routes: tuple[RouteSpec, ...] | None
    where: str
    #: The routine's serializable fields as written (``None``: the entry has none).
    fields: dict[str, Any] | None = None
    #: Whether the ray strategy runs it on an actor (``None``: as its class says).
    ray_actor: bool | None = None


@dataclass(frozen=True, slots=True)
class ConnectionSpec:
    """A connection between routines of the document."""

    source: str
    event: str
    target: str
    slot: str
    param_mapping: dict[str, str] | None
    where: str


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """A whole flow document, checked."""

    options: dict[str, Any]
    error_handler: PolicySpec | None
    routines: tuple[RoutineSpec, ...]
    connections: tuple[ConnectionSpec, ...]


def parse_flow_doc(document: Any) -> FlowSpec:
    """Check ``document`` and return its specs; import nothing.

    Raises:
        SerializationError: The document is not a flow document of this
            version, or any part of it is malformed (the message names where).
    """
    version = _check_header(document)
    check_bounds(document)
    # These came after version 1 was first written: optional, with the
    # defaults of Flow.
    top = DocObject(document, "", required=_TOP, optional=_LATER)
    routines = tuple(
        _routine(routine_id, raw, index_path("routines", routine_id))
        for routine_id, raw in top.entries("routines", MAX_ROUTINES).items()
    )
    ids = dict.fromkeys(spec.routine_id for spec in routines)
    connections = tuple(
        _connection(raw, index_path("connections", i), ids)
        for i, raw in enumerate(top.items("connections", MAX_CONNECTIONS))
    )
    return FlowSpec(_options(top, version), _policy(top, "error_handler"), routines, connections)


def _check_header(document: Any) -> int:
    """Check the schema and version; return the version."""
    if not isinstance(document, dict):
        raise SerializationError(f"A flow document must be an object, not {kind_of(document)}.")
    schema = document.get("schema")
    if schema != FLOW_SCHEMA:
        shown = repr(schema)[:80]
        raise SerializationError(
            f"Not a flow document: its schema is {shown}, expected {FLOW_SCHEMA!r}."
        )
    version = document.get("version")
    if type(version) is not int or version not in _READ_VERSIONS:
        raise SerializationError(
            f"Flow document version {repr(version)[:80]} is not supported; this routilux "
            f"reads versions {' and '.join(map(str, _READ_VERSIONS))}."
        )
    return version


def _options(top: DocObject, version: int) -> dict[str, Any]:
    # Version 1 left history_limit out when it was None, its default then: a
    # version 1 document without it keeps all of a job's history.
    history_limit: int | None
    if top.has("history_limit"):
        history_limit = top.get("history_limit", int, nullable=True)
    else:
        history_limit = None if version == 1 else DEFAULT_HISTORY_LIMIT
    return {
        "flow_id": top.get("flow_id", str),
        "execution_strategy": top.get("execution_strategy", str),
        "max_workers": top.get("max_workers", int),
        "execution_timeout": top.get("execution_timeout", _NUMBER, nullable=True),
        "max_deliveries": top.get("max_deliveries", int, nullable=True),
        "record_history": top.get("record_history", bool),
        "history_limit": history_limit,
        **({"max_hops": top.get("max_hops", int)} if top.has("max_hops") else {}),
        "retain_jobs": top.get("retain_jobs", int),
        "checkpoint_every": (
            top.get("checkpoint_every", int) if top.has("checkpoint_every") else 1
        ),
        **(
            {"max_async_in_flight": top.get("max_async_in_flight", int, nullable=True)}
            if top.has("max_async_in_flight")
            else {}
        ),
        **(
            {"track_execution": top.get("track_execution", bool)}
            if top.has("track_execution")
            else {}
        ),
        **({"keep_logs": _keep_logs(top)} if top.has("keep_logs") else {}),
        **(
            {"ray_address": top.get("ray_address", str, nullable=True)}
            if top.has("ray_address")
            else {}
        ),
    }


def _keep_logs(top: DocObject) -> bool | int | str:
    """``keep_logs``: false (off), true (``INFO``), a level name, or a level number >= 0."""
    value = top.raw("keep_logs")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in _LEVEL_NAMES:
        return value.upper()
    if isinstance(value, int) and value >= 0:
        return value
    raise fail(
        top.at("keep_logs"),
        f"must be false (keep no log records), true (INFO), a logging level name "
        f"({', '.join(_LEVEL_NAMES)}) or a level number >= 0, not {repr(value)[:80]}.",
    )


def parse_routine_entry(raw: Any, routine_id: str, where: str) -> RoutineSpec:
    """Check one routine entry on its own (as ``Routine.serialize`` writes it); import nothing.

    Raises:
        SerializationError: The entry is malformed (the message names where).
    """
    check_bounds(raw)
    return _routine(routine_id, raw, where)


def _routine(routine_id: str, raw: Any, where: str) -> RoutineSpec:
    if not routine_id:
        raise fail(where, "has an empty routine id; ids are non-empty strings.")
    entry = DocObject(raw, where, required=_ROUTINE, optional=_ROUTINE_LATER)
    config, references, keys = _config(entry)
    fields, field_references = _fields(entry)
    routes = None
    if entry.has("routes"):
        if "routes" in keys:
            raise fail(where, "has routes both in its 'routes' field and in its config.")
        routes = parse_routes(entry.items("routes", MAX_ITEMS), entry.at("routes"))
    return RoutineSpec(
        routine_id=routine_id,
        class_ref=check_class_ref(entry.raw("class"), entry.at("class")),
        config=config,
        references=references + field_references,
        slots=_unique(
            tuple(_slot(s, index_path(entry.at("slots"), i)) for i, s in _listed(entry, "slots"))
        ),
        events=_unique(
            tuple(_event(e, index_path(entry.at("events"), i)) for i, e in _listed(entry, "events"))
        ),
        error_handler=_policy(entry, "error_handler"),
        timeout=entry.get("timeout", _NUMBER, nullable=True),
        max_concurrency=entry.get("max_concurrency", int, nullable=True),
        routes=routes,
        where=where,
        fields=fields,
        ray_actor=entry.get("ray_actor", bool) if entry.has("ray_actor") else None,
    )


S = TypeVar("S", SlotSpec, EventSpec)


def _unique(specs: tuple[S, ...]) -> tuple[S, ...]:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise fail(key_path(spec.where, "name"), f"repeats the name {spec.name[:80]!r}.")
        seen.add(spec.name)
    return specs


def _listed(entry: DocObject, key: str) -> list[tuple[int, Any]]:
    return list(enumerate(entry.items(key, MAX_ITEMS)))


def _config(entry: DocObject) -> tuple[dict[str, Any], tuple[ReferenceSpec, ...], set[str]]:
    """The config as written, the references in it, and its keys; decoding it checks it."""
    raw: dict[str, Any] = entry.get("config", dict)
    references: list[ReferenceSpec] = []

    def note(path: Any, where: str) -> object:
        references.append(ReferenceSpec(check_path(path, where), where))
        return object()  # Stands for the reference until it is resolved: not a string key.

    config = decode_value(raw, entry.at("config"), refs=note)
    if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
        raise fail(entry.at("config"), "must be an object with string keys.")
    return raw, tuple(references), set(config)


def _fields(entry: DocObject) -> tuple[dict[str, Any] | None, tuple[ReferenceSpec, ...]]:
    """The serializable fields as written, if any, and the references in them."""
    if not entry.has("fields"):
        return None, ()
    raw: dict[str, Any] = entry.get("fields", dict)
    references: list[ReferenceSpec] = []

    def note(path: Any, where: str) -> object:
        references.append(ReferenceSpec(check_path(path, where), where))
        return object()

    decode_value(raw, entry.at("fields"), refs=note)
    for name in raw:
        if not name.isidentifier() or name.startswith("__"):
            raise fail(
                index_path(entry.at("fields"), name),
                "must be named by an attribute name that does not start with '__'.",
            )
    return raw, tuple(references)


def _name(item: DocObject, key: str = "name") -> str:
    name: str = item.get(key, str)
    if not name:
        raise fail(item.at(key), "must not be empty.")
    return name


def _slot(raw: Any, where: str) -> SlotSpec:
    slot = DocObject(raw, where, required=("name", "handler", "merge_strategy"))
    handler: str | None = slot.get("handler", str, nullable=True)
    if handler is not None and ":" in handler:
        check_path(handler, slot.at("handler"))  # A module-level function.
    elif handler is not None and not _METHOD_NAME.fullmatch(handler):
        raise fail(
            slot.at("handler"),
            f"must be the name of a method of the routine (an identifier that does not start "
            f"with '__') or the import path of a module-level function, not {handler[:80]!r}.",
        )
    merge = slot.raw("merge_strategy")
    if merge not in _NAMED_MERGES:
        if not isinstance(merge, str) or ":" not in merge:
            raise fail(
                slot.at("merge_strategy"),
                "must be 'override', 'append' or the import path of a merge function, "
                f"not {repr(merge)[:80]}.",
            )
        check_path(merge, slot.at("merge_strategy"))
    return SlotSpec(_name(slot), handler, merge, where)


def _event(raw: Any, where: str) -> EventSpec:
    event = DocObject(raw, where, required=("name", "params"))
    params = event.items("params", MAX_ITEMS)
    for i, param in enumerate(params):
        if not isinstance(param, str):
            raise fail(
                index_path(event.at("params"), i), f"must be a string, not {kind_of(param)}."
            )
    return EventSpec(_name(event), tuple(params), where)


def _policy(parent: DocObject, key: str) -> PolicySpec | None:
    raw, where = parent.raw(key), parent.at(key)
    if raw is None:
        return None
    policy = DocObject(raw, where, required=(*_POLICY, *_POLICY_REST))
    strategy = policy.get("strategy", str)
    if strategy not in {s.value for s in ErrorStrategy}:
        names = ", ".join(repr(s.value) for s in ErrorStrategy)
        raise fail(policy.at("strategy"), f"must be one of {names}, not {strategy[:80]!r}.")
    exceptions = policy.items("retryable_exceptions", MAX_ITEMS)
    paths = tuple(
        check_path(path, index_path(policy.at("retryable_exceptions"), i))
        for i, path in enumerate(exceptions)
    )
    return PolicySpec(
        strategy=strategy,
        max_retries=policy.get("max_retries", int),
        retry_delay=policy.get("retry_delay", _NUMBER),
        retry_backoff=policy.get("retry_backoff", _NUMBER),
        exceptions=paths,
        is_critical=policy.get("is_critical", bool),
        where=where,
    )


def _connection(raw: Any, where: str, ids: dict[str, None]) -> ConnectionSpec:
    connection = DocObject(raw, where, required=_CONNECTION)
    for key in ("source", "target"):
        routine_id = connection.get(key, str)
        if routine_id not in ids:
            known = ", ".join(repr(i) for i in list(ids)[:20]) or "none"
            raise fail(
                connection.at(key),
                f"names the routine {routine_id[:80]!r}, which the document does not define; "
                f"routines: {known}.",
            )
    return ConnectionSpec(
        source=connection.get("source", str),
        event=_name(connection, "event"),
        target=connection.get("target", str),
        slot=_name(connection, "slot"),
        param_mapping=_mapping(connection),
        where=where,
    )


def _mapping(connection: DocObject) -> dict[str, str] | None:
    mapping: dict[str, Any] | None = connection.get("param_mapping", dict, nullable=True)
    for key, value in (mapping or {}).items():
        if not isinstance(value, str):
            where = index_path(connection.at("param_mapping"), key)
            raise fail(where, f"must be a string (the target key), not {kind_of(value)}.")
    return mapping
