"""Ready-made routines. Each uses only the public API, so each is also an example."""

from routilux.builtin_routines.conditional_router import ConditionalRouter

__all__ = ["ConditionalRouter"]
