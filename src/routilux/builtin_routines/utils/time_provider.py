"""The published module path of :class:`~routilux.builtin_routines.TimeProvider`."""

from routilux.builtin_routines.time_provider import TimeProvider

__all__ = ["TimeProvider"]
