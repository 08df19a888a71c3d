"""The published module path of :class:`~routilux.builtin_routines.DataTransformer`."""

from routilux.builtin_routines.data_transformer import DataTransformer

__all__ = ["DataTransformer"]
