"""Flow(track_execution=True): every delivery attempt and emit of a job in its tracker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from routilux import DefinitionError, ErrorHandler, ErrorStrategy, Flow, JobState, Routine
from routilux.execution_tracker import ExecutionTracker


class Source(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("trigger", handler=self.send)
        self.define_event("out", ["n"])
        self.define_event("note", ["text"])

    def send(self, count: int = 1, note: bool = False) -> None:
        for n in range(count):
            self.emit("out", n=n)
        if note:
            self.emit("note", text="sent")


class Checker(Routine):
    """Raises for ``n == 1`` (after emitting), passes the others on."""

    def __init__(self, failures: int = 1) -> None:
        super().__init__()
        self.failures = failures
        self.attempts: dict[int, int] = {}
        self.define_slot("input", handler=self.check)
        self.define_event("ok", ["n"])

    def check(self, n: int) -> None:
        self.attempts[n] = self.attempts.get(n, 0) + 1
        self.emit("ok", n=n)
        if n == 1 and self.attempts[n] <= self.failures:
            raise ValueError(f"attempt {self.attempts[n]} on one")


class AsyncChecker(Checker):
    async def check(self, n: int) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        super().check(n)


class Sink(Routine):
    def __init__(self) -> None:
        super().__init__()
        self.define_slot("input", handler=self.take)

    def take(self, n: int) -> None:
        pass


STRATEGIES = ["sequential", "concurrent"]


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[Checker, AsyncChecker], ids=["sync", "async"])
def checker_class(request: pytest.FixtureRequest) -> type[Checker]:
    return request.param  # type: ignore[no-any-return]


def build(
    strategy: str = "sequential",
    checker: Checker | None = None,
    policy: ErrorHandler | None = None,
    **options: Any,
) -> Flow:
    flow = Flow(execution_strategy=strategy, track_execution=True, **options)
    flow.add_routine(Source(), "source")
    checker = checker or Checker()
    if policy is not None:
        checker.set_error_handler(policy)
    flow.add_routine(checker, "checker")
    flow.add_routine(Sink(), "sink")
    flow.connect("source", "out", "checker", "input")
    flow.connect("checker", "ok", "sink", "input")
    return flow


@pytest.fixture
def flows() -> Iterator[list[Flow]]:
    made: list[Flow] = []
    yield made
    for flow in made:
        flow.shutdown()


def run(flows: list[Flow], flow: Flow, **params: Any) -> JobState:
    flows.append(flow)
    return flow.execute("source", entry_params=params)


def tracker_of(job: JobState) -> ExecutionTracker:
    assert job.execution_tracker is not None
    return job.execution_tracker


def statuses(job: JobState, routine_id: str) -> list[tuple[int, str]]:
    records = tracker_of(job).routine_executions[routine_id]
    return sorted((r["params"]["n"], r["status"]) for r in records)


# -- which jobs have a tracker ----------------------------------------------------------


def test_tracking_is_off_by_default(flows: list[Flow]) -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    job = run(flows, flow)
    assert flow.track_execution is False
    assert job.execution_tracker is None
    assert flow.execution_tracker is None


def test_each_job_has_its_own_tracker_and_the_flow_shows_the_newest(flows: list[Flow]) -> None:
    flow = build()
    assert flow.execution_tracker is None
    first = run(flows, flow, count=1)
    second = run(flows, flow, count=2)
    assert tracker_of(first) is not tracker_of(second)
    assert flow.execution_tracker is tracker_of(second)
    assert tracker_of(second).flow_id == flow.flow_id
    assert len(tracker_of(first).routine_executions["checker"]) == 1
    assert len(tracker_of(second).routine_executions["checker"]) == 2


def test_switching_tracking_applies_to_the_next_jobs(flows: list[Flow]) -> None:
    flow = Flow()
    flow.add_routine(Source(), "source")
    run(flows, flow)
    flow.track_execution = True
    assert tracker_of(run(flows, flow)).routine_executions["source"]
    flow.track_execution = False
    assert run(flows, flow).execution_tracker is None
    assert flow.execution_tracker is None


@pytest.mark.parametrize("value", [1, "yes", None])
def test_track_execution_must_be_a_bool(value: Any) -> None:
    with pytest.raises(DefinitionError, match="track_execution must be True or False"):
        Flow(track_execution=value)
    with pytest.raises(DefinitionError, match="track_execution"):
        Flow().track_execution = value


# -- deliveries ---------------------------------------------------------------------------


def test_every_delivery_has_an_ended_record_by_flow_id(
    flows: list[Flow], strategy: str, checker_class: type[Checker]
) -> None:
    flow = build(strategy, checker_class(failures=0))
    job = run(flows, flow, count=3)
    tracker = tracker_of(job)
    assert set(tracker.routine_executions) == {"source", "checker", "sink"}
    assert tracker.routine_executions["source"][0]["params"] == {"count": 3}
    assert statuses(job, "checker") == [(0, "completed"), (1, "completed"), (2, "completed")]
    assert len(tracker.routine_executions["sink"]) == 3
    for records in tracker.routine_executions.values():
        for record in records:
            start = datetime.fromisoformat(record["start_time"])
            end = datetime.fromisoformat(record["end_time"])
            assert start.utcoffset() == end.utcoffset() == timedelta(0)
            # The texts are to the microsecond.
            elapsed = (end - start).total_seconds()
            assert record["execution_time"] == pytest.approx(elapsed, abs=2e-6)


@pytest.mark.parametrize(
    ("policy", "status"),
    [
        (ErrorHandler(strategy=ErrorStrategy.CONTINUE), "error_continued"),
        (ErrorHandler(strategy=ErrorStrategy.SKIP), "skipped"),
    ],
)
def test_a_failed_attempt_ends_with_the_status_of_the_policys_action(
    flows: list[Flow],
    strategy: str,
    checker_class: type[Checker],
    policy: ErrorHandler,
    status: str,
) -> None:
    job = run(flows, build(strategy, checker_class(), policy), count=3)
    assert job.status == "completed"
    assert statuses(job, "checker") == [(0, "completed"), (1, status), (2, "completed")]
    failed = next(r for r in tracker_of(job).routine_executions["checker"] if r["status"] == status)
    assert failed["error"] == "attempt 1 on one"
    assert failed["execution_time"] >= 0


def test_a_failure_that_stops_the_job_ends_failed(
    flows: list[Flow], strategy: str, checker_class: type[Checker]
) -> None:
    job = run(flows, build(strategy, checker_class()), count=2)
    assert job.status == "failed"
    assert (1, "failed") in statuses(job, "checker")


def test_each_retry_is_a_record_of_its_own(
    flows: list[Flow], strategy: str, checker_class: type[Checker]
) -> None:
    policy = ErrorHandler(strategy=ErrorStrategy.RETRY, max_retries=2, retry_delay=0.0)
    job = run(flows, build(strategy, checker_class(failures=1), policy), count=2)
    assert job.status == "completed"
    assert statuses(job, "checker") == [(0, "completed"), (1, "completed"), (1, "failed")]
    performance = tracker_of(job).get_routine_performance("checker")
    assert performance is not None
    assert (performance["completed"], performance["failed"]) == (2, 1)


class Slow(Routine):
    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release
        self.define_slot("input", handler=self.wait)
        self.define_event("ok", ["n"])

    def wait(self, n: int) -> None:
        self.release.wait(5)
        self.emit("ok", n=n)


def test_a_handler_past_its_routines_timeout_ends_failed_and_stays_so(
    flows: list[Flow], strategy: str
) -> None:
    release = threading.Event()
    slow = Slow(release)
    slow.set_timeout(0.05)
    slow.set_error_handler(ErrorHandler(strategy=ErrorStrategy.CONTINUE))
    flow = Flow(execution_strategy=strategy, track_execution=True)
    flow.add_routine(Source(), "source")
    flow.add_routine(slow, "slow")
    flow.connect("source", "out", "slow", "input")
    job = run(flows, flow, count=1)
    release.set()  # The abandoned handler returns now, and emits too late.
    for thread in threading.enumerate():
        if thread.name == "routilux-handler-slow":
            thread.join(5)
    (record,) = tracker_of(job).routine_executions["slow"]
    assert record["status"] == "error_continued"
    assert "timeout" in record["error"]
    assert tracker_of(job).event_flow[1:] == []


# -- emits ----------------------------------------------------------------------------------


def test_every_emit_records_an_event_with_its_targets(
    flows: list[Flow], strategy: str, checker_class: type[Checker]
) -> None:
    flow = build(strategy, checker_class(failures=0))
    flow.add_routine(Sink(), "audit")
    flow.connect("source", "out", "audit", "input")
    job = run(flows, flow, count=2, note=True)
    events = tracker_of(job).event_flow
    source_events = [e for e in events if e["source_routine_id"] == "source"]
    assert [(e["event_name"], e["data"]) for e in source_events] == [
        ("out", {"n": 0}),
        ("out", {"n": 1}),
        ("note", {"text": "sent"}),
    ]
    out = source_events[0]
    assert (out["target_routine_id"], out["target_routine_ids"]) == (
        "checker",
        ["checker", "audit"],
    )
    note = source_events[2]
    assert (note["target_routine_id"], note["target_routine_ids"]) == (None, [])
    checker_events = sorted(
        (e["data"]["n"], e["target_routine_ids"])
        for e in events
        if e["source_routine_id"] == "checker"
    )
    assert checker_events == [(0, ["sink"]), (1, ["sink"])]
    for event in events:
        assert datetime.fromisoformat(event["timestamp"]).utcoffset() == timedelta(0)


def test_a_routine_connected_by_two_slots_is_listed_once(flows: list[Flow]) -> None:
    flow = build()
    sink = flow.routines["sink"]
    sink.define_slot("again", handler=sink.take)  # type: ignore[attr-defined]
    flow.connect("checker", "ok", "sink", "again")
    job = run(flows, flow, count=1)
    (event,) = [e for e in tracker_of(job).event_flow if e["source_routine_id"] == "checker"]
    assert event["target_routine_ids"] == ["sink"]


def test_the_emits_of_a_failed_attempt_are_not_recorded(
    flows: list[Flow], strategy: str, checker_class: type[Checker]
) -> None:
    policy = ErrorHandler(strategy=ErrorStrategy.CONTINUE)
    job = run(flows, build(strategy, checker_class(), policy), count=3)
    emitted = sorted(
        e["data"]["n"] for e in tracker_of(job).event_flow if e["source_routine_id"] == "checker"
    )
    assert emitted == [0, 2]
    assert sorted(r.data["n"] for r in job.execution_history if r.routine_id == "checker") == [0, 2]


class Canceller(Routine):
    """Cancels its own job, then returns or raises."""

    def __init__(self, raise_after: bool) -> None:
        super().__init__()
        self.raise_after = raise_after
        self.define_slot("input", handler=self.cancel_job)

    def cancel_job(self, n: int) -> None:
        context = self.get_execution_context()
        context.flow.cancel(context.job_state, "enough")
        if self.raise_after:
            raise RuntimeError("raised after the cancel")


@pytest.mark.parametrize(
    ("raise_after", "status"), [(False, "completed"), (True, "failed")], ids=["returns", "raises"]
)
def test_an_attempt_that_ends_after_its_job_did_is_still_ended(
    flows: list[Flow], strategy: str, raise_after: bool, status: str
) -> None:
    flow = Flow(execution_strategy=strategy, track_execution=True)
    flow.add_routine(Source(), "source")
    flow.add_routine(Canceller(raise_after), "canceller")
    flow.connect("source", "out", "canceller", "input")
    job = run(flows, flow, count=1)
    assert job.status == "cancelled"
    (record,) = tracker_of(job).routine_executions["canceller"]
    assert record["status"] == status
    assert record.get("error") == ("raised after the cancel" if raise_after else None)
