"""Event hooks: observe what the engine does with jobs and their deliveries.

Subclass :class:`Hooks`, override the methods of the events you want, and
register an instance with ``flow.add_hooks(hooks)`` (one flow) or
:func:`add_global_hooks` (every flow of the process). See
``docs/observability.md``. A :class:`Tracer` is hooks that also run around
each delivery attempt, on the handler's thread (``routilux.otel`` is one).
"""

from __future__ import annotations

from routilux._engine.hooks import add_global_hooks, remove_global_hooks
from routilux._model.hooks import Carrier, DeliveryEvent, EmitEvent, Hooks, JobEvent, Tracer

__all__ = [
    "Carrier",
    "DeliveryEvent",
    "EmitEvent",
    "Hooks",
    "JobEvent",
    "Tracer",
    "add_global_hooks",
    "remove_global_hooks",
]
