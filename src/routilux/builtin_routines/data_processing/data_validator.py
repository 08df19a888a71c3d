"""The published module path of :class:`~routilux.builtin_routines.DataValidator`."""

from routilux.builtin_routines.data_validator import DataValidator

__all__ = ["DataValidator"]
