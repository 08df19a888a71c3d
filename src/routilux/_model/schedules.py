"""Schedules: a flow's job submitted at every tick of a cron expression.

See ``routilux.schedules``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from routilux._model.queueing import check_queue_name
from routilux.exceptions import DefinitionError

__all__ = ["MAX_CATCH_UP", "MISSED_POLICIES", "Schedule"]

#: What a schedule does with the ticks that passed while no worker ran:
#: ``skip`` fires only the most recent of them; ``catch-up`` fires each.
MISSED_POLICIES = ("skip", "catch-up")
#: With ``catch-up``, at most this many missed ticks fire (the most recent ones).
MAX_CATCH_UP = 1000


@dataclass(frozen=True, slots=True)
class Schedule:
    """A flow's job submitted at every tick of ``cron`` (in UTC).

    Attributes:
        schedule_id: Its id.
        flow_id: The flow whose job it submits (a worker must know it).
        cron: A five-field cron expression, ``"*/5 * * * *"``.
        entry: The routine that starts each job (``None``: the flow's only
            one with a ``trigger`` slot).
        params: The data each job's entry gets.
        queue: The queue each job goes to.
        missed: ``skip`` or ``catch-up`` (see :data:`MISSED_POLICIES`).
        last_tick: The last tick fired or passed over, in seconds since
            the epoch (at first, when the schedule was added): only later
            ticks fire.
    """

    schedule_id: str
    flow_id: str
    cron: str
    entry: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    queue: str = "default"
    missed: str = "skip"
    last_tick: float = 0.0

    def __post_init__(self) -> None:
        for name in ("schedule_id", "flow_id", "cron"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise DefinitionError(
                    f"A schedule's {name} must be a non-empty string, not {value!r}."
                )
        if self.entry is not None and (not isinstance(self.entry, str) or not self.entry):
            raise DefinitionError(f"A schedule's entry must be a routine id, not {self.entry!r}.")
        if not isinstance(self.params, dict):
            raise DefinitionError(f"A schedule's params must be a dict, not {self.params!r}.")
        try:
            json.dumps(self.params, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DefinitionError(
                f"A schedule's params must be plain JSON values: {exc}."
            ) from None
        check_queue_name(self.queue)
        if self.missed not in MISSED_POLICIES:
            raise DefinitionError(
                f"missed must be one of {', '.join(MISSED_POLICIES)}, not {self.missed!r}."
            )
        if isinstance(self.last_tick, bool) or not isinstance(self.last_tick, (int, float)):
            raise DefinitionError(
                f"last_tick must be seconds since the epoch, not {self.last_tick!r}."
            )
