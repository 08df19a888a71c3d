"""Compatibility path: ``from routilux.connection import Connection``."""

from routilux._model.connection import Connection

__all__ = ["Connection"]
