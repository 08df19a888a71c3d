"""Routines that provide the current time and flatten data.

The package path of the published routilux, kept so that its imports work.
"""

from routilux.builtin_routines.utils.data_flattener import DataFlattener
from routilux.builtin_routines.utils.time_provider import TimeProvider

__all__ = ["DataFlattener", "TimeProvider"]
