"""Import paths of classes and functions: checking, writing and resolving them.

A flow document names code by import path, ``"package.module:Qual.Name"``.
Resolving a path imports its module, so this is the one place where a
document can make routilux run code, and the rules are narrow:

* A path is dotted ASCII identifiers, a colon, and a dotted qualified name,
  at most ``MAX_PATH_LENGTH`` characters; no segment starts with ``__``
  (so no ``__builtins__``, ``__class__``, ``__init__``), but for the module
  ``__main__``, the running script.
* ``__main__`` is never imported: a ``"__main__:Name"`` path is looked up in
  the script already running, so a document written by a program loads back
  in that program, and in no other (a class or function of a script has no
  import path another program could use).
* Only the module a path names (with its parent packages) is imported, and a
  standard-library module only if it is already imported: none of them holds
  a routine, and some run code when imported (``antigravity``, ``this``).
  Within :func:`allowed_imports`, only modules under the prefixes it names
  are imported at all.
* The name is looked up in the ``vars()`` of the module and of each class on
  the way: no ``__getattr__``, no descriptors, no properties run.
* What is found must then be of the kind the document says it is (a Routine
  class, a module-level function, an exception class) before anything uses it.
* A function or class in a routine's config (a *config reference*) may be
  any module-level function or any class, except one of a module on
  :data:`DENIED_MODULES` (exception classes excepted). Its kind is checked
  with ``type()``: resolving it calls nothing, not even a metaclass.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any, cast

from routilux._model.routine import Routine
from routilux._serde import registry as global_registry
from routilux._serde._paths import PATH_FORM, is_valid_name
from routilux.exceptions import DefinitionError, SerializationError

__all__ = [
    "DENIED_MODULES",
    "allowed_imports",
    "check_class_ref",
    "check_path",
    "exception_path",
    "function_path",
    "import_object",
    "reference_path",
    "resolve_exception",
    "resolve_function",
    "resolve_reference",
    "resolve_routine_class",
    "routine_class_ref",
]

_MISSING: Any = object()

#: Modules that a config reference may not name (nor may it name a function or
#: class these modules define, under any path). Each entry covers its
#: submodules too (``"os"`` covers ``os.path``). They run commands, load or
#: compile code, or touch files, processes, threads or the network; a routine
#: that calls the function or class its config names would do that with the
#: data of a message. Exception classes are allowed (``builtins:ValueError``
#: as a ``retry_on`` class): a document may already name any of them as a
#: retryable exception, and creating one does none of that. Documented (and
#: checked to be documented) in docs/serialization.md.
DENIED_MODULES = frozenset(
    {
        # The interpreter, and ways to load, compile or run code.
        *("builtins", "sys", "importlib", "pkgutil", "runpy", "zipimport", "types"),
        *("code", "codeop", "inspect", "gc", "ctypes", "_ctypes", "marshal", "pickle"),
        *("_pickle", "shelve", "copyreg", "pdb", "bdb", "operator", "functools"),
        *("logging.config", "pydoc", "atexit", "routilux._serde"),
        # Processes, signals, threads (and os.path, under its real names).
        *("os", "posix", "nt", "posixpath", "ntpath", "genericpath", "subprocess"),
        *("_posixsubprocess", "multiprocessing", "concurrent", "threading", "_thread"),
        *("signal", "pty", "asyncio", "resource", "platform", "_winapi"),
        # Files and the network.
        *("io", "_io", "shutil", "tempfile", "socket", "_socket", "ssl", "select"),
        *("selectors", "mmap", "fcntl", "http", "urllib", "ftplib", "smtplib"),
        *("socketserver", "xmlrpc", "webbrowser"),
    }
)

_DENIED_FIX = (
    "a flow document may not reference a function or class of a module on the deny-list "
    "(builtins, os, sys, subprocess, importlib, shutil, socket and others; see "
    "docs/serialization.md), exception classes excepted"
)
_REFERENCE_FIX = (
    "a routine's config may hold only functions and classes defined at module level in an "
    "importable module"
)
# type's own __module__ getter: it reads the class's namespace without running
# a metaclass __getattribute__ or descriptor.
_TYPE_MODULE: Any = type.__dict__["__module__"]


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
    elif not is_valid_name(path, path_only=True):
        reason = f"has the import path {path!r}, which is not {PATH_FORM}"
    elif module == "__main__" and _lookup(sys.modules.get(module), qualname) is not obj:
        reason = "is of __main__ but not found at the top level of the running script"
    elif _lookup(sys.modules.get(module), qualname) is not obj:
        reason = f"is not found again at its import path {path!r}"
    else:
        return path
    raise SerializationError(f"Cannot serialize {where}: {what} {reason}; {fix}.")


def reference_path(obj: object, where: str) -> str:
    """The import path a flow document writes for a function or class in a routine's config.

    Raises:
        SerializationError: ``obj`` is a lambda, a nested function, a method,
            a builtin or another callable that is not a module-level function;
            or a class or function with no import path (defined in a function
            or in ``__main__``); or of a module on :data:`DENIED_MODULES`.
            The message names ``where`` and the fix.
    """
    module: object = None
    if isinstance(obj, type):
        module = _TYPE_MODULE.__get__(obj)
    elif isinstance(obj, (FunctionType, BuiltinFunctionType)):
        module = obj.__module__
    if isinstance(module, str) and _is_denied(module) and not _is_exception_class(obj):
        name = getattr(obj, "__qualname__", "?")
        raise SerializationError(
            f"Cannot serialize {where}: {name} is of the module {module!r}; {_DENIED_FIX}; "
            "call it from a module-level function of your own module instead."
        )
    if isinstance(obj, type):
        what = f"the class {obj.__qualname__}"
        return _importable_path(obj, what, where, _REFERENCE_FIX)
    return function_path(obj, "callable", where, _REFERENCE_FIX)


def _is_denied(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:n]) in DENIED_MODULES for n in range(1, len(parts) + 1))


def _is_exception_class(obj: object) -> bool:
    # Both checks only walk MROs of real types: neither calls a metaclass hook
    # (isinstance(obj, type) could read obj.__class__ through __getattribute__).
    return issubclass(type(obj), type) and issubclass(cast("type", obj), BaseException)


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


def resolve_reference(path: object, where: str) -> object:
    """The module-level function or class that a config reference names.

    Only the module ``path`` names is imported (see the module docstring);
    a module on :data:`DENIED_MODULES` is never imported, and only an
    exception class may be taken from one. What is found is checked with
    ``type()``, so nothing it defines runs: no call, no metaclass hook.

    Raises:
        SerializationError: ``path`` is not a valid import path, cannot be
            resolved, is on the deny-list, or names something that is not a
            module-level function or a class.
    """
    checked = check_path(path, where)
    module_name, _, qualname = checked.partition(":")
    if _is_denied(module_name):
        module = sys.modules.get(module_name)
        if module is None:  # Never imported for a document.
            raise _denied(where, checked, module_name, ", which is not imported")
        found = _lookup(module, qualname)
        if not _is_exception_class(found):
            raise _denied(where, checked, module_name)
        return found
    found = import_object(checked, where)
    # The module that defines what was found: a re-export (``from os import
    # system``) must not get around the deny-list.
    own_module: object = None
    if issubclass(type(found), type):
        own_module = _TYPE_MODULE.__get__(found)
    elif type(found) in (FunctionType, BuiltinFunctionType):
        own_module = found.__module__
    if isinstance(own_module, str) and _is_denied(own_module) and not _is_exception_class(found):
        raise _denied(where, checked, own_module)
    if type(found) is FunctionType:
        problem = _function_problem(found)
        if problem is not None:
            raise SerializationError(
                f"Flow document: {where} names {checked!r}, which is {problem}; a config "
                "reference must name a module-level function or a class."
            )
    elif not issubclass(type(found), type):
        raise SerializationError(
            f"Flow document: {where} names {checked!r}, which is a "
            f"{type(found).__name__}, not a module-level function or a class."
        )
    return found


def _denied(where: str, path: str, module: str, note: str = "") -> SerializationError:
    return SerializationError(
        f"Flow document: {where} names {path!r}, of the module {module!r}{note}; {_DENIED_FIX}."
    )


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


#: The module prefixes a load may import, if limited (see :func:`allowed_imports`).
_ALLOWED: ContextVar[tuple[str, ...] | None] = ContextVar("routilux_allowed_modules", default=None)


@contextmanager
def allowed_imports(prefixes: Iterable[str] | None) -> Iterator[None]:
    """Within the block, import only modules under ``prefixes`` for a document.

    ``None`` keeps the usual rules (the deny-list of config references, no
    standard-library import). Modules already imported, and the running
    script (``__main__``), are looked up as usual: nothing of theirs runs.

    Raises:
        DefinitionError: ``prefixes`` is a string, or holds something that is
            not a dotted module name.
    """
    token = _ALLOWED.set(None if prefixes is None else _check_prefixes(prefixes))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def _check_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    given = None if isinstance(prefixes, str) else list(prefixes)
    if given is None or not all(
        isinstance(p, str) and is_valid_name(p) and ":" not in p for p in given
    ):
        raise DefinitionError(
            "allowed_modules must be a list of module names or prefixes (['myapp', "
            f"'myapp.routines']), not {prefixes!r}."
        )
    return tuple(given)


def _import(module_name: str, path: str, where: str) -> ModuleType:
    if module_name == "__main__":
        return _running_script(path, where)
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    allowed = _ALLOWED.get()
    if allowed is not None and not any(
        module_name == prefix or module_name.startswith(prefix + ".") for prefix in allowed
    ):
        raise SerializationError(
            f"Flow document: {where} names {path!r}, of the module {module_name!r}, which is "
            f"not among the allowed modules ({', '.join(allowed)}); nothing was imported."
        )
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


def _running_script(path: str, where: str) -> ModuleType:
    main = sys.modules.get("__main__")
    if main is None:  # pragma: no cover - the interpreter always has one
        raise SerializationError(f"Flow document: {where} names {path!r}, but no script runs.")
    if _lookup(main, path.partition(":")[2]) is _MISSING:
        raise SerializationError(
            f"Flow document: {where} names {path!r}, of the script that wrote the document, "
            "which this program does not define: a class or function of a script loads back "
            "only in that script. Move it into a module, or register it "
            "(routilux.register_routine, or registry=)."
        )
    return main


def _lookup(root: object, qualname: str) -> Any:
    found = root
    for name in qualname.split("."):
        if not isinstance(found, (ModuleType, type)):
            return _MISSING
        found = vars(found).get(name, _MISSING)
        if found is _MISSING:
            return _MISSING
    return found
