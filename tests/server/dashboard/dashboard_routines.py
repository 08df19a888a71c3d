"""Routines and flows of the dashboard tests (served next to the demo flow).

- ``breaks``: ``items`` -> ``boom``, which always raises (STOP): the job fails
  and ``boom`` is the failed routine.
- ``letters``: ``items`` -> ``picky`` (SKIP), which fails in the job that
  ``items`` started and succeeds in a replay: the job keeps a dead letter per
  item, and replaying one succeeds.
- ``slow``: ``items`` -> ``sleeper``, 600 items of 50 ms each (30 s): running
  long enough to be cancelled from the page.
"""

from __future__ import annotations

import time

from routilux import ErrorStrategy, Flow, Routine


class Items(Routine):
    """Emits ``count`` items (config, default 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("item", ["item"])

    def send(self, count: int | None = None) -> None:
        total = int(self.get_config("count", 3)) if count is None else count
        self.get_execution_context().job_state.update_shared_data("from_items", True)
        for item in range(total):
            self.emit("item", item=item)


class Boom(Routine):
    """Raises on every delivery."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.explode)

    def explode(self, item: int) -> None:
        raise RuntimeError(f"item {item}: the boom routine always fails")


class Picky(Routine):
    """Fails on the deliveries of a job started at ``items``; succeeds in a replay.

    ``items`` marks its job (shared data ``from_items``); the job that
    replays a dead letter starts at ``picky`` and has no such mark.
    """

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, item: int) -> None:
        if self.get_execution_context().job_state.get_shared_data("from_items"):
            raise ValueError(f"item {item}: refused in the job that sent it")


class Sleeper(Routine):
    """Takes ``seconds`` (config) per item."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, item: int) -> None:
        time.sleep(float(self.get_config("seconds", 0.05)))


def _two_step(flow_id: str, second: Routine, count: int) -> Flow:
    flow = Flow(flow_id=flow_id)
    items = Items()
    items.set_config(count=count)
    flow.add_routine(items, "items")
    flow.add_routine(second, type(second).__name__.lower())
    flow.connect("items", "item", type(second).__name__.lower(), "input")
    return flow


def breaks() -> Flow:
    """A flow whose second routine fails (and the job with it)."""
    return _two_step("breaks", Boom(), 1)


def letters() -> Flow:
    """A flow that keeps its failed deliveries as dead letters (SKIP)."""
    picky = Picky()
    picky.set_as_optional(ErrorStrategy.SKIP)
    return _two_step("letters", picky, 2)


def slow() -> Flow:
    """A flow that runs for about 30 s (unless cancelled)."""
    return _two_step("slow", Sleeper(), 600)
