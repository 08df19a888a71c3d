"""The published module path of :class:`~routilux.builtin_routines.ConditionalRouter`."""

from routilux.builtin_routines.conditional_router import ConditionalRouter

__all__ = ["ConditionalRouter"]
