"""The published module path of :class:`~routilux.builtin_routines.ResultExtractor`."""

from routilux.builtin_routines.result_extractor import ResultExtractor

__all__ = ["ResultExtractor"]
