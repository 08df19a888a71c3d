"""Compatibility path: ``from routilux.event import Event``."""

from routilux._model.event import Event

__all__ = ["Event"]
