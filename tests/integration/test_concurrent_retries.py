"""Retries in the concurrent strategy on a FakeClock: long delays, no real waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobStatus, Routine
from routilux.testing import FakeClock

PATIENCE = 10.0


class Flaky(Routine):
    """Fails the first ``failures`` attempts of each message of each job, then emits it."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self.define_slot("trigger", handler=self.work)
        self.define_event("out", ["i"])

    def work(self, i: int = 0) -> None:
        context = self.get_execution_context()
        assert context is not None
        key = (context.job_state.job_id, i)
        with self._lock:
            attempt = self.calls[key] = self.calls.get(key, 0) + 1
        if attempt <= self.failures:
            raise ConnectionError(f"message {i}, attempt {attempt}")
        self.emit("out", i=i)

    @property
    def attempts(self) -> dict[int, int]:
        """Attempts per message, for tests that run one job."""
        return {i: n for (_, i), n in self.calls.items()}


def retry_policy(max_retries: int = 3, *, critical: bool = False) -> ErrorHandler:
    return ErrorHandler(
        strategy=ErrorStrategy.RETRY,
        max_retries=max_retries,
        retry_delay=100,
        retry_backoff=2.0,
        is_critical=critical,
    )


def fake_clock_flow(
    make_flow: Callable[..., Flow], clock: FakeClock, flaky: Flaky, **kw: Any
) -> Flow:
    flow = make_flow(execution_strategy="concurrent", clock=clock, max_workers=4, **kw)
    flow.add_routine(flaky, "flaky")
    return flow


def test_a_retry_delay_of_100_seconds_takes_no_real_time(make_flow: Callable[..., Flow]) -> None:
    clock, flaky = FakeClock(), Flaky(failures=2)
    flaky.set_error_handler(retry_policy())
    flow = fake_clock_flow(make_flow, clock, flaky)
    job = flow.start("flaky")
    # PATIENCE is far below the 300 s of delays: they passed on the fake clock only.
    assert job.wait(PATIENCE), f"the retries never ran: {job.status}"
    assert job.status is JobStatus.COMPLETED
    assert flaky.attempts == {0: 3}
    assert clock.monotonic() >= 300


def test_the_fake_clock_moves_by_the_retry_delays(make_flow: Callable[..., Flow]) -> None:
    clock, flaky = FakeClock(), Flaky(failures=2)
    flaky.set_error_handler(retry_policy())
    job = fake_clock_flow(make_flow, clock, flaky).execute("flaky")
    assert job.status is JobStatus.COMPLETED
    # 100 s before retry 1, 200 s before retry 2 (backoff 2).
    assert 300 <= clock.monotonic() < 301


def test_errors_record_each_failed_attempt(make_flow: Callable[..., Flow]) -> None:
    clock, flaky = FakeClock(), Flaky(failures=2)
    flaky.set_error_handler(retry_policy())
    job = fake_clock_flow(make_flow, clock, flaky).execute("flaky")
    assert [(e.routine_id, e.attempt, e.action, e.error_type) for e in job.errors] == [
        ("flaky", 1, "retry", "ConnectionError"),
        ("flaky", 2, "retry", "ConnectionError"),
    ]
    assert [e.message for e in job.errors] == ["message 0, attempt 1", "message 0, attempt 2"]


def test_a_critical_routine_out_of_retries_fails_the_job(make_flow: Callable[..., Flow]) -> None:
    clock, flaky = FakeClock(), Flaky(failures=99)
    flaky.set_error_handler(retry_policy(2, critical=True))
    job = fake_clock_flow(make_flow, clock, flaky).execute("flaky")
    assert job.status is JobStatus.FAILED
    assert [(e.attempt, e.action) for e in job.errors] == [(1, "retry"), (2, "retry"), (3, "stop")]


def test_a_routine_that_is_not_critical_out_of_retries_fails_the_job_too(
    make_flow: Callable[..., Flow],
) -> None:
    clock, flaky = FakeClock(), Flaky(failures=99)
    flaky.set_error_handler(retry_policy(2))
    job = fake_clock_flow(make_flow, clock, flaky).execute("flaky")
    assert job.status is JobStatus.FAILED
    assert [(e.attempt, e.action) for e in job.errors] == [
        (1, "retry"),
        (2, "retry"),
        (3, "stop"),
    ]


class Fan(Routine):
    """Emits ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int) -> None:
        for i in range(n):
            self.emit("out", i=i)


def test_each_delivery_has_its_own_retry_budget(make_flow: Callable[..., Flow]) -> None:
    clock, flaky = FakeClock(), Flaky(failures=2)
    flaky.set_error_handler(retry_policy(2))
    flaky.set_max_concurrency(None)
    flow = make_flow(execution_strategy="concurrent", clock=clock, max_workers=4)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(flaky, "flaky")
    flow.connect("fan", "out", "flaky", "trigger")
    job = flow.execute("fan", {"n": 10})
    assert job.status is JobStatus.COMPLETED
    assert flaky.attempts == dict.fromkeys(range(10), 3)
    assert len(job.errors) == 20
    assert {e.action for e in job.errors} == {"retry"}


class Held(Routine):
    """Signals ``started``, then blocks on ``hold``."""

    def __init__(self, hold: threading.Event) -> None:
        super().__init__()
        self.hold = hold
        self.started = threading.Event()
        self.define_slot("trigger", handler=self.work)

    def work(self, i: int = 0) -> None:
        self.started.set()
        self.hold.wait(PATIENCE)


def test_the_fake_clock_does_not_jump_while_a_delivery_runs(
    make_flow: Callable[..., Flow], gates: Any
) -> None:
    # A retry waits 100 fake seconds while another delivery still runs: time
    # must not jump over work that is in progress.
    clock, flaky, held = FakeClock(), Flaky(failures=1), Held(gates.new())
    flaky.set_error_handler(retry_policy())
    flow = make_flow(execution_strategy="concurrent", clock=clock, max_workers=4)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(flaky, "flaky")
    flow.add_routine(held, "held")
    flow.connect("fan", "out", "held", "trigger")
    flow.connect("fan", "out", "flaky", "trigger")
    job = flow.start("fan", {"n": 1})
    assert held.started.wait(PATIENCE)
    deadline = time.monotonic() + PATIENCE
    while not job.errors and time.monotonic() < deadline:
        time.sleep(0.005)  # No event says that the engine has recorded the failure.
    assert [e.action for e in job.errors] == ["retry"]
    time.sleep(0.2)  # Not a wait: real time in which the timer thread must not move the clock.
    assert clock.monotonic() < 100
    assert flaky.attempts == {0: 1}
    held.hold.set()
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED
    assert clock.monotonic() >= 100
    assert flaky.attempts == {0: 2}


@pytest.mark.parametrize("failures", [1, 3])
def test_retries_in_many_concurrent_jobs_complete_on_one_fake_clock(
    make_flow: Callable[..., Flow], failures: int
) -> None:
    clock = FakeClock()
    flaky = Flaky(failures=failures)
    flaky.set_error_handler(retry_policy(3))
    flaky.set_max_concurrency(None)
    flow = make_flow(execution_strategy="concurrent", clock=clock, max_workers=4)
    flow.add_routine(Fan(), "fan")
    flow.add_routine(flaky, "flaky")
    flow.connect("fan", "out", "flaky", "trigger")
    jobs = [flow.start("fan", {"n": 5}) for _ in range(4)]
    assert all(job.wait(PATIENCE) for job in jobs)
    assert {job.status for job in jobs} == {JobStatus.COMPLETED}
    assert [len(job.errors) for job in jobs] == [5 * failures] * 4
