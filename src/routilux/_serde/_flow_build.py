"""Building a flow from checked specs: resolve every name, then create the routines.

Every import path of the document is resolved (and checked to be of its
kind) before any routine is created, so a document that names one bad class
runs no routine code at all. That includes the functions and classes in
routine config (config references).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._model.error_policy import ErrorHandler, ErrorStrategy
from routilux._model.routine import Routine
from routilux._model.slot import Slot
from routilux._serde._doc_reader import fail, index_path, key_path
from routilux._serde._flow_spec import FlowSpec, PolicySpec, RoutineSpec, SlotSpec
from routilux._serde._methods import lookup_method, method_name
from routilux._serde._refs import (
    resolve_exception,
    resolve_function,
    resolve_reference,
    resolve_routine_class,
)
from routilux._serde.config_codecs import config_codec
from routilux._serde.values import decode_value
from routilux.exceptions import DefinitionError, SerializationError

if TYPE_CHECKING:
    from routilux._flow import Flow

__all__ = ["References", "apply_routine", "build_flow", "build_routine"]

F = TypeVar("F", bound="Flow")
_NAMED_MERGES = ("override", "append")
_UNRESOLVED = object()


class References:
    """The classes and functions a document names, resolved once each."""

    def __init__(self, registry: Mapping[str, type[Routine]] | None) -> None:
        self._registry = registry
        self.classes: dict[str, type[Routine]] = {}
        self.functions: dict[str, FunctionType] = {}
        self.exceptions: dict[str, type[BaseException]] = {}
        self.values: dict[str, object] = {}

    def resolve(self, spec: FlowSpec) -> None:
        """Resolve every name of ``spec``: routine classes first, then the rest.

        The rest: merge functions, conditions, config references, exceptions.

        Raises:
            SerializationError: A name cannot be resolved, or names the wrong kind of object.
        """
        for routine in spec.routines:
            self._class(routine.class_ref, key_path(routine.where, "class"))
        for routine in spec.routines:
            for slot in routine.slots:
                self._slot_functions(slot)
            for route in routine.routes or ():
                if route.kind == "function":
                    self.function(route.value, key_path(route.where, "function"))
            for reference in routine.references:
                self.reference(reference.path, reference.where)
        for policy in _policies(spec):
            for i, path in enumerate(policy.exceptions):
                self._exception(path, index_path(key_path(policy.where, "retryable_exceptions"), i))

    def _slot_functions(self, slot: SlotSpec) -> None:
        """Resolve a slot's handler, if a function (not a method), and merge function."""
        if slot.handler is not None and ":" in slot.handler:
            self.function(slot.handler, key_path(slot.where, "handler"), what="handler function")
        if slot.merge not in _NAMED_MERGES:
            self.function(slot.merge, key_path(slot.where, "merge_strategy"), what="merge function")

    def _class(self, ref: str, where: str) -> None:
        if ref not in self.classes:
            self.classes[ref] = resolve_routine_class(ref, where, self._registry)

    def function(self, path: str, where: str, what: str = "condition") -> FunctionType:
        """The function at ``path`` (resolved on first use)."""
        found = self.functions.get(path)
        if found is None:
            found = self.functions[path] = resolve_function(path, what, where)
        return found

    def reference(self, path: Any, where: str) -> object:
        """The function or class a config reference names (resolved on first use)."""
        found = self.values.get(path, _UNRESOLVED) if isinstance(path, str) else _UNRESOLVED
        if found is _UNRESOLVED:
            found = self.values[path] = resolve_reference(path, where)
        return found

    def _exception(self, path: str, where: str) -> None:
        if path not in self.exceptions:
            self.exceptions[path] = resolve_exception(path, where)


def _policies(spec: FlowSpec) -> list[PolicySpec]:
    found = [spec.error_handler, *(routine.error_handler for routine in spec.routines)]
    return [policy for policy in found if policy is not None]


def _refused_option(owner: type[F], options: Mapping[str, Any]) -> str | None:
    """The first option the flow class refuses on its own, if one is (to name it)."""
    for name, value in options.items():
        try:
            owner(**{name: value})
        except (DefinitionError, TypeError):  # noqa: PERF203 - only once a setting failed
            return name
    return None


def build_flow(owner: type[F], spec: FlowSpec, registry: Mapping[str, type[Routine]] | None) -> F:
    """Create a flow of class ``owner`` from ``spec``.

    Raises:
        SerializationError: A name cannot be resolved, a routine cannot be
            created or does not match the document, or the model refuses a
            value (the message names where).
    """
    try:
        flow = owner(**spec.options)
    except (DefinitionError, TypeError) as exc:
        named = _refused_option(owner, spec.options)
        setting = "settings are" if named is None else f"setting {named} is"
        raise SerializationError(f"Flow document: the flow's {setting} refused: {exc}") from exc
    refs = References(registry)
    refs.resolve(spec)
    for routine_spec in spec.routines:
        flow.add_routine(build_routine(routine_spec, refs), routine_spec.routine_id)
    flow.set_error_handler(_error_handler(spec.error_handler, refs))
    for c in spec.connections:
        with _refusal(c.where):
            flow.connect(c.source, c.event, c.target, c.slot, c.param_mapping)
    return flow


@contextmanager
def _refusal(where: str) -> Iterator[None]:
    """Turn the model's DefinitionError into a SerializationError naming ``where``."""
    try:
        yield
    except DefinitionError as exc:
        raise fail(where, f"is refused: {exc}") from exc


def build_routine(spec: RoutineSpec, refs: References) -> Routine:
    """Create the routine ``spec`` describes (its class resolved in ``refs``).

    Raises:
        SerializationError: The class cannot be created without arguments,
            its ``__init__`` raised, or the spec does not fit it.
    """
    return apply_routine(_instantiate(refs.classes[spec.class_ref], spec), spec, refs)


def apply_routine(routine: Routine, spec: RoutineSpec, refs: References) -> Routine:
    """Give ``routine`` (just created) what ``spec`` says, and return it.

    Its serializable fields first, then its config, slots, events and
    policies, each checked against what its ``__init__`` defined.

    Raises:
        SerializationError: The model refuses a value, or the spec does not
            fit the routine's class (the message names where).
    """
    _set_fields(routine, spec, refs)
    _configure(routine, spec, refs)
    for slot in spec.slots:
        _slot(routine, slot, refs)
    _check_events(routine, spec)
    for event in spec.events:
        existing = routine.events.get(event.name)
        if existing is None:
            with _refusal(event.where):
                routine.define_event(event.name, event.params)
        elif existing.params != event.params:
            values = (list(event.params), list(existing.params))
            raise _mismatch(routine, event.where, "event", event.name, "params", values)
    routine.set_error_handler(_error_handler(spec.error_handler, refs))
    with _refusal(key_path(spec.where, "timeout")):
        routine.set_timeout(spec.timeout)
    with _refusal(key_path(spec.where, "max_concurrency")):
        routine.set_max_concurrency(spec.max_concurrency)
    if spec.ray_actor is not None:
        routine.set_ray_actor(spec.ray_actor)
    return routine


def _set_fields(routine: Routine, spec: RoutineSpec, refs: References) -> None:
    if spec.fields is None:
        return
    where = key_path(spec.where, "fields")
    fields = decode_value(spec.fields, where, refs=refs.reference)
    with _refusal(where):
        routine.add_serializable_fields(list(fields))
    for name, value in fields.items():
        _set_field(routine, name, value, index_path(where, name))


def _set_field(routine: Routine, name: str, value: Any, where: str) -> None:
    try:
        setattr(routine, name, value)
    except Exception as exc:  # A property of the routine's class refused it.
        raise fail(where, f"is refused by the routine: {exc!r}.") from exc


def _check_events(routine: Routine, spec: RoutineSpec) -> None:
    """Refuse an event the routine lacks, unless it is one defined on the instance.

    A routine may gain events after ``__init__`` (a router's route events,
    defined on the instance), and ``serialize`` then lists them with every
    event the class defines. A document that lists an event the routine
    lacks *instead of* one the class defines has renamed or misspelt it:
    its messages would go nowhere, so it is refused.
    """
    listed = {event.name for event in spec.events}
    unlisted = [name for name in routine.events if name not in listed]
    # A router's route events (and its default route's) are its own, defined
    # from its config when a job starts.
    codec = config_codec(type(routine))
    routes = set() if codec is None else codec.instance_events(routine, spec)
    unknown = next(
        (e for e in spec.events if e.name not in routine.events and e.name not in routes), None
    )
    if unknown is None or not unlisted:
        return
    with _refusal(unknown.where):
        raise DefinitionError(
            f"Routine {spec.routine_id!r} (class {spec.class_ref}) has no event "
            f"{unknown.name!r}; its class defines {', '.join(map(repr, routine.events))}, and "
            f"the document does not list {unlisted[0]!r}. Name the class's event (a renamed "
            "event would lose its messages), or list every event of the class as well if "
            f"{unknown.name!r} is defined on the instance."
        )


def _instantiate(cls: type[Routine], spec: RoutineSpec) -> Routine:
    where = key_path(spec.where, "class")
    needed = _required_arguments(cls)
    if needed:
        raise fail(
            where,
            f"names {cls.__qualname__}, which cannot be created without arguments (it needs "
            f"{', '.join(needed)}); give its parameters defaults and keep settings in config.",
        )
    try:
        routine = cls()
    except Exception as exc:  # The routine's own __init__ failed.
        raise fail(where, f"names {cls.__qualname__}, whose __init__ raised {exc!r}.") from exc
    if not hasattr(routine, "_slots"):
        raise fail(
            where, f"names {cls.__qualname__}, whose __init__ does not call super().__init__()."
        )
    return routine


def _required_arguments(cls: type[Routine]) -> list[str]:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # No signature to check: the call reports any problem.
        return []
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        repr(p.name)
        for p in parameters
        if p.default is inspect.Parameter.empty and p.kind not in variadic
    ]


def _configure(routine: Routine, spec: RoutineSpec, refs: References) -> None:
    config = decode_value(spec.config, key_path(spec.where, "config"), refs=refs.reference)
    if spec.routes is not None:
        codec = config_codec(type(routine))
        if codec is None:
            raise fail(
                key_path(spec.where, "routes"),
                f"is only for a ConditionalRouter, not a {type(routine).__qualname__}.",
            )
        config.update(codec.to_config(spec, lambda path, where: refs.function(path, where)))
    try:
        routine.set_config(**config)
    except Exception as exc:  # validate_config is user code; report whatever it raised.
        raise fail(key_path(spec.where, "config"), f"is refused by the routine: {exc}") from exc


def _slot(routine: Routine, spec: SlotSpec, refs: References) -> None:
    merge: Any = spec.merge
    if merge not in _NAMED_MERGES:
        merge = refs.functions[merge]
    existing = routine.slots.get(spec.name)
    if existing is None:
        handler: Any = None
        if spec.handler is not None and ":" in spec.handler:
            handler = refs.functions[spec.handler]
        elif spec.handler is not None:
            found = lookup_method(routine, spec.handler)
            if isinstance(found, str):
                raise fail(key_path(spec.where, "handler"), f"{spec.handler!r} {found}.")
            handler = found
        with _refusal(spec.where):
            routine.define_slot(spec.name, handler, merge)
        return
    _check_same_slot(routine, existing, spec, merge)


def _check_same_slot(routine: Routine, slot: Slot, spec: SlotSpec, merge: Any) -> None:
    handler = None
    if slot.handler is not None:
        # A repr never looks like a method name or a path, so anything else differs.
        handler = method_name(routine, slot.handler) or _merge_name(slot.handler)
    if handler != spec.handler:
        values = (spec.handler, handler)
        raise _mismatch(routine, spec.where, "slot", spec.name, "handler", values)
    actual = slot.merge_strategy
    if not (actual is merge or (isinstance(actual, str) and actual == merge)):
        values = (spec.merge, _merge_name(actual))
        raise _mismatch(routine, spec.where, "slot", spec.name, "merge strategy", values)


def _merge_name(merge: Any) -> str:
    if isinstance(merge, str):
        return merge
    return f"{getattr(merge, '__module__', '?')}:{getattr(merge, '__qualname__', repr(merge))}"


def _mismatch(
    routine: Routine, where: str, kind: str, name: str, what: str, values: tuple[Any, Any]
) -> SerializationError:
    cls = type(routine).__qualname__
    return fail(
        where,
        f"does not match the {kind} {name!r} that {cls}.__init__ defines: the document has "
        f"{what} {values[0]!r}, the class has {values[1]!r}.",
    )


def _error_handler(spec: PolicySpec | None, refs: References) -> ErrorHandler | None:
    if spec is None:
        return None
    with _refusal(spec.where):
        return ErrorHandler(
            strategy=ErrorStrategy(spec.strategy),
            max_retries=spec.max_retries,
            retry_delay=spec.retry_delay,
            retry_backoff=spec.retry_backoff,
            retryable_exceptions=tuple(refs.exceptions[path] for path in spec.exceptions),
            is_critical=spec.is_critical,
        )
