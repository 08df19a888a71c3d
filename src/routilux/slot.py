"""Compatibility path: ``from routilux.slot import Slot``."""

from routilux._model.slot import Slot

__all__ = ["Slot"]
