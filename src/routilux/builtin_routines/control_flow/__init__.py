"""Routines that decide where a message goes.

The package path of the published routilux, kept so that its imports work.
"""

from routilux.builtin_routines.control_flow.conditional_router import ConditionalRouter

__all__ = ["ConditionalRouter"]
