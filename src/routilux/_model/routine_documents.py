"""What a document keeps of one routine: its entry, and the attributes it names."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from routilux._model.dual_method import ClassOrInstanceMethod
from routilux.exceptions import DefinitionError

if TYPE_CHECKING:
    from routilux._model.event import Event
    from routilux._model.routine import Routine
    from routilux._model.slot import Slot

__all__ = ["RoutineDocuments"]


def _routine_from_doc(
    owner: type[Routine],
    routine: Routine | None,
    /,
    entry: Any,
    *,
    registry: Mapping[str, type[Routine]] | None = None,
    allowed_modules: Iterable[str] | None = None,
) -> Routine:
    # Imported on use: documents know the built-in routines, which import this module.
    from routilux._serde.routine_doc import routine_from_doc

    return routine_from_doc(
        owner, routine, entry, registry=registry, allowed_modules=allowed_modules
    )


_routine_from_doc.__doc__ = """Rebuild a routine from :meth:`RoutineDocuments.serialize`'s entry.

``Routine.deserialize(entry)`` creates the routine of the entry's class (as a
flow document's routine is created: its serializable fields, then its config,
slots, events and policies); ``routine.deserialize(entry)`` applies the entry
to ``routine``, whose class must be the entry's, and returns it.

Keyword arguments: ``registry`` (names for routine classes that have no
import path) and ``allowed_modules`` (if given, the only modules, with their
submodules, that may be imported), as for ``Flow.deserialize``.

Raises:
    SerializationError: The entry is malformed, names a class that cannot be
        resolved or is not ``routine``'s, or does not fit the class; the
        message names the place.
"""


class RoutineDocuments:
    """Serializing one routine, and the attributes its documents keep (part of :class:`Routine`)."""

    _slots: dict[str, Slot]
    _events: dict[str, Event]
    _serializable_fields: list[str]
    _label: Callable[[], str]

    @property
    def serializable_fields(self) -> tuple[str, ...]:
        """The attributes documents keep besides the config, in the order they were added."""
        return tuple(getattr(self, "_serializable_fields", ()))

    def add_serializable_fields(self, names: str | Iterable[str]) -> None:
        """Keep the attributes ``names`` in documents of this routine, besides its config.

        A flow document (and :meth:`serialize`) writes each under
        ``"fields"`` in the routine's entry, with the value codec of config;
        rebuilding the routine sets them after ``__init__``, before the
        config is applied. Prefer config for settings: fields are for
        attributes a routine class keeps as attributes.

        Args:
            names: An attribute name, or several.

        Raises:
            DefinitionError: A name is not an identifier, is a dunder name,
                names one of the routine's slots, events or methods, or an
                attribute :class:`Routine` itself uses.
        """
        for name in _names(names):
            self._check_field(name)
            if name not in self._serializable_fields:
                self._serializable_fields.append(name)

    def remove_serializable_fields(self, names: str | Iterable[str]) -> None:
        """Stop keeping the attributes ``names`` in documents (names not kept are ignored)."""
        dropped = set(_names(names))
        kept = [name for name in self._serializable_fields if name not in dropped]
        self._serializable_fields[:] = kept

    def _check_field(self, name: object) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise DefinitionError(
                f"{self._label()}: a serializable field must be an attribute name, not {name!r}."
            )
        kind = None
        if name.startswith("__") and name.endswith("__"):
            kind = "a special (dunder) name"
        elif name in self._slots:
            kind = "the name of one of its slots"
        elif name in self._events:
            kind = "the name of one of its events"
        elif _is_method(getattr(type(self), name, None)):
            kind = "the name of one of its methods"
        elif name in _routine_attributes():
            kind = "an attribute Routine itself uses"
        if kind is not None:
            raise DefinitionError(
                f"{self._label()} cannot keep {name!r} as a serializable field: it is {kind}. "
                "Keep the value in another attribute, or in config."
            )

    def serialize(
        self: Any, *, registry: Mapping[str, type[Routine]] | None = None
    ) -> dict[str, Any]:
        """The routine's entry as a flow document writes it.

        Its class, config, serializable fields, slots, events and policies;
        not its stats nor its slots' data. Errors name the routine by
        :attr:`Routine._id`.

        Args:
            registry: Names for routine classes that cannot be imported by
                path, checked before :func:`routilux.register_routine`'s.

        Raises:
            SerializationError: Something in the routine cannot be written (a
                handler that is not a method or module-level function, a
                config or field value the codec refuses); the message names it.
        """
        from routilux._serde.routine_doc import routine_to_doc

        return routine_to_doc(self, registry=registry)

    #: ``Routine.deserialize(entry, *, registry=None, allowed_modules=None)``
    #: creates a routine; ``routine.deserialize(...)`` applies the entry to it.
    deserialize = ClassOrInstanceMethod(_routine_from_doc)


def _names(names: str | Iterable[str]) -> list[Any]:
    return [names] if isinstance(names, str) else list(names)


def _is_method(attribute: object) -> bool:
    return callable(attribute) or isinstance(attribute, (property, staticmethod, classmethod))


@functools.cache
def _routine_attributes() -> frozenset[str]:
    """The attributes ``Routine.__init__`` sets, which a field must not replace."""
    from routilux._model.routine import Routine

    return frozenset(vars(Routine())) | frozenset(
        name for name, _ in inspect.getmembers(Routine) if not name.startswith("__")
    )
