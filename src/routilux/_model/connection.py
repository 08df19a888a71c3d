"""Connections: an event of one routine wired to a slot of another."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from routilux.exceptions import DefinitionError

__all__ = ["Connection"]


@dataclass(frozen=True, slots=True)
class Connection:
    """An event of the source routine wired to a slot of the target routine.

    Attributes:
        source_id: The id of the emitting routine in the flow.
        event: The name of the source's event.
        target_id: The id of the receiving routine in the flow.
        slot: The name of the target's slot.
        param_mapping: Renames message keys on this connection,
            ``{"source_key": "target_key"}``; the source key is not passed on.
    """

    source_id: str
    event: str
    target_id: str
    slot: str
    param_mapping: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        mapping = self.param_mapping
        if mapping is None:
            return
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise DefinitionError(
                f"The param_mapping of {self.describe()} must map key names to key names "
                f"(str -> str), not {mapping!r}."
            )
        targets = list(mapping.values())
        if len(set(targets)) != len(targets):
            raise DefinitionError(
                f"The param_mapping of {self.describe()} maps two keys to one name: {mapping!r}."
            )
        object.__setattr__(self, "param_mapping", MappingProxyType(dict(mapping)) or None)

    def describe(self) -> str:
        """The connection as ``'source.event -> target.slot'``."""
        return f"'{self.source_id}.{self.event} -> {self.target_id}.{self.slot}'"

    def __hash__(self) -> int:
        return hash((self.source_id, self.event, self.target_id, self.slot))
