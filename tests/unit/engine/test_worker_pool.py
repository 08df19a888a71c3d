"""WorkerPool: threads taking work from one FIFO queue, admission, hand-over, shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from routilux._engine.pool import WorkerPool

#: Seconds a thread may take to reach a point the test waits for.
PATIENCE = 10.0


class Recorder:
    """Work for a pool: records each entry with its thread's state; may block on a gate."""

    def __init__(self, expected: int) -> None:
        self.lock = threading.Lock()
        self.done: list[str] = []
        self.states: dict[str, object] = {}
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.all_done = threading.Event()
        self.expected = expected

    def work(self, entry: str, state: object) -> None:
        self.started.set()
        assert self.gate.wait(PATIENCE), "the test never opened the gate"
        with self.lock:
            self.done.append(entry)
            self.states[entry] = state
            if len(self.done) >= self.expected:
                self.all_done.set()

    def wait(self) -> None:
        assert self.all_done.wait(PATIENCE), f"only {self.done} ran"


@pytest.fixture
def pools() -> Iterator[Callable[..., WorkerPool[str]]]:
    """Make pools; each is shut down at teardown."""
    made: list[WorkerPool[str]] = []

    def make(size: int, work: Callable[[str, object], None], **options: object) -> WorkerPool[str]:
        pool: WorkerPool[str] = WorkerPool(size, work, object, **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.shutdown(wait=True)


def test_one_thread_runs_the_entries_in_the_order_submitted(
    pools: Callable[..., WorkerPool[str]],
) -> None:
    recorder = Recorder(expected=5)
    pool = pools(1, recorder.work)

    pool.submit(["a", "b"])
    pool.submit(["c", "d", "e"])
    recorder.wait()

    assert recorder.done == ["a", "b", "c", "d", "e"]


def test_each_thread_makes_its_state_once(pools: Callable[..., WorkerPool[str]]) -> None:
    recorder = Recorder(expected=20)
    pool = pools(1, recorder.work)

    pool.submit([str(i) for i in range(20)])
    recorder.wait()

    assert len({id(state) for state in recorder.states.values()}) == 1


def test_the_threads_work_at_the_same_time(pools: Callable[..., WorkerPool[str]]) -> None:
    size = 3
    together = threading.Barrier(size)
    names: set[str] = set()
    lock = threading.Lock()
    all_done = threading.Event()

    def work(entry: str, state: object) -> None:
        together.wait(PATIENCE)  # Breaks only once all three run at once.
        with lock:
            names.add(threading.current_thread().name)
            if len(names) == size:
                all_done.set()

    pool = pools(size, work, name="unit-pool")
    pool.submit(["a", "b", "c"])

    assert all_done.wait(PATIENCE), "the three entries did not run at once"
    assert names == {"unit-pool-1", "unit-pool-2", "unit-pool-3"}


def test_hand_over_goes_ahead_of_the_queued_work(pools: Callable[..., WorkerPool[str]]) -> None:
    recorder = Recorder(expected=4)
    recorder.gate.clear()
    pool = pools(1, recorder.work)
    pool.submit(["running"])
    assert recorder.started.wait(PATIENCE)
    pool.submit(["queued-1", "queued-2"])

    assert pool.hand_over("handed")
    recorder.gate.set()
    recorder.wait()

    assert recorder.done == ["running", "handed", "queued-1", "queued-2"]


def test_admit_is_asked_in_queue_order_and_refused_entries_are_skipped(
    pools: Callable[..., WorkerPool[str]],
) -> None:
    recorder = Recorder(expected=2)
    asked: list[str] = []

    def admit(entry: str) -> bool:
        asked.append(entry)
        return not entry.startswith("kept")

    pool = pools(1, recorder.work, admit=admit)
    pool.submit(["a", "kept-elsewhere", "b"])
    recorder.wait()

    assert asked == ["a", "kept-elsewhere", "b"]
    assert recorder.done == ["a", "b"]


def test_extract_takes_the_picked_queued_entries_and_leaves_the_rest(
    pools: Callable[..., WorkerPool[str]],
) -> None:
    recorder = Recorder(expected=3)
    recorder.gate.clear()
    pool = pools(1, recorder.work)
    pool.submit(["running"])
    assert recorder.started.wait(PATIENCE)
    pool.submit(["x1", "y1", "x2", "y2"])

    picked = pool.extract(lambda entry: entry.startswith("x"))
    recorder.gate.set()
    recorder.wait()

    assert picked == ["x1", "x2"]
    assert recorder.done == ["running", "y1", "y2"]


def test_idle_means_nothing_queued_and_nothing_running(
    pools: Callable[..., WorkerPool[str]],
) -> None:
    recorder = Recorder(expected=2)
    recorder.gate.clear()
    pool = pools(1, recorder.work)
    assert pool.idle()

    pool.submit(["running", "queued"])
    assert recorder.started.wait(PATIENCE)
    assert not pool.idle()

    recorder.gate.set()
    recorder.wait()
    pool.shutdown(wait=True)  # Joins the thread: its last entry has ended.
    assert pool.idle()


def test_shutdown_finishes_the_queued_work_then_refuses_more(
    pools: Callable[..., WorkerPool[str]],
) -> None:
    recorder = Recorder(expected=3)
    recorder.gate.clear()
    pool = pools(1, recorder.work)
    pool.submit(["a", "b", "c"])
    assert recorder.started.wait(PATIENCE)

    stopping = threading.Thread(target=pool.shutdown, kwargs={"wait": True})
    stopping.start()
    recorder.gate.set()
    stopping.join(PATIENCE)

    assert not stopping.is_alive(), "shutdown did not return"
    assert recorder.done == ["a", "b", "c"]
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(["late"])
    assert pool.hand_over("late") is False


def test_a_failing_entry_is_logged_and_the_thread_serves_on(
    pools: Callable[..., WorkerPool[str]], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(expected=1)

    def work(entry: str, state: object) -> None:
        if entry == "bad":
            raise ValueError("engine bug")
        recorder.work(entry, state)

    pool = pools(1, work)
    with caplog.at_level(logging.ERROR, logger="routilux"):
        pool.submit(["bad", "good"])
        recorder.wait()

    assert recorder.done == ["good"]
    assert "A routilux worker failed outside any handler" in caplog.text


def test_a_shutdown_from_a_worker_thread_does_not_join_itself(
    pools: Callable[..., WorkerPool[str]],
) -> None:
    returned = threading.Event()
    pool: WorkerPool[str]

    def work(entry: str, state: object) -> None:
        pool.shutdown(wait=True)
        returned.set()

    pool = pools(2, work)
    pool.submit(["stop"])

    assert returned.wait(PATIENCE), "shutdown from a worker waited for its own thread"
