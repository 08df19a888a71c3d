"""The flows the service tests serve: importable, so their documents are stored with jobs."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, Routine

#: Set to let the routines of the "gated" flow go on (each waits for it, 30 s at most).
GATE = threading.Event()


class Source(Routine):
    """Emits ``n`` messages."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int = 3, **_: Any) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Step(Routine):
    """Takes a message; sleeps ``sleep`` seconds; fails on ``fail_on`` (for dead letters)."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.set_config(sleep=0.0, fail_on=-1, gated=False, say=False)

    def take(self, i: int) -> None:
        if self.get_config("say"):  # A logger without a level of its own: the root's decides.
            logging.getLogger("server_flows").info("took %d", i)
        if self.get_config("gated"):
            GATE.wait(30)  # Bounded: a test that forgets the gate still ends.
        time.sleep(float(self.get_config("sleep")))
        if i == self.get_config("fail_on"):
            raise ValueError(f"message {i} is bad")


def make_flow(
    flow_id: str = "numbers", *, sleep: float = 0.0, fail_on: int = -1, gated: bool = False
) -> Flow:
    """source -> step; ``step`` skips failures (each becomes a dead letter)."""
    flow = Flow(flow_id)
    flow.add_routine(Source(), "source")
    step = Step()
    step.set_config(sleep=sleep, fail_on=fail_on, gated=gated)
    step.set_error_handler(ErrorHandler(strategy=ErrorStrategy.SKIP))
    flow.add_routine(step, "step")
    flow.connect("source", "out", "step", "input")
    return flow


def numbers() -> Flow:
    """For ``--flow server_flows:numbers``."""
    return make_flow()


def talking() -> Flow:
    """For ``--flow server_flows:talking``: the step logs each message at INFO."""
    flow = make_flow("talking")
    flow.routines["step"].set_config(say=True)
    return flow


def slow() -> Flow:
    """For ``--flow server_flows:slow``: each message takes 50 ms."""
    return make_flow("slow", sleep=0.05)
