"""Naming the cycle of a runaway job from the flow's connections."""

from __future__ import annotations

from routilux import Flow, Routine
from routilux._engine.runaway import cycle_through


class Relay(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.relay)
        self.define_event("out")
        self.define_event("side")

    def relay(self, **message: object) -> None:
        self.emit("out", **message)


def plan_of(*edges: str) -> Flow:
    """A flow of relays with the connections ``"a>b"`` (on ``out``) or ``"a~b"`` (on ``side``)."""
    flow = Flow()
    for edge in edges:
        source, target = edge.replace("~", ">").split(">")
        for rid in (source, target):
            if rid not in flow.routines:
                flow.add_routine(Relay(), rid)
        flow.connect(source, "side" if "~" in edge else "out", target, "input")
    return flow


def test_the_shortest_way_back_is_the_cycle() -> None:
    flow = plan_of("a>b", "b>c", "c>a", "b~d", "d>a", "c~e")
    assert cycle_through(flow._compiled(), "a", "b") == ["a", "b", "c", "a"]
    assert cycle_through(flow._compiled(), "c", "a") == ["c", "a", "b", "c"]


def test_a_cycle_of_two_and_of_one() -> None:
    flow = plan_of("a>b", "b>a")
    assert cycle_through(flow._compiled(), "b", "a") == ["b", "a", "b"]
    assert cycle_through(flow._compiled(), "a", "a") == ["a", "a"]


def test_no_way_back_is_no_cycle() -> None:
    flow = plan_of("a>b", "b>c", "c>b")
    assert cycle_through(flow._compiled(), "a", "b") == []
