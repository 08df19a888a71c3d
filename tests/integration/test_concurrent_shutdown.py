"""Flow.shutdown stops every routilux thread, is idempotent, and the flow can run again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, JobStatus, Routine

PATIENCE = 10.0
STRATEGIES = ["sequential", "concurrent"]


class ThreadWatch:
    """The routilux threads that started after the test began."""

    def __init__(self) -> None:
        # Threads of flows that other tests never shut down are not ours to judge.
        self._before = set(threading.enumerate())

    def alive(self) -> list[str]:
        """Names of the routilux threads, started since, that are still alive."""
        return sorted(
            t.name
            for t in threading.enumerate()
            if t.name.startswith("routilux") and t not in self._before
        )

    def alive_after(self, seconds: float) -> list[str]:
        """:meth:`alive`, once they have ended or ``seconds`` have passed."""
        deadline = time.monotonic() + seconds
        while (names := self.alive()) and time.monotonic() < deadline:
            time.sleep(0.005)  # The engine's threads end with no event to wait on.
        return names


@pytest.fixture
def threads() -> ThreadWatch:
    return ThreadWatch()


class Source(Routine):
    """Emits ``out`` once per number in ``range(n)``."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self, n: int = 3) -> None:
        for i in range(n):
            self.emit("out", i=i)


class Sink(Routine):
    """Records the thread of each delivery; fails the first ``failures`` of them."""

    def __init__(
        self, failures: int = 0, hold: threading.Event | None = None, linger: float = 0.0
    ) -> None:
        super().__init__()
        self.failures = failures
        self.hold = hold
        self.hold_for = PATIENCE
        self.linger = linger
        self.started = threading.Event()
        self.threads: set[str] = set()
        self.define_slot("input", handler=self.take)

    def take(self, i: int) -> None:
        self.threads.add(threading.current_thread().name)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(self.hold_for)
        time.sleep(self.linger)  # The work: a handler still running when shutdown comes.
        if self.failures:
            self.failures -= 1
            raise ConnectionError("try again")


class AsyncSink(Routine):
    """An ``async def`` handler."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    async def take(self, i: int) -> None:
        await asyncio.sleep(0.001)


def pipe(flow: Flow, sink: Routine) -> Flow:
    flow.add_routine(Source(), "source")
    flow.add_routine(sink, "sink")
    flow.connect("source", "out", "sink", "input")
    return flow


def run_workers(flow: Flow) -> JobState:
    return pipe(flow, Sink()).execute("source")


def run_retry_with_delay(flow: Flow) -> JobState:
    sink = Sink(failures=2)
    sink.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=3, retry_delay=0.01)
    )
    job = pipe(flow, sink).start("source")
    assert job.wait(PATIENCE)
    return job


def run_async(flow: Flow) -> JobState:
    return pipe(flow, AsyncSink()).execute("source")


def run_in_background(flow: Flow) -> JobState:
    job = pipe(flow, Sink()).start("source")
    assert job.wait(PATIENCE)
    return job


def run_with_job_timeout(flow: Flow) -> JobState:
    return pipe(flow, Sink()).execute("source", timeout=PATIENCE)


SCENARIOS: dict[str, Callable[[Flow], JobState]] = {
    "workers": run_workers,
    "retry-timers": run_retry_with_delay,
    "async": run_async,
    "background": run_in_background,
    "job-timeout": run_with_job_timeout,
}


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_routilux_thread_is_alive_after_shutdown(
    threads: ThreadWatch, make_flow: Callable[..., Flow], strategy: str, scenario: str
) -> None:
    flow = make_flow(execution_strategy=strategy, max_workers=4)
    job = SCENARIOS[scenario](flow)
    assert job.status is JobStatus.COMPLETED, job.error
    flow.shutdown()
    assert threads.alive() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_started_job_runs_on_routilux_threads_that_shutdown_stops(
    threads: ThreadWatch, make_flow: Callable[..., Flow], strategy: str
) -> None:
    # The check above could pass trivially if no thread were started at all.
    flow = make_flow(execution_strategy=strategy, max_workers=4)
    sink = Sink()
    job = pipe(flow, sink).start("source")
    assert job.wait(PATIENCE)
    assert sink.threads
    assert all(name.startswith("routilux") for name in sink.threads)
    flow.shutdown()
    assert threads.alive() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_shutdown_is_idempotent(
    threads: ThreadWatch, make_flow: Callable[..., Flow], strategy: str
) -> None:
    flow = make_flow(execution_strategy=strategy, max_workers=4)
    run_retry_with_delay(flow)
    flow.shutdown()
    flow.shutdown()
    flow.shutdown(wait=False)
    assert threads.alive() == []


def test_shutdown_of_a_flow_that_never_ran_does_nothing(
    threads: ThreadWatch, make_flow: Callable[..., Flow]
) -> None:
    flow = make_flow(execution_strategy="concurrent")
    flow.shutdown()
    flow.shutdown()
    assert threads.alive() == []


#: How long an abandoned handler waits for its gate: far past its 0.05 s timeout
#: and past the tests' patience, so that only the gate, opened at teardown, ends it.
HANG = PATIENCE * 6


def overrun_pipe(flow: Flow, hold: threading.Event) -> Flow:
    """``pipe`` to a sink that blocks on ``hold`` far past its routine's timeout."""
    sink = Sink(hold=hold)
    sink.hold_for = HANG
    sink.set_timeout(0.05)
    sink.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    return pipe(flow, sink)


def in_thread(action: Callable[[], object]) -> threading.Thread:
    """Run ``action`` on a thread; return the thread once it has ended or PATIENCE ran out."""
    thread = threading.Thread(target=action, name="test-stopper")
    thread.start()
    thread.join(PATIENCE)
    return thread


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_shutdown_does_not_wait_for_a_handler_abandoned_at_its_timeout(
    threads: ThreadWatch,
    make_flow: Callable[..., Flow],
    gates: Any,
    caplog: pytest.LogCaptureFixture,
    strategy: str,
) -> None:
    flow = overrun_pipe(make_flow(execution_strategy=strategy, max_workers=4), gates.new())
    job = flow.execute("source", {"n": 1})
    assert [e.error_type for e in job.errors] == ["HandlerTimeoutError"]
    stopper = in_thread(flow.shutdown)
    assert not stopper.is_alive(), "shutdown(wait=True) waited for an abandoned handler"
    assert threads.alive() == ["routilux-handler-sink"]
    (warning,) = [r for r in caplog.records if "shut down without waiting" in r.getMessage()]
    assert (warning.name, warning.levelname) == ("routilux", "WARNING")
    assert "routine 'sink', slot 'input'" in warning.getMessage()
    assert "routilux-handler-sink" in warning.getMessage()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_leaving_a_with_block_does_not_wait_for_a_handler_abandoned_at_its_timeout(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    jobs: list[JobState] = []

    def run() -> None:
        with overrun_pipe(make_flow(execution_strategy=strategy), gates.new()) as flow:
            jobs.append(flow.execute("source", {"n": 1}))

    assert not in_thread(run).is_alive(), "the with block waited for an abandoned handler"
    assert [e.error_type for job in jobs for e in job.errors] == ["HandlerTimeoutError"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_shutdown_still_joins_a_timed_handler_that_returned_in_time(
    threads: ThreadWatch, make_flow: Callable[..., Flow], strategy: str
) -> None:
    sink = Sink()
    sink.set_timeout(PATIENCE)
    flow = pipe(make_flow(execution_strategy=strategy, max_workers=4), sink)
    assert flow.execute("source", {"n": 2}).status is JobStatus.COMPLETED
    flow.shutdown()
    assert threads.alive() == []


_SCRIPT = """
import logging
import threading
from routilux import ErrorHandler, ErrorStrategy, Flow, Routine

logging.basicConfig(format="%(levelname)s %(message)s")


class Source(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["i"])

    def send(self):
        self.emit("out", i=1)


class Hung(Routine):
    def __init__(self):
        super().__init__()
        self.define_slot("input", handler=self.take)
        self.set_timeout(0.05)
        self.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))

    def take(self, i):
        threading.Event().wait()  # Never returns.


with Flow(execution_strategy={strategy!r}) as flow:
    flow.add_routine(Source(), "source")
    flow.add_routine(Hung(), "hung")
    flow.connect("source", "out", "hung", "input")
    job = flow.execute("source")
print(job.status, [e.error_type for e in job.errors])
"""


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_script_whose_handler_hangs_past_its_timeout_exits(tmp_path: Any, strategy: str) -> None:
    script = tmp_path / "hung.py"
    script.write_text(_SCRIPT.format(strategy=strategy), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=PATIENCE * 3,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "completed ['HandlerTimeoutError']\n"
    assert "WARNING Flow" in done.stderr
    assert "shut down without waiting for 1 handler thread" in done.stderr


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_flow_runs_new_jobs_after_shutdown(make_flow: Callable[..., Flow], strategy: str) -> None:
    flow = make_flow(execution_strategy=strategy, max_workers=4)
    sink = Sink()
    pipe(flow, sink)
    assert flow.execute("source").status is JobStatus.COMPLETED
    flow.shutdown()
    sink.threads.clear()
    job = flow.start("source")
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED
    # The second job ran on freshly started routilux threads.
    assert sink.threads
    assert all(name.startswith("routilux") for name in sink.threads)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_leaving_a_with_block_shuts_the_flow_down(threads: ThreadWatch, strategy: str) -> None:
    with Flow(execution_strategy=strategy, max_workers=4) as flow:
        # A job timeout starts the timer thread in both strategies.
        job = pipe(flow, Sink()).start("source", timeout=PATIENCE)
        assert job.wait(PATIENCE)
        assert threads.alive() != []
    assert job.status is JobStatus.COMPLETED
    assert threads.alive() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_shutdown_waits_for_running_jobs_to_finish(
    threads: ThreadWatch, make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    sink = Sink(hold=hold)
    flow = pipe(make_flow(execution_strategy=strategy, max_workers=4), sink)
    job = flow.start("source", {"n": 2})
    assert sink.started.wait(PATIENCE)
    stopper = threading.Thread(target=flow.shutdown)
    stopper.start()
    stopper.join(0.1)
    assert stopper.is_alive(), "shutdown(wait=True) returned while a job was running"
    hold.set()
    stopper.join(PATIENCE)
    assert not stopper.is_alive()
    assert job.status is JobStatus.COMPLETED
    assert threads.alive() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_shutdown_without_wait_cancels_running_jobs(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    hold = gates.new()
    sink = Sink(hold=hold)
    flow = pipe(make_flow(execution_strategy=strategy, max_workers=4), sink)
    job = flow.start("source", {"n": 2})
    assert sink.started.wait(PATIENCE)
    flow.shutdown(wait=False)
    assert job.status is JobStatus.CANCELLED


def _paused_mid_job(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> tuple[Flow, JobState, Sink]:
    hold = gates.new()
    sink = Sink(hold=hold)
    flow = pipe(make_flow(execution_strategy=strategy, max_workers=4), sink)
    job = flow.start("source", {"n": 3})
    assert sink.started.wait(PATIENCE)
    pauser = threading.Thread(target=flow.pause, args=(job, PATIENCE))
    pauser.start()
    # Release the delivery only once pause waits for it, so the job pauses mid-way.
    deadline = time.monotonic() + PATIENCE
    while pauser.is_alive() and not _waiting_inside(pauser) and time.monotonic() < deadline:
        time.sleep(0.001)  # No event says that a thread has reached its wait.
    hold.set()
    pauser.join(PATIENCE)
    assert job.status is JobStatus.PAUSED
    return flow, job, sink


def _waiting_inside(thread: threading.Thread) -> bool:
    """Whether ``thread`` is blocked in a ``threading`` wait (an Event or a Condition)."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        code = frame.f_code
        if code.co_name in {"wait", "wait_for"} and code.co_filename == threading.__file__:
            return True
        frame = frame.f_back
    return False


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_paused_job_stays_paused_through_shutdown(
    threads: ThreadWatch, make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    flow, job, _ = _paused_mid_job(make_flow, gates, strategy)
    flow.shutdown()
    assert job.status is JobStatus.PAUSED
    assert threads.alive() == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_paused_job_resumed_after_shutdown_completes(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    flow, job, _ = _paused_mid_job(make_flow, gates, strategy)
    flow.shutdown()
    assert flow.resume(job)
    assert job.wait(PATIENCE)
    assert job.status is JobStatus.COMPLETED
    assert job.routine_stats("sink").deliveries == 3  # type: ignore[union-attr]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_retry_waiting_in_a_paused_job_runs_after_shutdown_and_resume(
    make_flow: Callable[..., Flow], strategy: str
) -> None:
    sink = Sink(failures=1)
    sink.set_error_handler(
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=1.0)
    )
    flow = pipe(make_flow(execution_strategy=strategy, max_workers=4), sink)
    job = flow.start("source", {"n": 1})
    # Pause while the failed delivery waits for its retry.
    assert sink.started.wait(PATIENCE)
    assert flow.pause(job, PATIENCE)
    assert [(p.routine_id, p.attempt) for p in job.pending_deliveries] == [("sink", 2)]
    flow.shutdown()
    assert flow.resume(job)
    assert job.wait(PATIENCE), f"the retry never ran: {job.status}"
    assert job.status is JobStatus.COMPLETED
    assert sink.failures == 0


class Turnstile(Routine):
    """Delivery number ``k`` signals ``started[k]`` and blocks on ``holds[k]``."""

    def __init__(self, holds: list[threading.Event]) -> None:
        super().__init__()
        self.holds = holds
        self.started = [threading.Event() for _ in holds]
        self.calls = 0
        self.set_max_concurrency(1)  # Delivery k + 1 starts once k has returned.
        self.define_slot("input", handler=self.take)

    def take(self, i: int) -> None:
        k = self.calls
        self.calls += 1
        self.started[k].set()
        self.holds[k].wait(PATIENCE)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_job_timeout_still_applies_after_shutdown_and_resume(
    make_flow: Callable[..., Flow], gates: Any, strategy: str
) -> None:
    # Paused during its first delivery, shut down, resumed: the second
    # delivery hangs, and the job's 1 s timeout must still end the job.
    first, second = gates.new(), gates.new()
    turnstile = Turnstile([first, second])
    flow = pipe(make_flow(execution_strategy=strategy, max_workers=4), turnstile)
    job = flow.start("source", {"n": 2}, timeout=1.0)
    assert turnstile.started[0].wait(PATIENCE)
    pauser = threading.Thread(target=flow.pause, args=(job, PATIENCE))
    pauser.start()
    deadline = time.monotonic() + PATIENCE
    while pauser.is_alive() and not _waiting_inside(pauser) and time.monotonic() < deadline:
        time.sleep(0.001)  # No event says that a thread has reached its wait.
    first.set()
    pauser.join(PATIENCE)
    assert job.status is JobStatus.PAUSED
    flow.shutdown()
    assert flow.resume(job)
    assert turnstile.started[1].wait(PATIENCE)
    # Four times the timeout: plenty for the timer, short of the handler's hang.
    assert job.wait(4.0), f"the job outlived its timeout: {job.status}"
    assert [e.error_type for e in job.errors] == ["JobTimeoutError"]


class SlowAsyncSink(Routine):
    """An ``async def`` handler that waits far longer than any test."""

    def __init__(self) -> None:
        super().__init__()
        self.set_max_concurrency(None)
        self.awaiting = threading.Semaphore(0)
        self.cancelled = 0
        self.define_slot("input", handler=self.take)

    async def take(self, i: int) -> None:
        self.awaiting.release()
        try:
            await asyncio.sleep(PATIENCE * 10)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def test_shutdown_without_wait_cancels_async_handlers_still_awaiting(
    threads: ThreadWatch, make_flow: Callable[..., Flow]
) -> None:
    sink = SlowAsyncSink()
    flow = pipe(make_flow(execution_strategy="concurrent", max_workers=4), sink)
    job = flow.start("source", {"n": 20})
    for _ in range(20):
        assert sink.awaiting.acquire(timeout=PATIENCE)
    flow.shutdown(wait=False)
    assert job.status is JobStatus.CANCELLED
    assert sink.cancelled == 20
    # wait=False does not join the workers: each exits once it wakes up.
    assert threads.alive_after(PATIENCE) == []
