"""The routine registry: names for routine classes that cannot be imported by path.

A flow document names each routine's class by import path. A class defined
in ``__main__`` (the script being run) or inside a function has no such path;
registering it gives it a name that :meth:`Flow.serialize` writes and
:meth:`Flow.deserialize` looks up before trying to import anything.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from routilux._model.routine import Routine
from routilux._serde._paths import PATH_FORM, is_valid_name
from routilux.exceptions import DefinitionError

__all__ = ["register_routine", "registered_class", "registered_name", "unregister_routine"]

R = TypeVar("R", bound=type[Routine])

_lock = threading.Lock()
_by_name: dict[str, type[Routine]] = {}
_by_class: dict[type[Routine], str] = {}


def register_routine(cls: R, name: str | None = None) -> R:
    """Make ``cls`` loadable from flow documents under ``name``.

    Usable as a decorator (``@register_routine``). Registering the same class
    under the same name again does nothing.

    Args:
        cls: A :class:`Routine` subclass.
        name: The name documents use for it: an import path
            (``"app.routines:Greeter"``) or a dotted name (``"Greeter"``).
            By default the class's import path, or its bare qualified name
            when it is defined in ``__main__``.

    Returns:
        ``cls``, unchanged.

    Raises:
        DefinitionError: ``cls`` is not a Routine subclass, the name is not
            valid, or the name or the class is registered already (to
            another class or under another name).
    """
    if not (isinstance(cls, type) and issubclass(cls, Routine)):
        raise DefinitionError(f"register_routine expects a Routine subclass, not {cls!r}.")
    chosen = _default_name(cls) if name is None else name
    if not is_valid_name(chosen) or chosen.startswith("__main__:"):
        raise DefinitionError(
            f"Cannot register {cls.__qualname__} as {chosen!r}: a routine name must be "
            f"{PATH_FORM} of a module other than __main__, or a dotted name like 'Greeter'; "
            "pass name=."
        )
    with _lock:
        _check_free(cls, chosen)
        _by_name[chosen] = cls
        _by_class[cls] = chosen
    return cls


def _default_name(cls: type[Routine]) -> str:
    if cls.__module__ == "__main__":
        return cls.__qualname__
    return f"{cls.__module__}:{cls.__qualname__}"


def _check_free(cls: type[Routine], name: str) -> None:
    taken_by = _by_name.get(name)
    if taken_by is not None and taken_by is not cls:
        raise DefinitionError(
            f"The routine name {name!r} is registered already, for {taken_by.__qualname__}; "
            "choose another name or unregister_routine() the other class."
        )
    current = _by_class.get(cls)
    if current is not None and current != name:
        raise DefinitionError(
            f"{cls.__qualname__} is registered already, as {current!r}; a class has one name."
        )


def unregister_routine(cls_or_name: type[Routine] | str) -> bool:
    """Forget a registered class, given the class or its name.

    Returns:
        Whether something was registered under that class or name.
    """
    with _lock:
        if isinstance(cls_or_name, str):
            cls = _by_name.pop(cls_or_name, None)
            return cls is not None and _by_class.pop(cls, None) is not None
        name = _by_class.pop(cls_or_name, None)
        return name is not None and _by_name.pop(name, None) is not None


def registered_class(name: str) -> type[Routine] | None:
    """The class registered as ``name``, or ``None``."""
    with _lock:
        return _by_name.get(name)


def registered_name(cls: type[Routine]) -> str | None:
    """The name ``cls`` is registered under, or ``None``."""
    with _lock:
        return _by_class.get(cls)
