"""Batcher: group the messages of a job into batches by size and by waiting time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NoReturn

from routilux import DefinitionError, ExecutionError, Routine
from routilux.builtin_routines._collection import open_size

__all__ = ["Batcher"]

#: The slot the batcher's own timer delivers to.
TIMER_SLOT = "tick"
#: The name of the batcher's ``max_wait`` timer (see :meth:`Routine.set_timer`).
TIMER = "max_wait"


class Batcher(Routine):
    """Group messages, per job, into batches of ``batch_size`` and/or by ``max_wait``.

    Each message slot ``input`` receives adds one item to the job's open
    batch: its ``data`` (or, without a ``data`` key, the whole message).
    The batch is emitted when it holds ``batch_size`` items, or
    ``max_wait`` seconds after its first item arrived, whichever comes
    first; when the job has nothing left to run, what remains is emitted
    too, so no item is ever left behind. Each job has its own batch, kept
    in the job's values (so a durable job keeps it across a resume).

    Slots:
        input: Adds an item to the open batch.
        tick: The batcher's own ``max_wait`` timer; do not connect it. It
            is a named timer, cancelled as soon as its batch is emitted, so
            a batch that fills up does not keep the job running.

    Events:
        batch: ``items`` (the batch, in arrival order), ``size`` (how many)
            and ``reason``: ``"size"`` (it is full), ``"max_wait"`` (its
            first item waited ``max_wait`` seconds) or ``"drain"`` (the job
            had nothing else to run).

    Config keys:
        batch_size: The number of items of a full batch (an int of at least
            1), or ``None`` (default) for batches limited by time only.
        max_wait: Seconds, on the flow's clock, from the first item of a
            batch to its emission (a positive number), or ``None`` (default)
            for batches limited by size only. At least one of ``batch_size``
            and ``max_wait`` must be set before a job starts.

    Raises:
        DefinitionError: From ``set_config``, for a bad value (naming the
            key, the value and what is expected); before a job starts, when
            neither key is set or the routine may run more than one delivery
            at a time.
    """

    config_keys = ("batch_size", "max_wait")

    def __init__(self) -> None:
        super().__init__()
        # Each job's open batch is read, then written, by every delivery.
        self.set_max_concurrency(1)
        self.define_slot("input", handler=self.add)
        self.define_slot(TIMER_SLOT, handler=self.tick)
        self.define_event("batch", ["items", "size", "reason"])
        self.set_config(batch_size=None, max_wait=None)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check ``batch_size`` and ``max_wait``; see the class docstring."""
        size = config.get("batch_size")
        if size is not None and (not _is_int(size) or size < 1):
            _refuse("batch_size", size, "an int of at least 1, or None")
        wait = config.get("max_wait")
        if wait is not None and not _is_positive(wait):
            _refuse("max_wait", wait, "a positive number of seconds, or None")

    def check_definition(self) -> None:
        """Check a batch can end, and deliveries run one at a time."""
        if self.get_config("batch_size") is None and self.get_config("max_wait") is None:
            raise DefinitionError(
                "Batcher needs batch_size, max_wait or both; "
                "set them with set_config(batch_size=..., max_wait=...)."
            )
        if self.get_max_concurrency() != 1:
            raise DefinitionError(
                "Batcher keeps each job's open batch between deliveries, so it must run one "
                f"delivery at a time; set_max_concurrency(1), not {self.get_max_concurrency()!r}."
            )

    def add(self, **message: Any) -> None:
        """Add the message's item to the open batch; emit the batch once it is full."""
        item = message.get("data", message)
        # Appended, not set again: a durable job stores the item alone, so a
        # batch of n items costs n rows, not n lists of up to n items.
        count = open_size(self)
        self.append_job_value("items", item)
        count += 1
        self.set_job_value("size", count)
        size = self.get_config("batch_size")
        wait = self.get_config("max_wait")
        if size is not None and count >= size:
            self._flush("size")
        elif count == 1 and wait is not None:
            # The first item of a batch that stays open starts its max_wait timer.
            # Never set it in a handler that also cancels it (a full batch): the
            # engine still schedules a timer set and cancelled in one handler.
            self.set_timer(TIMER, wait, TIMER_SLOT, token=self.get_job_value("token", 0))

    def tick(self, token: int) -> None:
        """The ``max_wait`` timer of a batch fired: emit it unless it was emitted already."""
        if not _is_int(token):
            raise ExecutionError(
                f"Batcher slot {TIMER_SLOT!r} is its own timer; it takes the int token the "
                f"batcher scheduled, not {token!r}. Do not connect it."
            )
        # The timer is cancelled when its batch is emitted, but one that was
        # already firing may still arrive: its token then names an older batch.
        if token == self.get_job_value("token", 0) and self.get_job_value("items"):
            self._flush("max_wait")

    def on_drain(self) -> None:
        """The job is idle: emit the remainder, if any."""
        if self.get_job_value("items"):
            self._flush("drain")

    def _flush(self, reason: str) -> None:
        items = self.get_job_value("items") or []
        self.emit("batch", items=items, size=len(items), reason=reason)
        self.set_job_value("items", [])
        self.set_job_value("size", 0)
        # The batch is out: its timer, if still pending, must not keep the job
        # running; the new token makes it harmless if it fires all the same.
        self.cancel_timer(TIMER)
        self.set_job_value("token", self.get_job_value("token", 0) + 1)


def _refuse(key: str, value: Any, expected: str) -> NoReturn:
    raise DefinitionError(f"Batcher {key} must be {expected}, not {value!r}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value > 0
