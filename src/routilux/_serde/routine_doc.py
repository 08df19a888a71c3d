"""One routine <-> its entry in a flow document, on its own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from routilux._serde._flow_build import References, apply_routine, build_routine
from routilux._serde._flow_spec import FlowSpec, parse_routine_entry
from routilux._serde._refs import allowed_imports
from routilux._serde.flow_doc import routine_entry
from routilux.exceptions import SerializationError

if TYPE_CHECKING:
    from routilux._model.routine import Routine

__all__ = ["routine_from_doc", "routine_to_doc"]

R = TypeVar("R", bound="Routine")

#: Where errors about a lone routine entry say the problem is.
_WHERE = "routine"


def routine_to_doc(
    routine: Routine, *, registry: Mapping[str, type[Routine]] | None = None
) -> dict[str, Any]:
    """``routine``'s entry, as a flow document writes it, named by ``routine._id`` in errors.

    Raises:
        SerializationError: Something in the routine cannot be written.
    """
    return routine_entry(routine, routine._id, registry)


def routine_from_doc(
    owner: type[R],
    routine: R | None,
    entry: Any,
    *,
    registry: Mapping[str, type[Routine]] | None = None,
    allowed_modules: Iterable[str] | None = None,
) -> R:
    """Create a routine from ``entry``, or apply ``entry`` to ``routine``.

    Args:
        owner: The class ``deserialize`` was called on: the entry's class
            must be it or a subclass.
        routine: The routine to apply the entry to (its class must be the
            entry's), or ``None`` to create one.
        entry: What :func:`routine_to_doc` returned.
        registry: Names for routine classes that have no import path.
        allowed_modules: If given, the only modules that may be imported.

    Raises:
        SerializationError: The entry is malformed, or names a class that
            cannot be resolved, is not ``owner``'s, or not ``routine``'s.
    """
    spec = parse_routine_entry(entry, _WHERE, _WHERE)
    refs = References(registry)
    with allowed_imports(allowed_modules):
        refs.resolve(FlowSpec({}, None, (spec,), ()))
    cls = refs.classes[spec.class_ref]
    if routine is not None:
        if cls is not type(routine):
            raise SerializationError(
                f"Cannot deserialize {_WHERE} into a {type(routine).__qualname__}: the entry is "
                f"of class {spec.class_ref}; use Routine.deserialize(entry) to create one."
            )
        apply_routine(routine, spec, refs)
        return routine
    if not issubclass(cls, owner):
        raise SerializationError(
            f"Cannot deserialize {_WHERE} as a {owner.__qualname__}: the entry is of class "
            f"{spec.class_ref}; use Routine.deserialize(entry)."
        )
    return build_routine(spec, refs)  # type: ignore[return-value]
