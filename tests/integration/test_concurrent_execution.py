"""The concurrent strategy: worker threads, blocking execute, per-routine concurrency limits."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobStatus, Routine

PATIENCE = 10.0


class Source(Routine):
    """Emits ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Worker(Routine):
    """Calls ``work(i)`` for each message; records the thread it ran on."""

    def __init__(self, work: Callable[[int], None] = lambda i: None) -> None:
        super().__init__()
        self.work = work
        self.threads: set[str] = set()
        self.received: list[int] = []
        self._lock = threading.Lock()
        self.define_slot("input", handler=self.handle)
        self.define_event("out", ["i"])

    def handle(self, i: int) -> None:
        with self._lock:
            self.threads.add(threading.current_thread().name)
            self.received.append(i)
        self.work(i)
        self.emit("out", i=i)


def source_to(flow: Flow, worker: Routine) -> None:
    flow.add_routine(Source(), "source")
    flow.add_routine(worker, "worker")
    flow.connect("source", "out", "worker", "input")


def tracked(overlap: Any, pause: float = 0.0) -> Callable[[int], None]:
    """Work that counts overlapping calls and takes ``pause`` seconds of real time."""

    def work(i: int) -> None:
        overlap.enter()
        try:
            time.sleep(pause)  # The work itself: the time during which calls overlap.
        finally:
            overlap.leave()

    return work


# -- worker threads and execute -------------------------------------------------


def test_deliveries_run_on_max_workers_worker_threads(make_flow: Callable[..., Flow]) -> None:
    # Three deliveries that only get past the barrier together: three threads at once.
    barrier = threading.Barrier(3, timeout=PATIENCE)
    worker = Worker(lambda i: barrier.wait())
    worker.set_max_concurrency(None)
    flow = make_flow(execution_strategy="concurrent", max_workers=3)
    source_to(flow, worker)
    job = flow.execute("source", {"n": 3})
    assert job.status is JobStatus.COMPLETED, job.errors
    assert len(worker.threads) == 3
    assert all(name.startswith("routilux-worker") for name in worker.threads)


def test_no_more_deliveries_run_at_once_than_max_workers(
    make_flow: Callable[..., Flow], overlap: Any
) -> None:
    worker = Worker(tracked(overlap, 0.002))
    worker.set_max_concurrency(None)
    flow = make_flow(execution_strategy="concurrent", max_workers=2)
    source_to(flow, worker)
    job = flow.execute("source", {"n": 60})
    assert job.status is JobStatus.COMPLETED
    assert overlap.peak <= 2
    assert worker.threads <= {"routilux-worker-1", "routilux-worker-2"}


def test_execute_blocks_until_the_job_has_ended(make_flow: Callable[..., Flow]) -> None:
    worker = Worker(lambda i: time.sleep(0.001))  # Work that takes time, so execute has to block.
    flow = make_flow(execution_strategy="concurrent", max_workers=4)
    source_to(flow, worker)
    job = flow.execute("source", {"n": 50})
    # Nothing of the job is left to run when execute returns.
    assert sorted(worker.received) == list(range(50))
    assert job.status is JobStatus.COMPLETED
    assert job.wait(0)


def test_execute_returns_the_failed_status_of_a_stopped_job(
    make_flow: Callable[..., Flow],
) -> None:
    def boom(i: int) -> None:
        raise ValueError(f"bad {i}")

    flow = make_flow(execution_strategy="concurrent", max_workers=4)
    source_to(flow, Worker(boom))
    job = flow.execute("source", {"n": 3})
    assert job.status is JobStatus.FAILED
    assert "ValueError" in (job.error or "")


def test_a_finished_job_never_reports_running(make_flow: Callable[..., Flow]) -> None:
    flow = make_flow(execution_strategy="concurrent", max_workers=4)
    source_to(flow, Worker())
    jobs = [flow.start("source", {"n": 20}) for _ in range(30)]
    # A watcher reads every job's status while they run: once a job has been
    # seen ended, it must never be seen running again.
    regressions: list[str] = []
    ended: set[str] = set()

    def watch() -> None:
        while len(ended) < len(jobs):
            for job in jobs:
                status = job.status
                if status.is_terminal:
                    ended.add(job.job_id)
                elif job.job_id in ended:
                    regressions.append(f"{job.job_id}: {status}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert all(job.wait(PATIENCE) for job in jobs)
    watcher.join(PATIENCE)
    assert not watcher.is_alive()
    assert regressions == []
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}


@pytest.mark.parametrize("strategy", ["sequential", "concurrent"])
def test_execute_of_one_job_does_not_wait_for_another_job(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    release, started = gates.new(), threading.Event()

    def slow(i: int) -> None:
        started.set()
        release.wait(PATIENCE)

    flow = make_flow(execution_strategy=strategy, max_workers=4)
    flow.add_routine(Source(), "slow_source")
    flow.add_routine(Worker(slow), "slow")
    flow.connect("slow_source", "out", "slow", "input")
    flow.add_routine(Source(), "fast_source")
    flow.add_routine(Worker(), "fast")
    flow.connect("fast_source", "out", "fast", "input")
    job_a = flow.start("slow_source", {"n": 1})
    assert started.wait(PATIENCE)
    job_b = flow.execute("fast_source", {"n": 5})
    assert job_b.status is JobStatus.COMPLETED
    assert job_a.status is JobStatus.RUNNING
    release.set()
    assert job_a.wait(PATIENCE)
    assert job_a.status is JobStatus.COMPLETED


# -- per-routine concurrency --------------------------------------------------------


def test_by_default_a_routines_deliveries_overlap_up_to_the_pool_size(
    make_flow: Callable[..., Flow], overlap: Any
) -> None:
    # Groups of 8 deliveries must meet at the barrier: only 8 at once get past it.
    barrier = threading.Barrier(8, timeout=PATIENCE)

    def work(i: int) -> None:
        overlap.enter()
        try:
            barrier.wait()
        finally:
            overlap.leave()

    flow = make_flow(execution_strategy="concurrent", max_workers=8)
    source_to(flow, Worker(work))
    job = flow.execute("source", {"n": 64})
    assert job.status is JobStatus.COMPLETED
    assert overlap.calls == 64
    assert overlap.peak == 8


def test_max_concurrency_1_runs_one_delivery_at_a_time(
    make_flow: Callable[..., Flow], overlap: Any
) -> None:
    worker = Worker(tracked(overlap, 0.0005))
    worker.set_max_concurrency(1)
    flow = make_flow(execution_strategy="concurrent", max_workers=8)
    source_to(flow, worker)
    job = flow.execute("source", {"n": 200})
    assert job.status is JobStatus.COMPLETED
    assert overlap.calls == 200
    assert overlap.peak == 1


def test_max_concurrency_1_receives_deliveries_in_arrival_order(
    make_flow: Callable[..., Flow],
) -> None:
    worker = Worker(lambda i: time.sleep(0.0002))  # Work long enough for deliveries to queue.
    worker.set_max_concurrency(1)
    flow = make_flow(execution_strategy="concurrent", max_workers=8)
    source_to(flow, worker)
    flow.execute("source", {"n": 300})
    assert worker.received == list(range(300))


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Make the interpreter switch threads far more often, to bring races out."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_arrival_order_holds_when_threads_switch_often(
    make_flow: Callable[..., Flow],
) -> None:
    # Several workers take the routine's deliveries off the pool's queue; the
    # order they were emitted in must survive however the threads interleave.
    worker = Worker()
    worker.set_max_concurrency(1)
    flow = make_flow(execution_strategy="concurrent", max_workers=8)
    source_to(flow, worker)
    for _ in range(20):
        worker.received.clear()
        job = flow.start("source", {"n": 2000})
        assert job.wait(PATIENCE)
        assert worker.received == list(range(2000))


class Tally(Routine):
    """Increments a plain attribute without a lock, the way a careless handler would."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.define_slot("input", handler=self.add)

    def add(self, i: int) -> None:
        before = self.total
        time.sleep(0)  # Invite a thread switch between the read and the write.
        self.total = before + 1


def test_handlers_that_update_self_need_no_lock_with_max_concurrency_1(
    make_flow: Callable[..., Flow],
) -> None:
    tally = Tally()
    tally.set_max_concurrency(1)
    flow = make_flow(execution_strategy="concurrent", max_workers=8)
    source_to(flow, tally)
    job = flow.execute("source", {"n": 2000})
    assert job.status is JobStatus.COMPLETED
    assert tally.total == 2000


@pytest.mark.parametrize("limit", [2, 3])
def test_max_concurrency_k_runs_up_to_k_deliveries_at_once(
    make_flow: Callable[..., Flow], overlap: Any, limit: int
) -> None:
    # Groups of ``limit`` deliveries must meet at the barrier, so the peak
    # reaches ``limit``; a delivery over the limit would raise the peak above it.
    barrier = threading.Barrier(limit, timeout=PATIENCE)

    def work(i: int) -> None:
        overlap.enter()
        try:
            barrier.wait()
            time.sleep(0.002)  # The work: a delivery over the limit would overlap it.
        finally:
            overlap.leave()

    worker = Worker(work)
    worker.set_max_concurrency(limit)
    flow = make_flow(execution_strategy="concurrent", max_workers=limit + 3)
    source_to(flow, worker)
    job = flow.execute("source", {"n": limit * 8})
    assert job.status is JobStatus.COMPLETED, job.errors
    assert overlap.peak == limit


def test_max_concurrency_none_lets_every_delivery_run_at_once(
    make_flow: Callable[..., Flow], overlap: Any
) -> None:
    barrier = threading.Barrier(6, timeout=PATIENCE)

    def work(i: int) -> None:
        overlap.enter()
        try:
            barrier.wait()
        finally:
            overlap.leave()

    worker = Worker(work)
    worker.set_max_concurrency(None)
    flow = make_flow(execution_strategy="concurrent", max_workers=6)
    source_to(flow, worker)
    job = flow.execute("source", {"n": 6})
    assert job.status is JobStatus.COMPLETED, job.errors
    assert overlap.peak == 6


def test_max_concurrency_limit_holds_with_an_error_policy(
    make_flow: Callable[..., Flow], overlap: Any
) -> None:
    # Failing deliveries must give their place back, or the routine would stall.
    def work(i: int) -> None:
        overlap.enter()
        try:
            time.sleep(0.001)  # The work: a place not given back shows as an overlap.
            if i % 3 == 0:
                raise ValueError(i)
        finally:
            overlap.leave()

    worker = Worker(work)
    worker.set_max_concurrency(2)
    worker.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = make_flow(execution_strategy="concurrent", max_workers=6)
    source_to(flow, worker)
    job = flow.start("source", {"n": 60})
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED
    assert len(job.errors) == 20
    assert overlap.peak <= 2


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "2"])
def test_invalid_max_concurrency_raises_definition_error(limit: Any) -> None:
    with pytest.raises(DefinitionError, match="set_max_concurrency"):
        Worker().set_max_concurrency(limit)


def test_max_concurrency_defaults_to_no_limit_of_the_routines_own() -> None:
    assert Worker().get_max_concurrency() is None
