"""The strategies a job may run under, by name."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from routilux._engine.concurrent import ConcurrentStrategy
from routilux._engine.ray_strategy import RayStrategy
from routilux._engine.sequential import SequentialStrategy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from routilux._engine.services import EngineServices
    from routilux._engine.strategy import RunStrategy, StrategyFactory

__all__ = ["STRATEGY_NAMES", "make_strategy"]

#: Each strategy's factory, by the name ``Flow(execution_strategy=...)`` gives.
_FACTORIES: Mapping[str, StrategyFactory] = MappingProxyType(
    {"sequential": SequentialStrategy, "concurrent": ConcurrentStrategy, "ray": RayStrategy}
)

#: The names of the strategies, in the order the flow's errors list them.
STRATEGY_NAMES = tuple(_FACTORIES)


def make_strategy(name: str, services: EngineServices) -> RunStrategy:
    """The strategy named ``name`` for one engine (the name was validated by the flow)."""
    return _FACTORIES[name](services)
