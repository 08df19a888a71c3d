"""Import paths of classes and functions: checking, writing and resolving them.

A flow document names code by import path, ``"package.module:Qual.Name"``.
Resolving a path imports its module, so this is the one place where a
document can make routilux run code, and the rules are narrow:

* A path is dotted ASCII identifiers, a colon, and a dotted qualified name,
  at most ``MAX_PATH_LENGTH`` characters; no segment starts with ``__``
  (so no ``__main__``, ``__builtins__``, ``__class__``, ``__init__``).
* Only the module a path names (with its parent packages) is imported, and a
  standard-library module only if it is already imported: none of them holds
  a routine, and some run code when imported (``antigravity``, ``this``).
* The name is looked up in the ``vars()`` of the module and of each class on
  the way: no ``__getattr__``, no descriptors, no properties run.
* What is found must then be of the kind the document says it is (a Routine
  class, a module-level function, an exception class) before anything uses it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from types import FunctionType, MethodType, ModuleType
from typing import Any

from routilux._model.routine import Routine
from routilux._serde import registry as global_registry
from routilux._serde._paths import PATH_FORM, is_valid_name
from routilux.exceptions import SerializationError

__all__ = [
    "check_class_ref",
    "check_path",
    "exception_path",
    "function_path",
    "import_object",
    "resolve_exception",
    "resolve_function",
    "resolve_routine_class",
    "routine_class_ref",
]

_MISSING: Any = object()


def check_path(text: object, where: str) -> str:
    """Return ``text`` if it is a valid import path.

    Raises:
        SerializationError: It is not; the message names ``where``.
    """
    if not is_valid_name(text, path_only=True):
        raise SerializationError(f"Flow document: {where} must be {PATH_FORM}, not {_show(text)}.")
    assert isinstance(text, str)
    return text


def check_class_ref(text: object, where: str) -> str:
    """Return ``text`` if it is a valid routine class reference (an import path or a name).

    Raises:
        SerializationError: It is not; the message names ``where``.
    """
    if not is_valid_name(text):
        raise SerializationError(
            f"Flow document: {where} must be {PATH_FORM} (or a name given to "
            f"register_routine), not {_show(text)}."
        )
    assert isinstance(text, str)
    return text


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:77] + "...")
    return f"a value of type {type(value).__name__}"


# -- writing ---------------------------------------------------------------


def routine_class_ref(
    cls: type[Routine], where: str, registry: Mapping[str, type[Routine]] | None
) -> str:
    """The reference a document uses for ``cls``: its registered name, else its import path.

    Raises:
        SerializationError: ``cls`` is neither registered nor importable.
    """
    for name, registered in (registry or {}).items():
        if registered is cls:
            return name
    registered_name = global_registry.registered_name(cls)
    if registered_name is not None:
        return registered_name
    fix = "move it to a module, or register it with routilux.register_routine()"
    return _importable_path(cls, f"the routine class {cls.__qualname__}", where, fix)


def function_path(function: object, what: str, where: str, fix: str) -> str:
    """The import path of a module-level function.

    Raises:
        SerializationError: ``function`` is a lambda, a nested function, a
            method or another callable, or cannot be imported by its path.
    """
    problem = _function_problem(function)
    if problem is not None or not isinstance(function, FunctionType):
        raise SerializationError(f"Cannot serialize {where}: the {what} is {problem}; {fix}.")
    return _importable_path(function, f"the {what} {function.__qualname__}", where, fix)


def _function_problem(function: object) -> str | None:
    if isinstance(function, MethodType):
        return f"the bound method {function.__func__.__qualname__}"
    if not isinstance(function, FunctionType):
        return f"a {type(function).__name__} object, not a function"
    if function.__name__ == "<lambda>":
        return "a lambda"
    if "<locals>" in function.__qualname__:
        return f"the nested function {function.__qualname__}"
    if function.__qualname__ != function.__name__:
        return f"the function {function.__qualname__}, defined in a class"
    return None


def exception_path(exc_type: type[BaseException], where: str) -> str:
    """The import path of an exception class.

    Raises:
        SerializationError: The class cannot be imported by its path.
    """
    fix = "define it at module level in an importable module"
    return _importable_path(exc_type, f"the exception class {exc_type.__qualname__}", where, fix)


def _importable_path(obj: Any, what: str, where: str, fix: str) -> str:
    module, qualname = obj.__module__, obj.__qualname__
    path = f"{module}:{qualname}"
    if "<locals>" in qualname:
        reason = "is defined inside a function"
    elif module == "__main__":
        reason = "is defined in __main__ (the script being run), which cannot be imported"
    elif not is_valid_name(path, path_only=True):
        reason = f"has the import path {path!r}, which is not {PATH_FORM}"
    elif _lookup(sys.modules.get(module), qualname) is not obj:
        reason = f"is not found again at its import path {path!r}"
    else:
        return path
    raise SerializationError(f"Cannot serialize {where}: {what} {reason}; {fix}.")


# -- resolving -------------------------------------------------------------


def resolve_routine_class(
    ref: str, where: str, registry: Mapping[str, type[Routine]] | None
) -> type[Routine]:
    """The Routine subclass ``ref`` names: from ``registry``, the global registry, or by import.

    Raises:
        SerializationError: Nothing by that name can be found, or it is not a
            Routine subclass.
    """
    found: Any = (registry or {}).get(ref)
    if found is None:
        found = global_registry.registered_class(ref)
    if found is None:
        if ":" not in ref:
            raise SerializationError(
                f"Flow document: {where} names the routine class {ref!r}, which is not "
                "registered; register it with routilux.register_routine() (or pass "
                "registry=) before loading the flow."
            )
        found = import_object(ref, where)
    if not (isinstance(found, type) and issubclass(found, Routine)):
        raise SerializationError(
            f"Flow document: {where} names {ref!r}, which is {_kind(found)}, not a Routine "
            "subclass; only Routine classes can be rebuilt."
        )
    return found


def resolve_function(path: str, what: str, where: str) -> FunctionType:
    """The module-level function ``path`` names.

    Raises:
        SerializationError: It cannot be imported, or is not a module-level function.
    """
    found = import_object(path, where)
    if not isinstance(found, FunctionType) or found.__qualname__ != found.__name__:
        raise SerializationError(
            f"Flow document: {where} names {path!r}, which is {_kind(found)}, not a "
            f"module-level function; a {what} must be one."
        )
    return found


def resolve_exception(path: str, where: str) -> type[BaseException]:
    """The exception class ``path`` names.

    Raises:
        SerializationError: It cannot be imported, or is not an exception class.
    """
    found = import_object(path, where)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise SerializationError(
            f"Flow document: {where} names {path!r}, which is {_kind(found)}, not an "
            "exception class."
        )
    return found


def _kind(obj: object) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__qualname__}"
    return f"a {type(obj).__name__}"


def import_object(path: str, where: str) -> object:
    """Import the module of ``path`` (see the module docstring) and look up its name.

    Raises:
        SerializationError: The path is invalid, the module cannot (or may
            not) be imported, or it has no such name.
    """
    check_path(path, where)
    module_name, _, qualname = path.partition(":")
    found = _lookup(_import(module_name, path, where), qualname)
    if found is _MISSING:
        raise SerializationError(
            f"Flow document: {where} names {path!r}, but module {module_name!r} defines no "
            f"{qualname!r}."
        )
    return found


def _import(module_name: str, path: str, where: str) -> ModuleType:
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    if module_name.partition(".")[0] in sys.stdlib_module_names:
        raise SerializationError(
            f"Flow document: {where} names {path!r}, in the standard-library module "
            f"{module_name!r}, which is not imported; routilux never imports a "
            "standard-library module for a document (import it before loading if needed)."
        )
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise SerializationError(
            f"Flow document: {where} names {path!r}, but module {module_name!r} cannot be "
            f"imported: {exc}."
        ) from None
    except Exception as exc:  # The module's own code failed while it was imported.
        raise SerializationError(
            f"Flow document: {where} names {path!r}; importing module {module_name!r} "
            f"failed with {type(exc).__name__}: {exc}"
        ) from exc


def _lookup(root: object, qualname: str) -> Any:
    found = root
    for name in qualname.split("."):
        if not isinstance(found, (ModuleType, type)):
            return _MISSING
        found = vars(found).get(name, _MISSING)
        if found is _MISSING:
            return _MISSING
    return found
