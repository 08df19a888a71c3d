"""Routines that transform and validate data.

The package path of the published routilux, kept so that its imports work.
"""

from routilux.builtin_routines.data_processing.data_transformer import DataTransformer
from routilux.builtin_routines.data_processing.data_validator import DataValidator

__all__ = ["DataTransformer", "DataValidator"]
