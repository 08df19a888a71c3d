"""Slot handlers as method names: finding a handler's name, and a name's method.

A document names a slot's handler by the name of a method of the routine.
Only functions defined in a class body count: nothing is fetched through
``__getattr__``, descriptors or the instance's own attributes, and the
methods of :class:`Routine` itself (``emit``, ``set_config``...) are not
handlers.
"""

from __future__ import annotations

import re
from types import FunctionType, MethodType
from typing import Any

from routilux._model.routine import Routine

__all__ = ["class_attribute", "handler_problem", "lookup_method", "method_name"]

_MISSING: Any = object()
_HANDLER_NAME = re.compile(r"(?!__)[A-Za-z_][A-Za-z0-9_]*")


def class_attribute(cls: type, name: str) -> Any:
    """What ``cls.name`` is defined as, read from the class dicts along the MRO (or a sentinel)."""
    for klass in cls.__mro__:
        found = vars(klass).get(name, _MISSING)
        if found is not _MISSING:
            return found
    return _MISSING


def method_name(routine: Routine, handler: Any) -> str | None:
    """The name under which ``handler`` is a method of ``routine``, or ``None``.

    ``handler`` must be bound to ``routine`` itself, and the name must lead
    from the routine's class to the very function the handler binds.
    """
    if not isinstance(handler, MethodType) or handler.__self__ is not routine:
        return None
    func, cls = handler.__func__, type(routine)
    preferred = getattr(func, "__name__", None)
    if isinstance(preferred, str) and class_attribute(cls, preferred) is func:
        return preferred
    for klass in cls.__mro__:  # An alias: ``handle = process`` in the class body.
        for name, attr in vars(klass).items():
            if attr is func and class_attribute(cls, name) is func:
                return name
    return None


def handler_problem(name: str) -> str | None:
    """Why ``name`` cannot be written as a handler name, or ``None`` if it can."""
    if not _HANDLER_NAME.fullmatch(name):
        return f"the method {name!r}, whose name is special (it starts with '__')"
    return None


def lookup_method(routine: Routine, name: str) -> MethodType | str:
    """The method ``name`` of ``routine``, bound; or why there is none, as a phrase.

    The name must not start with ``_`` and must be a function defined in a
    class body along the routine's MRO, other than :class:`Routine` itself.
    """
    if name.startswith("_"):
        return "starts with '_'; only public methods can be named by a document"
    for klass in type(routine).__mro__:
        found = vars(klass).get(name, _MISSING)
        if found is _MISSING:
            continue
        if klass is Routine or klass is object:
            return f"is defined by {klass.__qualname__} itself, not a handler"
        if isinstance(found, FunctionType):
            return MethodType(found, routine)
        return f"is a {type(found).__name__} in {klass.__qualname__}, not a method"
    return f"is not a method defined by {type(routine).__qualname__}"
