"""A method callable on the class and on an instance: ``Flow.deserialize``, ``flow.deserialize``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, Generic, ParamSpec, TypeVar

__all__ = ["ClassOrInstanceMethod"]

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


class ClassOrInstanceMethod(Generic[T, P, R]):
    """Call ``func(cls, instance, ...)``: ``instance`` is ``None`` when called on the class.

    Args:
        func: Takes the class, then the instance or ``None``, then the call's arguments.
    """

    def __init__(self, func: Callable[Concatenate[type[T], T | None, P], R]) -> None:
        self._func = func
        self.__doc__ = func.__doc__

    def __get__(self, instance: T | None, owner: type[T]) -> Callable[P, R]:
        func = self._func

        def bound(*args: P.args, **kwargs: P.kwargs) -> R:
            return func(owner, instance, *args, **kwargs)

        bound.__doc__ = func.__doc__
        bound.__name__ = bound.__qualname__ = getattr(func, "__name__", "method")
        return bound

    def __repr__(self) -> str:
        return f"<ClassOrInstanceMethod {getattr(self._func, '__name__', '?')}>"
