"""Event hooks and execution tracking see the deliveries of the Ray strategy as any other."""

from __future__ import annotations

import pytest
from ray_routines import Sink, Source

from routilux import Flow
from routilux.hooks import DeliveryEvent, EmitEvent, Hooks

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.slow]


class Told(Hooks):
    """Notes what the hooks are told."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.succeeded: list[str] = []
        self.emits: list[str] = []

    def delivery_started(self, event: DeliveryEvent) -> None:
        self.started.append(event.routine_id)

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        self.succeeded.append(event.routine_id)

    def emitted(self, event: EmitEvent) -> None:
        self.emits.append(event.event_name)


def test_hooks_and_the_tracker_see_each_delivery_and_emit_made_on_ray() -> None:
    told = Told()
    flow = Flow(execution_strategy="ray", track_execution=True)
    flow.add_routine(Source(), "source")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "sink", "in")
    flow.add_hooks(told)
    try:
        job = flow.execute("source", {"n": 2})
    finally:
        flow.shutdown()
    assert job.status == "completed", job.error
    assert sorted(told.started) == sorted(told.succeeded) == ["sink", "sink", "source"]
    assert told.emits == ["out", "out"]
    tracker = job.execution_tracker
    assert tracker is not None
    performance = tracker.get_routine_performance("sink")
    assert performance is not None
    assert performance["total_executions"] == 2
