"""The published module path of :class:`~routilux.builtin_routines.DataFlattener`."""

from routilux.builtin_routines.data_flattener import DataFlattener

__all__ = ["DataFlattener"]
