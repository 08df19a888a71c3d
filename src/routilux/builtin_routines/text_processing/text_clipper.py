"""The published module path of :class:`~routilux.builtin_routines.TextClipper`."""

from routilux.builtin_routines.text_clipper import TextClipper

__all__ = ["TextClipper"]
