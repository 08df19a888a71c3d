"""The built-ins that keep a job's state between deliveries run one delivery at a time."""

from __future__ import annotations

import pytest

from routilux import Flow, Routine
from routilux.builtin_routines import Aggregator, Batcher, Debouncer

STATEFUL = [Aggregator, Batcher, Debouncer]


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["data"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", data=i)


@pytest.mark.parametrize("cls", STATEFUL)
def test_a_stateful_built_in_sets_one_delivery_at_a_time_itself(cls: type[Routine]) -> None:
    # Routines overlap by default in the concurrent strategy; these must not.
    assert Routine().get_max_concurrency() is None
    assert cls().get_max_concurrency() == 1


def test_stateful_built_ins_with_their_defaults_run_in_a_concurrent_flow() -> None:
    aggregator, batcher = Aggregator(), Batcher()
    aggregator.set_config(count=50)
    batcher.set_config(batch_size=10)
    with Flow(execution_strategy="concurrent", max_workers=8) as flow:
        flow.add_routine(Source(), "source")
        flow.add_routine(aggregator, "aggregator")
        flow.add_routine(batcher, "batcher")
        flow.connect("source", "out", "aggregator", "input")
        flow.connect("source", "out", "batcher", "input")
        job = flow.execute("source", {"n": 50})
    assert job.status == "completed", job.error
    emitted = [
        (r.routine_id, r.data["count"] if "count" in r.data else r.data["size"])
        for r in job.execution_history
        if r.routine_id != "source"
    ]
    assert sorted(emitted) == [("aggregator", 50)] + [("batcher", 10)] * 5
