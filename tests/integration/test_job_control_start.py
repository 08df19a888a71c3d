"""Flow.start runs a job in the background; jobs of one flow stay isolated."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, JobStatus, Routine

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    """Tags the job, then emits one ``out`` per item."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        super().__init__()
        self.hold = hold
        self.started = threading.Event()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["tag", "item"])

    def send(self, tag: str = "", items: tuple[Any, ...] = ()) -> None:
        self.started.set()
        if self.hold is not None:
            self.hold.wait(PATIENCE)
        context = self.get_execution_context()
        assert context is not None
        context.job_state.update_shared_data("tag", tag)
        for item in items:
            self.emit("out", tag=tag, item=item)


class Collector(Routine):
    """Logs each item in the job's shared log; fails on ``"bad"``."""

    def __init__(self, overlap: Any = None) -> None:
        super().__init__()
        self.overlap = overlap
        self.threads: set[str] = set()
        self.define_slot("input", handler=self.collect)
        self.define_event("done", ["tag", "item"])

    def collect(self, tag: str, item: Any) -> None:
        self.threads.add(threading.current_thread().name)
        if self.overlap is not None:
            self.overlap.enter()
            time.sleep(0.0005)  # The work: two jobs' deliveries at once would overlap it.
            self.overlap.leave()
        if item == "bad":
            raise ValueError(f"bad item in job {tag}")
        context = self.get_execution_context()
        assert context is not None
        context.job_state.append_to_shared_log({"tag": tag, "item": item})
        self.emit("done", tag=tag, item=item)


def build(make_flow: Callable[..., Flow], strategy: str, **routines: Routine) -> Flow:
    flow = make_flow(execution_strategy=strategy, max_workers=4)
    flow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow.add_routine(routines.get("source") or Source(), "source")
    flow.add_routine(routines.get("collector") or Collector(), "collector")
    flow.connect("source", "out", "collector", "input")
    return flow


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_start_returns_a_running_job_at_once(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    flow = build(make_flow, strategy, source=Source(hold))
    job = flow.start("source", {"items": [1]})
    assert job.status is JobStatus.RUNNING
    assert not job.wait(0.05)
    hold.set()
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_wait_for_completion_returns_whether_the_job_finished(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    flow = build(make_flow, strategy, source=Source(hold))
    job = flow.start("source", {"items": [1]})
    assert JobState.wait_for_completion(flow, job, timeout=0.05) is False
    hold.set()
    assert JobState.wait_for_completion(flow, job, timeout=PATIENCE) is True
    assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_started_job_is_remembered_by_the_flow(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = build(make_flow, strategy)
    job = flow.start("source", {"items": [1]})
    assert job.wait(PATIENCE)
    assert flow.get_execution(job.job_id) is job


def _start_from_threads(flow: Flow, jobs_wanted: int) -> dict[str, JobState]:
    """Start one job per thread, all at the same moment; return them by tag."""
    barrier = threading.Barrier(jobs_wanted, timeout=PATIENCE)
    jobs: dict[str, JobState] = {}
    lock = threading.Lock()

    def run(n: int) -> None:
        tag = f"job{n}"
        items = [f"{tag}-{k}" for k in range(n + 1)] + (["bad"] if n % 2 else [])
        barrier.wait()
        job = flow.start("source", {"tag": tag, "items": items})
        with lock:
            jobs[tag] = job

    threads = [threading.Thread(target=run, args=(n,)) for n in range(jobs_wanted)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert len(jobs) == jobs_wanted
    assert all(job.wait(PATIENCE) for job in jobs.values())
    return jobs


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_jobs_started_from_many_threads_keep_their_own_history(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    jobs = _start_from_threads(build(make_flow, strategy), 8)
    for n in range(8):
        tag = f"job{n}"
        history = jobs[tag].get_execution_history("collector")
        assert sorted(r.data["item"] for r in history) == [f"{tag}-{k}" for k in range(n + 1)]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_jobs_started_from_many_threads_keep_their_own_errors(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    jobs = _start_from_threads(build(make_flow, strategy), 8)
    for n in range(8):
        job = jobs[f"job{n}"]
        expected = [f"bad item in job job{n}"] if n % 2 else []
        assert [e.message for e in job.errors] == expected
        assert job.status is JobStatus.COMPLETED


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_jobs_started_from_many_threads_keep_their_own_shared_data_and_log(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    jobs = _start_from_threads(build(make_flow, strategy), 8)
    for n in range(8):
        tag = f"job{n}"
        job = jobs[tag]
        assert job.get_shared_data("tag") == tag
        assert {entry["tag"] for entry in job.get_shared_log()} == {tag}
        assert len(job.get_shared_log()) == n + 1


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_jobs_started_from_many_threads_count_their_own_deliveries(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    jobs = _start_from_threads(build(make_flow, strategy), 8)
    for n in range(8):
        job = jobs[f"job{n}"]
        collected = n + 1 + (1 if n % 2 else 0)
        assert job.routine_stats("collector").deliveries == collected  # type: ignore[union-attr]
        assert job.routine_stats("source").deliveries == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_jobs_executed_from_many_threads_are_isolated(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = build(make_flow, strategy)
    barrier = threading.Barrier(6, timeout=PATIENCE)
    results: dict[str, JobState] = {}

    def run(tag: str) -> None:
        barrier.wait()
        results[tag] = flow.execute("source", {"tag": tag, "items": [tag] * 40})

    threads = [threading.Thread(target=run, args=(f"t{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert sorted(results) == [f"t{n}" for n in range(6)]
    for tag, job in results.items():
        items = [r.data["item"] for r in job.get_execution_history("collector")]
        assert items == [tag] * 40
        assert job.status is JobStatus.COMPLETED


def test_sequential_start_runs_the_job_on_a_background_thread(
    make_flow: Callable[..., Flow],
) -> None:
    collector = Collector()
    flow = build(make_flow, "sequential", collector=collector)
    job = flow.start("source", {"items": list(range(5))})
    assert job.wait(PATIENCE)
    assert len(collector.threads) == 1
    (name,) = collector.threads
    assert name.startswith("routilux-job")
    assert name != threading.current_thread().name


def test_sequential_start_runs_one_delivery_at_a_time(
    make_flow: Callable[..., Flow], overlap: Any
) -> None:
    # Even a routine that allows unlimited overlap runs one delivery at a
    # time in the sequential strategy.
    collector = Collector(overlap)
    collector.set_max_concurrency(None)
    flow = build(make_flow, "sequential", collector=collector)
    job = flow.start("source", {"items": list(range(100))})
    assert job.wait(PATIENCE)
    assert overlap.calls == 100
    assert overlap.peak == 1
