"""Each execution has its own JobState; the routine objects are shared."""

from __future__ import annotations

import threading
from typing import Any

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine, RoutineStats


class Source(Routine):
    """Emits its ``items`` and notes the job's tag in the job's shared data."""

    def __init__(self) -> None:
        super().__init__()
        self.set_config(greeting="hello")
        self.define_slot("trigger", handler=self.send)
        self.define_event("out")

    def send(self, items: list[Any], tag: str = "") -> None:
        context = self.get_execution_context()
        assert context is not None
        context.job_state.update_shared_data("tag", tag)
        for item in items:
            self.emit("out", item=item)


class Collector(Routine):
    """Appends every item; fails on ``"bad"``."""

    def __init__(self) -> None:
        super().__init__()
        self.slot = self.define_slot("input", handler=self.collect, merge_strategy="append")

    def collect(self, item: Any) -> None:
        self.increment_stat("seen")
        if item == "bad":
            raise ValueError("bad item")


def build() -> tuple[Flow, Source, Collector]:
    flow = Flow()
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    source, collector = Source(), Collector()
    flow.add_routine(source, "source")
    flow.add_routine(collector, "collector")
    flow.connect("source", "out", "collector", "input")
    return flow, source, collector


def test_each_execute_returns_its_own_job_state() -> None:
    flow, _, _ = build()
    first = flow.execute("source", entry_params={"items": [1]})
    second = flow.execute("source", entry_params={"items": [2]})
    assert first is not second
    assert first.job_id != second.job_id


def test_history_is_per_job() -> None:
    flow, _, _ = build()
    first = flow.execute("source", entry_params={"items": [1, 2]})
    second = flow.execute("source", entry_params={"items": [3]})
    assert [r.data for r in first.execution_history] == [{"item": 1}, {"item": 2}]
    assert [r.data for r in second.execution_history] == [{"item": 3}]


def test_errors_are_per_job() -> None:
    flow, _, _ = build()
    first = flow.execute("source", entry_params={"items": ["bad"]})
    second = flow.execute("source", entry_params={"items": ["good"]})
    assert len(first.errors) == 1
    assert second.errors == []


def test_shared_data_is_per_job() -> None:
    flow, _, _ = build()
    first = flow.execute("source", entry_params={"items": [], "tag": "one"})
    second = flow.execute("source", entry_params={"items": [], "tag": "two"})
    assert first.get_shared_data("tag") == "one"
    assert second.get_shared_data("tag") == "two"


def test_routine_stats_are_per_job() -> None:
    flow, _, _ = build()
    first = flow.execute("source", entry_params={"items": [1, 2, 3]})
    second = flow.execute("source", entry_params={"items": [4]})
    assert first.routine_stats("collector") == RoutineStats(deliveries=3)
    assert second.routine_stats("collector") == RoutineStats(deliveries=1)


def test_status_is_per_job() -> None:
    flow, _, collector = build()
    collector.set_error_handler(ErrorHandler(strategy=ErrorStrategy.STOP))
    failed = flow.execute("source", entry_params={"items": ["bad"]})
    completed = flow.execute("source", entry_params={"items": ["good"]})
    assert (failed.status, completed.status) == ("failed", "completed")
    assert failed.error is not None
    assert completed.error is None


def test_stats_are_shared_by_the_jobs_of_a_routine() -> None:
    flow, _, collector = build()
    flow.execute("source", entry_params={"items": [1, 2]})
    flow.execute("source", entry_params={"items": [3]})
    assert collector.get_stat("seen") == 3


def test_slot_data_is_shared_by_the_jobs_of_a_routine() -> None:
    flow, _, collector = build()
    flow.execute("source", entry_params={"items": [1, 2]})
    flow.execute("source", entry_params={"items": [3]})
    assert dict(collector.slot.data) == {"item": [1, 2, 3]}


def test_config_is_shared_by_the_jobs_of_a_routine() -> None:
    flow, source, _ = build()
    flow.execute("source", entry_params={"items": []})
    source.set_config(greeting="bye")
    flow.execute("source", entry_params={"items": []})
    assert source.get_config("greeting") == "bye"


def test_one_routine_object_in_two_flows_knows_its_id_in_each() -> None:
    seen: list[tuple[str, str]] = []

    class Probe(Routine):
        def __init__(self) -> None:
            super().__init__()
            self.define_slot("trigger", handler=self.probe)

        def probe(self) -> None:
            context = self.get_execution_context()
            assert context is not None
            seen.append((context.flow.flow_id, context.routine_id))

    probe = Probe()
    first, second = Flow(flow_id="first"), Flow(flow_id="second")
    first.add_routine(probe, "alpha")
    second.add_routine(probe, "beta")
    first.execute("alpha")
    second.execute("beta")
    assert seen == [("first", "alpha"), ("second", "beta")]


# -- two jobs at the same time ---------------------------------------------------------


class Rendezvous(Routine):
    """Waits until both jobs are inside a handler, then reports the job it sees."""

    def __init__(self, barrier: threading.Barrier) -> None:
        super().__init__()
        self.barrier = barrier
        self.lock = threading.Lock()
        self.seen: dict[str, tuple[str | None, str]] = {}
        self.define_slot("trigger", handler=self.meet)
        self.define_slot("input", handler=self.report)
        self.define_event("out")

    def meet(self, name: str) -> None:
        self.barrier.wait(timeout=10)
        context = self.get_execution_context()
        assert context is not None
        context.job_state.update_shared_data("name", name)
        self.emit("out", name=name)

    def report(self, name: str) -> None:
        self.barrier.wait(timeout=10)
        context = self.get_execution_context()
        assert context is not None
        with self.lock:
            self.seen[name] = (context.job_state.get_shared_data("name"), context.job_state.job_id)


def test_two_jobs_running_at_once_each_see_their_own_context() -> None:
    barrier = threading.Barrier(2)
    flow = Flow()
    entry, sink = Rendezvous(barrier), Rendezvous(barrier)
    flow.add_routine(entry, "entry")
    flow.add_routine(sink, "sink")
    flow.connect("entry", "out", "sink", "input")
    jobs: dict[str, JobState] = {}

    def run(name: str) -> None:
        jobs[name] = flow.execute("entry", entry_params={"name": name})

    threads = [threading.Thread(target=run, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert {name: job.status for name, job in jobs.items()} == {
        "one": "completed",
        "two": "completed",
    }
    assert sink.seen == {
        "one": ("one", jobs["one"].job_id),
        "two": ("two", jobs["two"].job_id),
    }
    assert [r.data for r in jobs["one"].execution_history] == [{"name": "one"}]
    assert [r.data for r in jobs["two"].execution_history] == [{"name": "two"}]
