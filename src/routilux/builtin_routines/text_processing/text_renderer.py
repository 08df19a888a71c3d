"""The published module path of :class:`~routilux.builtin_routines.TextRenderer`."""

from routilux.builtin_routines.text_renderer import TextRenderer

__all__ = ["TextRenderer"]
