"""Stress: 100,000 deliveries per job through a fan-out/fan-in flow, twenty times over.

Every count must be exact and every job must end: a lost or repeated
delivery changes a count, and a deadlock fails the per-job ``wait``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from routilux import Flow, JobStatus, Routine

MESSAGES = 6_250
PROCESSORS = 8
ROUNDS = 20
WORKERS = 16
# The source's delivery, one per processor per message, one sink delivery each.
DELIVERIES = 1 + 2 * MESSAGES * PROCESSORS


class Source(Routine):
    """Emits ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Processor(Routine):
    """Passes each number on."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.process)
        self.define_event("out", ["i"])

    def process(self, i: int) -> None:
        self.emit("out", i=i)


class Sink(Routine):
    """Counts what it receives, and the sum of it."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.count)

    def count(self, i: int) -> None:
        self.increment_stat("count")
        self.increment_stat("sum", i)


pytestmark = pytest.mark.slow


@pytest.fixture
def fan_flow(make_flow: Callable[..., Flow]) -> tuple[Flow, Sink]:
    flow = make_flow(execution_strategy="concurrent", max_workers=WORKERS)
    sink = Sink()
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    for k in range(PROCESSORS):
        processor = Processor()
        processor.set_max_concurrency(None)
        flow.add_routine(processor, f"p{k}")
        flow.connect("source", "out", f"p{k}", "input")
        flow.connect(f"p{k}", "out", "sink", "input")
    return flow, sink


def test_fan_out_fan_in_counts_stay_exact_over_many_rounds(
    fan_flow: tuple[Flow, Sink],
) -> None:
    flow, sink = fan_flow
    assert DELIVERIES >= 100_000
    for round_number in range(ROUNDS):
        sink.reset_stats()
        job = flow.start("source", {"n": MESSAGES})
        assert job.wait(60), f"round {round_number}: no end after 60 s ({job.status})"
        assert job.status is JobStatus.COMPLETED, job.error
        assert sink.get_stat("count") == MESSAGES * PROCESSORS
        assert sink.get_stat("sum") == PROCESSORS * sum(range(MESSAGES))
        history = len(job.execution_history) + job.history_dropped
        assert history == MESSAGES * (1 + PROCESSORS)
        counts = {rid: stats.deliveries for rid, stats in job.all_routine_stats().items()}
        assert counts["source"] == 1
        assert counts["sink"] == MESSAGES * PROCESSORS
        assert [counts[f"p{k}"] for k in range(PROCESSORS)] == [MESSAGES] * PROCESSORS
        assert job.errors == []
