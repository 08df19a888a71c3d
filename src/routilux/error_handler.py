"""Compatibility path: ``from routilux.error_handler import ErrorHandler, ErrorStrategy``."""

from routilux._model.error_policy import ErrorHandler, ErrorStrategy

__all__ = ["ErrorHandler", "ErrorStrategy"]
