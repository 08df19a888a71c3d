"""Routine states as routilux 0.10 documents them, and the engine's records kept apart."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from routilux import ErrorHandler, ErrorStrategy, Flow, JobState, Routine, RoutineStats
from routilux.testing import FakeClock

STRATEGIES = ["sequential", "concurrent"]


class Source(Routine):
    """Notes what it sends in its own state, then sends each item."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.define_slot("trigger", handler=self.send)
        self.define_slot("again", handler=self.again)
        self.define_event("out", ["data"])
        self.define_event("loop", ["data"])

    def send(self, items: list[Any]) -> None:
        job = self.get_execution_context().job_state
        job.update_routine_state("source", {"sent": len(items)})
        if self.fail:
            raise RuntimeError("no items today")
        for item in items:
            self.emit("out", data=item)

    def again(self, data: Any) -> None:
        raise ValueError(f"cannot loop {data}")


class Processor(Routine):
    """Stores what it processed; fails on negative numbers."""

    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.process)
        self.define_event("loop", ["data"])

    def process(self, data: Any) -> None:
        if isinstance(data, int) and data < 0:
            raise ValueError(f"negative: {data}")
        job = self.get_execution_context().job_state
        job.update_routine_state("processor", {"last_processed": data, "processed": True})


def run(
    items: list[Any],
    policy: ErrorHandler | None = None,
    *,
    strategy: str = "sequential",
    fail_entry: bool = False,
) -> JobState:
    flow = Flow(execution_strategy=strategy, clock=FakeClock())
    flow.add_routine(Source(fail=fail_entry), "source")
    processor = Processor()
    flow.add_routine(processor, "processor")
    flow.connect("source", "out", "processor", "input")
    if policy is not None:
        processor.set_error_handler(policy)
    try:
        return flow.execute("source", {"items": items})
    finally:
        flow.shutdown()


def moment(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    assert when.tzinfo == timezone.utc
    return when


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_state_holds_what_the_handler_stored_and_the_entry_routine_s_status(
    strategy: str,
) -> None:
    job = run(["test"], strategy=strategy)
    assert job.status == "completed"
    assert job.get_routine_state("processor") == {"last_processed": "test", "processed": True}
    assert job.get_routine_state("source") == {"sent": 1, "status": "completed"}
    assert job.all_routine_stats() == {
        "source": RoutineStats(deliveries=1),
        "processor": RoutineStats(deliveries=1),
    }


def test_a_failed_entry_routine_has_its_error_and_its_time() -> None:
    job = run(["a"], fail_entry=True)
    assert job.status == "failed"
    state = job.get_routine_state("source")
    assert state is not None
    assert state.keys() == {"sent", "status", "error", "error_time"}
    assert (state["status"], state["error"]) == ("failed", "no items today")
    when = moment(state["error_time"])
    assert when == datetime.fromtimestamp(job.errors[0].timestamp, timezone.utc)
    assert job.routine_stats("source") == RoutineStats(deliveries=1, failures=1)


@pytest.mark.parametrize(
    ("policy", "status", "stats"),
    [
        (
            ErrorHandler(strategy=ErrorStrategy.CONTINUE),
            "error_continued",
            RoutineStats(deliveries=3, failures=1),
        ),
        (ErrorHandler(strategy=ErrorStrategy.SKIP), "skipped", RoutineStats(deliveries=3, skips=1)),
    ],
    ids=["continue", "skip"],
)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_handled_failure_writes_its_status_and_error_but_no_time(
    strategy: str, policy: ErrorHandler, status: str, stats: RoutineStats
) -> None:
    job = run([1, -1, 2], policy, strategy=strategy)
    assert job.status == "completed"
    state = job.get_routine_state("processor")
    assert state is not None
    assert state.pop("last_processed") in (1, 2)  # The concurrent order is a matter of timing.
    assert state == {"processed": True, "status": status, "error": "negative: -1"}
    assert job.routine_stats("processor") == stats


@pytest.mark.parametrize(
    "policy",
    [
        None,
        ErrorHandler(strategy=ErrorStrategy.STOP),
        ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=1),
    ],
    ids=["none", "stop", "exhausted-retry"],
)
def test_a_failure_that_stops_the_job_marks_its_routine_failed(
    policy: ErrorHandler | None,
) -> None:
    job = run([1, -1, 2], policy)
    assert job.status == "failed"
    state = job.get_routine_state("processor")
    assert state is not None
    assert (state["status"], state["error"]) == ("failed", "negative: -1")
    assert moment(state["error_time"]) == datetime.fromtimestamp(
        job.errors[-1].timestamp, timezone.utc
    )
    assert job.get_routine_state("source") == {"sent": 3, "status": "completed"}


def test_a_retry_that_succeeds_writes_nothing() -> None:
    class Flaky(Processor):
        def process(self, data: Any) -> None:
            self.tries = getattr(self, "tries", 0) + 1
            if self.tries == 1:
                raise ConnectionError("try again")

    flow = Flow(clock=FakeClock())
    flow.add_routine(Source(), "source")
    flaky = Flaky()
    flaky.set_error_handler(ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2))
    flow.add_routine(flaky, "flaky")
    flow.connect("source", "out", "flaky", "input")
    job = flow.execute("source", {"items": ["x"]})
    assert job.status == "completed"
    assert job.get_routine_state("flaky") is None
    assert job.routine_stats("flaky") == RoutineStats(deliveries=2)


def test_a_later_failure_of_the_entry_routine_outranks_its_completed_status() -> None:
    flow = Flow()
    source = Source()
    source.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow.add_routine(source, "source")
    flow.connect("source", "out", "source", "again")
    job = flow.execute("source", {"items": [7]})
    assert job.status == "completed"
    assert job.get_routine_state("source") == {
        "sent": 1,
        "status": "error_continued",
        "error": "cannot loop 7",
    }
    assert job.routine_stats("source") == RoutineStats(deliveries=2, failures=1)


def test_the_entry_routine_of_a_started_job_is_marked_completed() -> None:
    flow = Flow(execution_strategy="concurrent")
    flow.add_routine(Source(), "source")
    try:
        job = flow.start("source", {"items": []})
        assert job.wait(30)
    finally:
        flow.shutdown()
    assert job.get_routine_state("source") == {"sent": 0, "status": "completed"}


def test_a_new_job_has_no_records() -> None:
    job = JobState()
    assert job.routine_stats("r") is None
    assert job.all_routine_stats() == {}
    assert job.job_values("r") == {}
    assert job.routine_timers("r") == {}


def test_the_views_are_copies() -> None:
    job = run([1, 2])
    job.all_routine_stats().clear()
    assert job.routine_stats("processor") == RoutineStats(deliveries=2)
    with pytest.raises(AttributeError):
        job.routine_stats("processor").deliveries = 5  # type: ignore[misc, union-attr]


def test_routine_stats_say_a_status_from_their_counts() -> None:
    assert RoutineStats(deliveries=3).status == "completed"
    assert RoutineStats(deliveries=3, skips=1).status == "skipped"
    assert RoutineStats(deliveries=3, failures=1, skips=1).status == "failed"
    assert RoutineStats(deliveries=2, failures=1).to_dict() == {
        "status": "failed",
        "deliveries": 2,
        "failures": 1,
        "skips": 0,
    }
    assert repr(RoutineStats(1)) == (
        "RoutineStats(status='completed', deliveries=1, failures=0, skips=0)"
    )
