"""history_limit keeps a job's in-memory history bounded."""

from __future__ import annotations

import pytest

from routilux import DefinitionError, Flow, JobState, Routine
from routilux.stores import MemoryStore

STRATEGIES = ["sequential", "concurrent"]


class Counter(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.count)
        self.define_event("tick", ["n"])

    def count(self, up_to: int) -> None:
        for n in range(up_to):
            self.emit("tick", n=n)


def flow_of(strategy: str, **options: object) -> Flow:
    flow = Flow(execution_strategy=strategy, **options)  # type: ignore[arg-type]
    flow.add_routine(Counter(), "counter")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_latest_records_are_kept_and_the_dropped_counted(strategy: str) -> None:
    flow = flow_of(strategy, history_limit=10)
    job = flow.execute("counter", {"up_to": 1000})
    flow.shutdown()
    kept = [record.data["n"] for record in job.execution_history]
    assert 10 <= len(kept) <= 20  # Trimmed to the limit once it holds twice that.
    assert kept == list(range(1000 - len(kept), 1000))
    assert job.history_dropped == 1000 - len(kept)


def test_without_a_limit_every_record_is_kept() -> None:
    job = flow_of("sequential", history_limit=None).execute("counter", {"up_to": 25_000})
    assert len(job.execution_history) == 25_000
    assert job.history_dropped == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_by_default_the_latest_10_000_records_are_kept(strategy: str) -> None:
    flow = flow_of(strategy)
    job = flow.execute("counter", {"up_to": 25_000})
    flow.shutdown()
    assert flow.history_limit == 10_000
    kept = [record.data["n"] for record in job.execution_history]
    assert 10_000 <= len(kept) <= 20_000
    assert kept == list(range(25_000 - len(kept), 25_000))
    assert job.history_dropped == 25_000 - len(kept)


def test_the_store_keeps_the_whole_history_of_a_limited_job() -> None:
    store = MemoryStore()
    job = flow_of("sequential", history_limit=2, store=store).execute("counter", {"up_to": 50})
    assert len(store.load_job(job.job_id).document["execution_history"]) == 50


def test_history_dropped_round_trips_through_a_document() -> None:
    job = flow_of("sequential", history_limit=3).execute("counter", {"up_to": 40})
    assert JobState.deserialize(job.serialize()).history_dropped == job.history_dropped


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_a_bad_history_limit_is_refused(limit: object) -> None:
    with pytest.raises(DefinitionError, match="history_limit"):
        Flow(history_limit=limit)  # type: ignore[arg-type]
