"""Aggregator: collect the messages of a job and emit them together once complete."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, NoReturn

from routilux import DefinitionError, ExecutionError, Routine
from routilux.builtin_routines._collection import open_size

__all__ = ["Aggregator"]

logger = logging.getLogger("routilux")

#: The values of the ``complete_on`` config key.
MODES = ("count", "all_sources", "any", "timeout")
#: The slot the aggregator's own timer delivers to.
TIMER_SLOT = "tick"
#: The name of the aggregator's ``timeout`` timer (see :meth:`Routine.set_timer`).
TIMER = "timeout"
# The config key each mode cannot run without.
_NEEDS = {"count": "count", "all_sources": "sources", "timeout": "timeout"}


class Aggregator(Routine):
    """Collect messages, per job, and emit the collection once it is complete.

    Each message a collecting slot receives adds one item: its ``data``
    (or, without a ``data`` key, the whole message). When the collection
    is complete, the aggregator emits it and starts a new, empty one. Each
    job has its own collection, kept in the job's values (so a durable job
    keeps it across a resume); jobs that run at the same time never mix.

    Slots:
        input: Collects messages (the default of ``slots``).
        <each name in slots>: Collects messages, into the same collection.
        tick: The aggregator's own timer (``timeout``); do not connect it.
            It is a named timer, cancelled as soon as its collection is
            emitted, so a collection that completes early does not keep the
            job running.

    Events:
        output: ``items`` (the collected items, in arrival order), ``count``
            (how many) and ``reason``: ``"count"``, ``"all_sources"``,
            ``"any"``, ``"timeout"`` or ``"drain"``.

    Config keys:
        slots: Names of the slots that collect (default ``["input"]``). A
            slot is defined when the config first names it and stays defined
            (a routine cannot drop a slot), so the rebuilt routine of a flow
            document has the same slots.
        complete_on: When a collection is complete:
            ``"count"`` (default) once it holds ``count`` items;
            ``"all_sources"`` once a message has come from each of
            ``sources``; ``"any"`` at every message (a collection of one);
            ``"timeout"`` when ``timeout`` seconds have passed since its
            first item.
        count: The number of items for ``"count"`` (an int of at least 1).
        sources: The source names ``"all_sources"`` waits for (distinct
            strings). A message's source is the value of its ``source_key``
            key, or of that key of its ``data`` when the message has none.
        source_key: The key that holds a message's source (default
            ``"source"``).
        timeout: Seconds, on the flow's clock, from the first item of a
            collection: with ``"timeout"``, when it is emitted; with
            ``"count"`` or ``"all_sources"``, the most it waits before
            emitting what it has, with reason ``"timeout"``.
        flush_on_drain: When the job has nothing left to run and a
            collection is incomplete, emit it with reason ``"drain"``
            (default ``True``); with ``False``, it is not emitted, stays in
            the job's values and a warning is logged.

    Raises:
        DefinitionError: From ``set_config``, for a bad config value (naming
            the key, the value and what is expected); before a job starts,
            when ``complete_on`` lacks the key it needs or the routine may
            run more than one delivery at a time.
    """

    config_keys = (
        "slots",
        "complete_on",
        "count",
        "sources",
        "source_key",
        "timeout",
        "flush_on_drain",
    )

    def __init__(self) -> None:
        super().__init__()
        # Each job's collection is read, then written, by every delivery.
        self.set_max_concurrency(1)
        self.define_event("output", ["items", "count", "reason"])
        self.set_config(
            slots=["input"],
            complete_on="count",
            count=None,
            sources=None,
            source_key="source",
            timeout=None,
            flush_on_drain=True,
        )
        self.define_slot(TIMER_SLOT, handler=self.tick)

    def set_config(self, **config: Any) -> None:
        """Set config keys (see the class docstring) and define any new collecting slot.

        Raises:
            DefinitionError: :meth:`validate_config` refused the new config.
        """
        super().set_config(**config)
        for name in self.get_config("slots"):
            if name not in self.slots:
                self.define_slot(name, handler=self.collect)

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Check every config key; see the class docstring for what each accepts."""
        self._check_slots(config.get("slots"))
        mode = config.get("complete_on")
        if mode not in MODES:
            _refuse("complete_on", mode, "one of " + ", ".join(repr(m) for m in MODES))
        count = config.get("count")
        if count is not None and (not _is_int(count) or count < 1):
            _refuse("count", count, "an int of at least 1, or None")
        _check_sources(config.get("sources"))
        key = config.get("source_key")
        if not isinstance(key, str) or not key:
            _refuse("source_key", key, "a non-empty string")
        timeout = config.get("timeout")
        if timeout is not None and not _is_positive(timeout):
            _refuse("timeout", timeout, "a positive number of seconds, or None")
        if mode == "any" and timeout is not None:
            _refuse("timeout", timeout, "None with complete_on='any', which never waits")
        if not isinstance(config.get("flush_on_drain"), bool):
            _refuse("flush_on_drain", config.get("flush_on_drain"), "True or False")

    def _check_slots(self, slots: Any) -> None:
        expected = "a non-empty list of distinct slot names"
        if isinstance(slots, (str, bytes)) or not isinstance(slots, (list, tuple)) or not slots:
            _refuse("slots", slots, expected)
        if not all(isinstance(n, str) and n for n in slots) or len(set(slots)) != len(slots):
            _refuse("slots", slots, expected)
        for name in slots:
            slot = self.slots.get(name)
            if slot is not None and slot.handler != self.collect:
                _refuse("slots", slots, f"names of collecting slots; {name!r} is taken")

    def check_definition(self) -> None:
        """Check the mode has the key it needs and deliveries run one at a time."""
        mode = self.get_config("complete_on")
        needed = _NEEDS.get(mode)
        if needed is not None and self.get_config(needed) is None:
            raise DefinitionError(
                f"Aggregator complete_on={mode!r} needs {needed}; "
                f"set it with set_config({needed}=...)."
            )
        if self.get_max_concurrency() != 1:
            raise DefinitionError(
                "Aggregator keeps each job's collection between deliveries, so it must run "
                f"one delivery at a time; set_max_concurrency(1), not "
                f"{self.get_max_concurrency()!r}."
            )

    def collect(self, **message: Any) -> None:
        """Add the message's item to the job's collection; emit the collection once complete."""
        item = message.get("data", message)
        mode = self.get_config("complete_on")
        if mode == "any":
            self.emit("output", items=[item], count=1, reason="any")
            return
        source = self._source_of(message, item) if mode == "all_sources" else None
        # Appended, not set again: a durable job stores the item alone, so a
        # collection of n items costs n rows, not n lists of up to n items.
        size = open_size(self)
        self.append_job_value("items", item)
        size += 1
        self.set_job_value("size", size)
        complete = None
        if mode == "count" and size >= self.get_config("count"):
            complete = "count"
        elif mode == "all_sources":
            seen: list[Any] = self.get_job_value("seen") or []
            if source not in seen:
                seen = [*seen, source]
                self.set_job_value("seen", seen)
            if len(seen) >= len(self.get_config("sources")):
                complete = "all_sources"
        timeout = self.get_config("timeout")
        if complete is not None:
            self._flush(complete)
        elif size == 1 and timeout is not None:
            # The first item of a collection that stays open starts its timeout timer.
            # Never set it in a handler that also cancels it (a full collection): the
            # engine still schedules a timer set and cancelled in one handler.
            self.set_timer(TIMER, timeout, TIMER_SLOT, token=self.get_job_value("token", 0))

    def tick(self, token: int) -> None:
        """The timer of a collection fired: emit it unless it was emitted already."""
        if not _is_int(token):
            raise ExecutionError(
                f"Aggregator slot {TIMER_SLOT!r} is its own timer; it takes the int token the "
                f"aggregator scheduled, not {token!r}. Do not connect it."
            )
        # The timer is cancelled when its collection is emitted, but one that was
        # already firing may still arrive: its token then names an older collection.
        if token == self.get_job_value("token", 0) and self.get_job_value("items"):
            self._flush("timeout")

    def on_drain(self) -> None:
        """The job is idle: emit an incomplete collection (or, if configured, keep it)."""
        items = self.get_job_value("items")
        if not items:
            return
        if self.get_config("flush_on_drain"):
            self._flush("drain")
            return
        logger.warning(
            "Aggregator %r: the job is idle with %d collected item(s) that are not emitted "
            "(flush_on_drain=False); they stay in the job's values.",
            self._routine_id(),
            len(items),
        )

    def _flush(self, reason: str) -> None:
        items = self.get_job_value("items") or []
        self.emit("output", items=items, count=len(items), reason=reason)
        self.set_job_value("items", [])
        self.set_job_value("size", 0)
        self.set_job_value("seen", [])
        # The collection is out: its timer, if still pending, must not keep the
        # job running; the new token makes it harmless if it fires all the same.
        self.cancel_timer(TIMER)
        self.set_job_value("token", self.get_job_value("token", 0) + 1)

    def _source_of(self, message: Mapping[str, Any], item: Any) -> Any:
        key = self.get_config("source_key")
        if key in message:
            source = message[key]
        elif isinstance(item, Mapping) and key in item:
            source = item[key]
        else:
            keys = ", ".join(repr(k) for k in message) or "none"
            raise ExecutionError(
                f"Aggregator {self._routine_id()!r} waits for all sources, so each message "
                f"must name its source under {key!r} (in the message or in its data); "
                f"the message has keys: {keys}."
            )
        sources = self.get_config("sources") or []
        if source not in sources:
            listed = ", ".join(repr(s) for s in sources) or "none"
            raise ExecutionError(
                f"Aggregator {self._routine_id()!r} received a message from source "
                f"{source!r}, which is not one of its sources: {listed}."
            )
        return source

    def _routine_id(self) -> str:
        context = self.get_execution_context()
        return type(self).__name__ if context is None else context.routine_id


def _refuse(key: str, value: Any, expected: str) -> NoReturn:
    raise DefinitionError(f"Aggregator {key} must be {expected}, not {value!r}.")


def _check_sources(sources: Any) -> None:
    if sources is None:
        return
    expected = "a non-empty list of distinct source names (strings), or None"
    if isinstance(sources, (str, bytes)) or not isinstance(sources, (list, tuple)) or not sources:
        _refuse("sources", sources, expected)
    if not all(isinstance(s, str) and s for s in sources) or len(set(sources)) != len(sources):
        _refuse("sources", sources, expected)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive(value: Any) -> bool:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and value > 0
