"""Event hooks under the concurrent strategy: exact counts, one call at a time per job."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from routilux import Flow, JobStatus, Routine
from routilux.hooks import DeliveryEvent, EmitEvent, Hooks, JobEvent

PATIENCE = 10.0
MESSAGES = 400


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.go)
        self.define_event("out", ["i"])

    def go(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Relay(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)
        self.define_event("out", ["i"])

    def go(self, i: int) -> None:
        self.emit("out", i=i)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.go)

    def go(self, i: int) -> None:
        pass


class Counting(Hooks):
    """Counts events with no lock of its own: the engine never calls it twice at once per job."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.inside = 0
        self.overlaps = 0
        self.ended = threading.Event()

    def _count(self, name: str) -> None:
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        self.counts[name] += 1
        self.inside -= 1

    def job_started(self, event: JobEvent) -> None:
        self._count("job_started")

    def job_ended(self, event: JobEvent) -> None:
        self._count("job_ended")
        self.ended.set()

    def delivery_started(self, event: DeliveryEvent) -> None:
        self._count("delivery_started")

    def delivery_succeeded(self, event: DeliveryEvent) -> None:
        self._count("delivery_succeeded")

    def emitted(self, event: EmitEvent) -> None:
        self._count("emitted")


def test_counts_are_exact_under_the_concurrent_strategy(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(execution_strategy="concurrent", max_workers=8)
    flow.add_routine(Source(), "source")
    for name in ("r1", "r2"):
        flow.add_routine(Relay(), name)
        flow.connect("source", "out", name, "input")
    flow.add_routine(Sink(), "sink")
    flow.connect("r1", "out", "sink", "input")
    flow.connect("r2", "out", "sink", "input")
    hooks = Counting()
    flow.add_hooks(hooks)
    job = flow.execute("source", {"n": MESSAGES})
    assert job.status is JobStatus.COMPLETED
    assert hooks.ended.wait(PATIENCE)
    deliveries = 1 + 2 * MESSAGES + 2 * MESSAGES
    assert hooks.counts == Counter(
        job_started=1,
        job_ended=1,
        delivery_started=deliveries,
        delivery_succeeded=deliveries,
        emitted=MESSAGES + 2 * MESSAGES,
    )
    assert hooks.overlaps == 0
