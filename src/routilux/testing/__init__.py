"""Helpers for testing flows: a fake clock so tests never sleep."""

from routilux.testing.fake_clock import FakeClock

__all__ = ["FakeClock"]
