"""Compatibility path: ``from routilux.flow import Flow``."""

from routilux._flow import Flow

__all__ = ["Flow"]
